"""The registration floor: a function doing only the I/O a device registration cannot avoid.

One NH installation PUT (the same installation body the app would build: ``desired_installation``, through the
project's NH client) and one Tables upsert (azure-data-tables, the SDK the app uses), run by the same dev host as the
app (``python -m local.devhost --app bench.registration_floor``). No ownership check, no preferences, no pending /
active mirror: what is left is the cost of the dev host, the two round trips and the SDKs. Benchmark 3 measures it
beside the app's registration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient

from shared.domain.identity import Identity
from shared.domain.records import Platform
from shared.notification_hubs.client import NotificationHubsClient
from shared.usecases.registration import desired_installation

TABLE = "benchfloor"

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


class _Clients:
    """One NH client and one TableClient for the process, made on first use (as the app's services)."""

    def __init__(self) -> None:
        self._ready: tuple[NotificationHubsClient, TableClient] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> tuple[NotificationHubsClient, TableClient]:
        async with self._lock:
            if self._ready is None:
                nh = NotificationHubsClient(os.environ["PUSH_NH_CONNECTION_STRING"], os.environ["PUSH_NH_HUB_NAME"])
                table = TableClient.from_connection_string(os.environ["PUSH_TABLES_CONNECTION_STRING"], TABLE)
                with contextlib.suppress(ResourceExistsError):
                    await table.create_table()
                self._ready = (nh, table)
            return self._ready


_clients = _Clients()


@app.route(route="installations/{installationId}", methods=["PUT"])
async def register_device(req: func.HttpRequest) -> func.HttpResponse:
    """PUT the NH installation, upsert one row, answer 200 with the row."""
    nh, table = await _clients.get()
    body = req.get_json()
    installation_id = req.route_params["installationId"]
    user = req.headers.get("x-dev-user", "anonymous")
    platform = Platform(body["platform"])
    installation = desired_installation(
        Identity(user_id=user), installation_id, platform, body["pushChannel"], body["language"], body["interests"]
    )
    await nh.create_or_update_installation(installation)
    row = {
        "PartitionKey": user,
        "RowKey": installation_id,
        "platform": platform.value,
        "pushChannel": body["pushChannel"],
        "language": body["language"],
    }
    await table.upsert_entity(row)
    return func.HttpResponse(json.dumps(row), status_code=200, mimetype="application/json")
