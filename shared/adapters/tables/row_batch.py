"""The framing of an entity-group transaction (``POST {account}/$batch``) as the Tables REST API documents it: one
change set inside a ``multipart/mixed`` batch, each operation an ``application/http`` part; the answer is a
multipart batch too, whose change set holds one HTTP answer per operation when all succeeded, or the one that failed
(its error message starts with the failed operation's index, ``"1:The specified entity already exists."``).

Pure functions: ``TableRowWriter.transact`` sends what :func:`encode_changeset` builds and reads the answer with
:func:`decode_changeset`. Hand-written because the SDK builds and parses these bodies with the standard library's
``email`` package, which cost the push function more CPU than the rest of an in-app delivery (docs/architecture.md).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

__all__ = ["BatchPart", "PartAnswer", "decode_changeset", "encode_changeset"]

_BOUNDARY = re.compile(r'boundary="?([^";\s]+)"?', re.IGNORECASE)
_BLANK_LINE = re.compile(r"\r?\n\r?\n")
_STATUS_LINE = re.compile(r"HTTP/1\.[01] (\d{3})")
_INDEX = re.compile(r"(\d+):")


@dataclass(frozen=True, slots=True)
class BatchPart:
    """One operation of the change set: an HTTP request to an entity URL of the table."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PartAnswer:
    """One operation's answer. ``index``: the operation the service names in a failure's message, when it does."""

    status: int
    etag: str | None = None
    error_code: str | None = None
    index: int | None = None


def encode_changeset(parts: Sequence[BatchPart]) -> tuple[str, bytes]:
    """The batch request's Content-Type and body for one change set of ``parts``, in order."""
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    chunks = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()]
    for content_id, part in enumerate(parts):
        # Each operation is the request it would be alone (the service's documentation), so it carries its length.
        fields = {**part.headers, "Content-Length": str(len(part.body))}
        headers = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
        chunks.append(
            f"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {content_id}\r\n\r\n{part.method} {part.url} HTTP/1.1\r\n{headers}\r\n".encode()
        )
        chunks.append(part.body + b"\r\n")
    chunks.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n".encode())
    return f"multipart/mixed; boundary={batch}", b"".join(chunks)


def decode_changeset(content_type: str, body: bytes) -> list[PartAnswer]:
    """The answers in the change set of a batch answer, in order. Raises ValueError when the body is not a batch
    answer with a change set of HTTP answers."""
    outer = _parts(body.decode("utf-8"), _boundary(content_type))[0]
    headers, changeset = _split(outer)
    return [_answer(part) for part in _parts(changeset, _boundary(headers.get("content-type", "")))]


def _boundary(content_type: str) -> str:
    found = _BOUNDARY.search(content_type)
    if found is None or not content_type.lower().startswith("multipart/mixed"):
        _fail(f"not a multipart/mixed content type: {content_type[:80]!r}")
    return found.group(1)


def _parts(text: str, boundary: str) -> list[str]:
    """The parts between ``--boundary`` lines, without the preamble and the closing delimiter's epilogue."""
    delimiter = f"--{boundary}"
    pieces = text.split(delimiter)
    if len(pieces) < 3:
        _fail(f"the boundary {boundary!r} does not delimit any part")
    return [piece.removeprefix("\r\n").removeprefix("\n") for piece in pieces[1:-1]]


def _split(part: str) -> tuple[dict[str, str], str]:
    """A MIME part's (or HTTP message's) header fields, lower-cased names, and what follows the blank line."""
    split = _BLANK_LINE.search(part)
    head, rest = (part[: split.start()], part[split.end() :]) if split else (part, "")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    return fields, rest


def _answer(part: str) -> PartAnswer:
    _, message = _split(part)
    status = _STATUS_LINE.match(message)
    if status is None:
        _fail("a change set part holds no HTTP answer")
    line_end = message.find("\n")
    headers, content = _split(message[line_end + 1 :] if line_end >= 0 else "")
    code, index = _error_of(content.strip()) if int(status.group(1)) >= 300 else (None, None)
    return PartAnswer(int(status.group(1)), headers.get("etag"), headers.get("x-ms-error-code") or code, index)


def _error_of(content: str) -> tuple[str | None, int | None]:
    """The OData error's code and the operation index its message starts with; (None, None) when unreadable."""
    try:
        error = json.loads(content)["odata.error"]
        message = error.get("message", {}).get("value", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    index = _INDEX.match(message) if isinstance(message, str) else None
    return (str(error["code"]) if error.get("code") else None), (int(index.group(1)) if index else None)


def _fail(reason: str) -> NoReturn:
    raise ValueError(f"unreadable batch answer: {reason}")
