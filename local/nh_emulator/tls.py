"""A self-signed CA and server certificate (trustme) for clients that insist on https (.NET, Java)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["TlsFiles", "write_certificates"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA clients must trust, and the server's certificate chain and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def write_certificates(directory: Path | None, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Issue a certificate for ``hosts`` from a new CA and write the PEM files to ``directory`` (or a temp dir)."""
    target = directory or Path(tempfile.mkdtemp(prefix="nh-emulator-tls-"))
    target.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="Enterprise Push NH emulator")
    certificate = authority.issue_cert(*hosts)
    files = TlsFiles(target / "ca.pem", target / "server.pem", target / "server.key")
    authority.cert_pem.write_to_path(str(files.ca_file))
    certificate.private_key_pem.write_to_path(str(files.key_file))
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in certificate.cert_chain_pems))
    return files
