"""PUT, PATCH, GET and DELETE /{hub}/installations/{installationId}."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from local.nh_emulator.auth import authorize
from local.nh_emulator.config import Right
from local.nh_emulator.context import api_version, emulator_of, read_body
from local.nh_emulator.installations import normalize_installation
from local.nh_emulator.patch import apply_patch
from local.nh_emulator.wire import EmulatorError, nh_response
from shared.domain import strict_json

__all__ = ["delete_installation", "get_installation", "patch_installation", "put_installation"]

# Installations are single-device operations: a Listen key (a device's key) may do all of them.
_DEVICE_RIGHTS = frozenset({Right.LISTEN, Right.MANAGE})


async def _json_body(request: Request) -> object:
    body = await read_body(request)
    try:
        return strict_json.loads(body)
    except strict_json.UnsafeJsonError as exc:  # also too deep, duplicate names, not UTF-8
        raise EmulatorError(400, f"The request body is not valid JSON: {exc}") from None


def _start(request: Request) -> str:
    emulator = emulator_of(request)
    authorize(request, emulator.config, _DEVICE_RIGHTS)
    api_version(request)
    return str(request.path_params["installation_id"])


async def put_installation(request: Request) -> Response:
    """Create or overwrite: 200 with an empty body."""
    installation_id = _start(request)
    max_tags = emulator_of(request).config.max_tags_per_installation
    installation = normalize_installation(await _json_body(request), installation_id, max_tags=max_tags)
    emulator_of(request).state.put_installation(installation)
    return nh_response(request, 200)


async def patch_installation(request: Request) -> Response:
    """JSON-Patch subset: 200 with an empty body; 404 when the installation does not exist."""
    installation_id = _start(request)
    operations = await _json_body(request)
    emulator = emulator_of(request)
    state = emulator.state
    current = state.latest(installation_id)
    if current is None:
        raise EmulatorError(404, "Installation not found")
    state.put_installation(apply_patch(current, operations, max_tags=emulator.config.max_tags_per_installation))
    return nh_response(request, 200)


async def get_installation(request: Request) -> Response:
    """200 with the JSON body (under NH's application/xml content type, as recorded), or 404."""
    installation_id = _start(request)
    installation = emulator_of(request).state.get(installation_id)
    if installation is None:
        raise EmulatorError(404, "Installation not found")
    return nh_response(request, 200, json.dumps(installation, separators=(",", ":")))


async def delete_installation(request: Request) -> Response:
    """204, also when the installation does not exist."""
    installation_id = _start(request)
    emulator_of(request).state.delete_installation(installation_id)
    return nh_response(request, 204)
