"""The two-part multipart/mixed body of a batch direct send, read as tolerantly as the SDKs write it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from local.nh_emulator.wire import EmulatorError
from shared.domain import strict_json

__all__ = ["MAX_BATCH_HANDLES", "BatchBody", "parse_batch"]

MAX_BATCH_HANDLES = 1000
# JS writes `boundary = "nh-boundary-…"` (spaces, quotes); .NET/Java `boundary=nh-batch-multipart-boundary`.
_BOUNDARY = re.compile(r"""boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))""", re.IGNORECASE)
_NAME = re.compile(r"""name\s*=\s*"?([A-Za-z]+)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class BatchBody:
    """The notification part and the device handles."""

    content_type: str
    notification: bytes
    handles: list[str]


def _invalid(detail: str) -> EmulatorError:
    return EmulatorError(400, detail)


def _split_part(part: bytes) -> tuple[dict[str, str], bytes]:
    part = part[2:] if part.startswith(b"\r\n") else part[1:] if part.startswith(b"\n") else part
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = part.partition(separator)
        if found:
            break
    else:
        raise _invalid("A multipart part has no blank line after its headers")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()  # `Content-type` (JS) and `Content-Type` alike
    for ending in (b"\r\n", b"\n"):
        if body.endswith(ending):
            body = body[: -len(ending)]
            break
    return headers, body


def parse_batch(content_type: str, body: bytes) -> BatchBody:
    """Split a batch body into its notification and device parts.

    Raises EmulatorError (400) when the content type, boundary, parts or handle list are malformed.
    """
    if not content_type.lower().startswith("multipart/"):
        raise _invalid("A batch send must be multipart/mixed")
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise _invalid("The multipart content type has no boundary")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    chunks = body.split(delimiter)
    parts = [_split_part(chunk) for chunk in chunks[1:] if not chunk.startswith(b"--") and chunk.strip()]
    named: dict[str, tuple[dict[str, str], bytes]] = {}
    for index, (headers, content) in enumerate(parts):
        match = _NAME.search(headers.get("content-disposition", ""))
        name = match.group(1).lower() if match else ("notification", "devices")[min(index, 1)]
        named[name] = (headers, content)
    if "notification" not in named or "devices" not in named:
        raise _invalid("A batch send needs a 'notification' part and a 'devices' part")
    try:
        handles = strict_json.loads(named["devices"][1])
    except strict_json.UnsafeJsonError as exc:
        raise _invalid(f"The devices part is not a JSON array: {exc}") from None
    if not isinstance(handles, list) or not all(isinstance(h, str) and h for h in handles) or not handles:
        raise _invalid("The devices part must be a non-empty JSON array of handles")
    if len(handles) > MAX_BATCH_HANDLES:
        raise _invalid(f"A batch send accepts at most {MAX_BATCH_HANDLES} handles")
    headers, notification = named["notification"]
    return BatchBody(headers.get("content-type", ""), notification, handles)
