"""Call function_app's functions in process with the input the Functions host would give them: built and decoded
by the dev host's worker_input (azure.functions' own converters), so in-process tiers see what Azure hands over."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from local.devhost.worker_input import BrokerMessage, decode, http_input, service_bus_input

__all__ = ["call_http", "service_bus_message"]


def service_bus_message(
    body: bytes,
    *,
    message_id: str,
    content_type: str | None = None,
    subject: str | None = None,
    application_properties: Mapping[str, Any] | None = None,
    delivery_count: int = 1,
) -> func.ServiceBusMessage:
    """The func.ServiceBusMessage a first delivery of this message gives a single-message trigger."""
    message = BrokerMessage(
        message_id=message_id,
        body=body,
        delivery_count=delivery_count,
        sequence_number=1,
        enqueued_time=datetime.now(UTC),
        lock_token="00000000-0000-0000-0000-000000000000",
        content_type=content_type,
        subject=subject,
        application_properties=dict(application_properties or {}),
    )
    decoded: func.ServiceBusMessage = decode("serviceBusTrigger", *service_bus_input(message))
    return decoded


async def call_http(
    function: Any,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    route_params: Mapping[str, str] | None = None,
    json_body: Any = None,
) -> func.HttpResponse:
    """Await an HTTP function's user function with the request the host would build for ``method /api/{path}``."""
    body = b"" if json_body is None else json.dumps(json_body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})} if json_body is not None else headers
    data = http_input(
        method=method,
        url=f"http://localhost:7071/api/{path}",
        headers=list((all_headers or {}).items()),
        query=[],
        route_params=dict(route_params or {}),
        body=body,
    )
    response: func.HttpResponse = await function.build().get_user_function()(decode("httpTrigger", data))
    return response
