"""A small function app for the dev host tests: HTTP routes, a timer and Service Bus topic triggers."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import azure.functions as func

from shared.domain.records import OutgoingMessage

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
_bus: dict[str, Any] = {}
_records_lock = threading.Lock()


def use_bus(publisher: Any, dead_letters: Any) -> None:
    """What shared.composition.root.use_bus does for the real app: remember the injected bus."""
    _bus["publisher"] = publisher
    _bus["dead_letters"] = dead_letters


def record(**fields: Any) -> None:
    """Append one JSON line to the records file the tests read."""
    with _records_lock, open(os.environ["SAMPLE_RECORDS"], "a", encoding="utf-8") as out:
        out.write(json.dumps(fields, default=str) + "\n")


def _json(value: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET"])
async def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": req.route_params["id"], "kind": "int"})


@app.route(route="items/{id:guid}", methods=["GET"])
async def get_item_by_guid(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": req.route_params["id"], "kind": "guid"})


@app.route(route="items/{id}", methods=["DELETE"])
def delete_item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@app.route(route="echo/{name?}", methods=["POST", "PUT"])
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "route": dict(req.route_params),
            "query": dict(req.params),
            "header": req.headers.get("x-sample"),
            "body": req.get_body().decode(),
            "function": context.function_name,
        }
    )


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"path": req.route_params.get("path"), "thread": threading.current_thread().name})


@app.route(route="boom")
async def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom")


@app.route(route="publish/{topic}", methods=["POST"])
async def publish(req: func.HttpRequest) -> func.HttpResponse:
    payload = req.get_json()
    message = OutgoingMessage(
        message_id=payload["id"],
        subject=payload.get("subject", "sample"),
        content_type="application/json",
        body=json.dumps(payload).encode(),
        application_properties=payload.get("properties", {}),
    )
    await _bus["publisher"].publish(req.route_params["topic"], [message])
    return func.HttpResponse(status_code=202)


@app.route(route="publish-batch/{topic}", methods=["POST"])
async def publish_batch(req: func.HttpRequest) -> func.HttpResponse:
    """Publish several messages in one call (one transaction on the local bus)."""
    messages = [
        OutgoingMessage(
            message_id=payload["id"],
            subject="sample",
            content_type="application/json",
            body=json.dumps(payload).encode(),
            application_properties=payload.get("properties", {}),
        )
        for payload in req.get_json()
    ]
    await _bus["publisher"].publish(req.route_params["topic"], messages)
    return func.HttpResponse(status_code=202)


@app.route(route="deadletters", methods=["GET"])
async def dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    found = await _bus["dead_letters"].list_dead_letters()
    return _json([{"id": d.id, "message_id": d.message_id, "reason": d.reason} for d in found])


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    record(function="tick", past_due=timer.past_due)


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="orders", subscription_name="%ORDERS_SUB%", connection="ServiceBusConnection"
)
async def on_order(msg: func.ServiceBusMessage) -> None:
    payload = json.loads(msg.get_body())
    count = msg.delivery_count or 0
    record(
        function="on_order",
        message_id=msg.message_id,
        delivery_count=count,
        subject=msg.subject,
        properties=msg.application_properties,
        sequence_number=msg.sequence_number,
    )
    if payload.get("sleep") and count == 1:
        await asyncio.sleep(float(payload["sleep"]))
    if count <= int(payload.get("fail", 0)):
        raise RuntimeError(f"failing on delivery {count}")


@app.function_name("hr_sync")
@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="hr", subscription_name="push", connection="ServiceBusConnection"
)
def on_hr(msg: func.ServiceBusMessage) -> None:
    time.sleep(0.01)
    record(function="hr_sync", message_id=msg.message_id, delivery_count=msg.delivery_count)


@app.service_bus_topic_trigger(
    arg_name="batch",
    topic_name="accounts",
    subscription_name="push",
    connection="ServiceBusConnection",
    cardinality=func.Cardinality.MANY,
)
async def accounts_batch(batch: list[func.ServiceBusMessage]) -> None:
    record(
        function="accounts_batch",
        message_ids=[msg.message_id for msg in batch],
        delivery_counts=[msg.delivery_count for msg in batch],
    )
    if any((msg.delivery_count or 0) <= int(json.loads(msg.get_body()).get("fail", 0)) for msg in batch):
        raise RuntimeError("failing the whole batch")
