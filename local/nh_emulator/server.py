"""A uvicorn server for the emulator (plain http, or https with a self-signed certificate)."""

from __future__ import annotations

import uvicorn

from local.nh_emulator.app import create_app
from local.nh_emulator.config import EmulatorConfig
from local.nh_emulator.tls import TlsFiles, write_certificates

__all__ = ["build_server"]


def build_server(
    config: EmulatorConfig, host: str, port: int, *, log_level: str = "info"
) -> tuple[uvicorn.Server, TlsFiles | None]:
    """The server for ``config`` and, when https is on, the TLS files it uses (clients trust ``ca_file``)."""
    tls = write_certificates(config.tls_dir) if config.https else None
    uvicorn_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )
    return uvicorn.Server(uvicorn_config), tls
