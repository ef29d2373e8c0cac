"""The registration floor function of the benchmarks: one NH installation PUT and one Tables row, nothing else."""

from __future__ import annotations

import json

import azure.functions as func
import httpx
import pytest

from bench import registration_floor
from local.nh_emulator.config import FULL_RULE_NAME, WELL_KNOWN_FULL_KEY, connection_string


@pytest.fixture
def floor_env(monkeypatch, azurite_tables, emulator_url, emulator_config):
    monkeypatch.setenv(
        "PUSH_NH_CONNECTION_STRING", connection_string(emulator_url, FULL_RULE_NAME, WELL_KNOWN_FULL_KEY)
    )
    monkeypatch.setenv("PUSH_NH_HUB_NAME", emulator_config.hub)
    monkeypatch.setenv("PUSH_TABLES_CONNECTION_STRING", azurite_tables)
    monkeypatch.setattr(registration_floor, "_clients", registration_floor._Clients())  # fresh clients per test loop
    return azurite_tables


def put_request(installation_id: str, user: str) -> func.HttpRequest:
    body = {"platform": "fcmv1", "pushChannel": "fcm-token-1", "language": "de", "interests": ["hr"]}
    return func.HttpRequest(
        method="PUT",
        url=f"http://127.0.0.1/api/installations/{installation_id}",
        headers={"x-dev-user": user},
        params={},
        route_params={"installationId": installation_id},
        body=json.dumps(body).encode(),
    )


async def test_the_floor_puts_the_installation_in_nh_and_one_row_in_tables(floor_env, emulator_url):
    response = await registration_floor.register_device(put_request("floor-dev-1", "floor-user"))
    nh, table = await registration_floor._clients.get()
    try:
        assert response.status_code == 200
        async with httpx.AsyncClient() as client:
            stored = (await client.get(f"{emulator_url}_emulator/installations")).json()
        mine = [i for i in stored if i["installationId"] == "floor-dev-1"]
        assert len(mine) == 1
        assert mine[0]["pushChannel"] == "fcm-token-1"
        assert "topic:hr" in mine[0]["tags"]
        assert mine[0]["templates"]  # the same installation body the app builds (templates per language)
        row = await table.get_entity("floor-user", "floor-dev-1")
        assert row["pushChannel"] == "fcm-token-1"
        assert row["language"] == "de"
        assert [e async for e in table.query_entities("RowKey eq 'floor-dev-1'")] == [row]
    finally:
        await nh.aclose()
        await table.close()
