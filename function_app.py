"""Every trigger of the Enterprise Push Function App. Each function: decode the binding, call one handler, map back."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from shared.api import campaigns, console, deliveries, devices, events, health, operators, orders, realtime
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.openapi import openapi_document
from shared.api.pages import shop
from shared.api.runtime import Handler, run_handler
from shared.triggers import campaigns as campaign_timers
from shared.triggers import ledger, pipeline
from shared.triggers import orders as order_triggers
from shared.usecases.delivery import IncomingMessage

# Easy Auth authenticates users in front of the app; function keys identify apps, not people.
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


async def _serve(req: func.HttpRequest, handler: Handler) -> func.HttpResponse:
    response = await run_handler(handler, _to_api_request(req))
    return _to_http_response(response)


def _to_api_request(req: func.HttpRequest) -> ApiRequest:
    return ApiRequest(
        method=req.method.upper(),
        route_params=dict(req.route_params),
        query=_query(req),
        headers={key.lower(): value for key, value in req.headers.items()},
        body=req.get_body() or b"",
    )


def _query(req: func.HttpRequest) -> dict[str, str]:
    """The query values, an empty one included: the host leaves ``name=`` out of ``params``, the URL still has it.
    An empty value is refused like any other the parameter's schema does not admit (no allowEmptyValue)."""
    query = dict(req.params)
    for name, value in parse_qsl(urlsplit(req.url).query, keep_blank_values=True):
        if not value:
            query.setdefault(name, "")
    return query


def _to_http_response(response: ApiResponse) -> func.HttpResponse:
    mimetype = (response.content_type or "text/plain").split(";")[0].strip()
    return func.HttpResponse(
        body=response.body,
        status_code=response.status,
        headers=dict(response.headers),
        mimetype=mimetype,
        charset="utf-8",
    )


@app.route(route="installations/{installationId}", methods=["PUT"])
async def register_device(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.put_installation)


@app.route(route="installations/{installationId}", methods=["GET"])
async def get_device(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.get_installation)


@app.route(route="installations/{installationId}", methods=["DELETE"])
async def unregister_device(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.delete_installation)


@app.route(route="me/installations", methods=["GET"])
async def list_my_devices(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.get_my_installations)


@app.route(route="me/preferences", methods=["GET"])
async def get_my_preferences(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.get_my_preferences)


@app.route(route="me/preferences", methods=["PUT"])
async def update_my_preferences(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.put_my_preferences)


@app.route(route="me/test-notification", methods=["POST"])
async def send_test_notification(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, devices.post_test_notification)


@app.route(route="events", methods=["POST"])
async def publish_event(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, events.post_event)


@app.route(route="events/catalog", methods=["GET"])
async def get_event_catalog(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, events.get_catalog)


@app.route(route="deadletters", methods=["GET"])
async def list_dead_letters(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, operators.list_dead_letters)


@app.route(route="deadletters/{id}/replay", methods=["POST"])
async def replay_dead_letter(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, operators.replay_dead_letter)


@app.route(route="deliveries", methods=["GET"])
async def list_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, deliveries.get_deliveries)


@app.route(route="me/deliveries", methods=["GET"])
async def list_my_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, deliveries.get_my_deliveries)


@app.route(route="console", methods=["GET"])
async def operator_console(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, console.get_console)


@app.route(route="console/summary", methods=["GET"])
async def operator_console_summary(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, console.get_summary)


@app.route(route="console/assets/{name}", methods=["GET"])
async def operator_console_asset(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, console.get_asset)


@app.route(route="console/signin", methods=["GET"])
async def operator_console_signin(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, console.get_signin)


@app.route(route="products", methods=["GET"])
async def list_products(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, orders.get_products)


@app.route(route="orders", methods=["POST"])
async def place_order(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, orders.post_order)


@app.route(route="orders/{orderId}", methods=["GET"])
async def get_order(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, orders.get_one_order)


@app.route(route="me/orders", methods=["GET"])
async def list_my_orders(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, orders.get_my_orders)


@app.route(route="shop", methods=["GET"])
async def shop_page(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, shop.get_shop_page)


@app.route(route="shop/{asset}", methods=["GET"])
async def shop_asset(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, shop.get_shop_asset)


@app.route(route="audience", methods=["GET"])
async def preview_audience(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.get_audience)


@app.route(route="notifications", methods=["POST"])
async def send_notification(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.post_notification)


@app.route(route="notifications", methods=["GET"])
async def list_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.list_notifications)


@app.route(route="notifications/{id}", methods=["GET"])
async def get_notification(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.get_notification)


@app.route(route="notifications/{id}/cancel", methods=["POST"])
async def cancel_notification(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.cancel_notification)


@app.route(route="me/notifications/{id}", methods=["GET"])
async def read_my_notification(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, campaigns.get_my_notification)


# The routes a browser app calls answer CORS preflights themselves (PUSH_CORS_ORIGINS), hence OPTIONS.
@app.route(route="negotiate", methods=["POST", "OPTIONS"])
async def negotiate(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, realtime.negotiate)


@app.route(route="me/notifications", methods=["GET", "OPTIONS"])
async def list_my_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, realtime.get_my_notifications)


@app.route(route="me/notifications/{id}/seen", methods=["POST", "OPTIONS"])
async def mark_notification_seen(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, realtime.post_notification_seen)


@app.route(route="me/notifications/{id}/read", methods=["POST", "OPTIONS"])
async def mark_notification_read(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, realtime.post_notification_read)


@app.route(route="health", methods=["GET"])
async def health_check(req: func.HttpRequest) -> func.HttpResponse:
    return _to_http_response(await health.get_health(_to_api_request(req)))


@app.route(route="health/dependencies", methods=["GET"])
async def check_dependencies(req: func.HttpRequest) -> func.HttpResponse:
    return await _serve(req, health.get_dependencies)


@app.route(route="openapi.json", methods=["GET"])
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return _to_http_response(json_response(openapi_document()))


# One trigger per push subscription of infra/servicebus-topology.json (a test keeps them in step). Single-message
# triggers, settled one by one: returning completes the message; raising abandons it, and the broker redelivers or
# dead-letters it. (Batch triggers were measured and not chosen: a batch waits for its slowest send and is settled
# as a whole; docs/architecture.md.) Each invocation claims and records its delivery with single conditional Tables
# requests (shared/adapters/tables/delivery.py).


def incoming_message(msg: func.ServiceBusMessage, topic: str, subscription: str) -> IncomingMessage:
    return IncomingMessage(
        topic=topic,
        subscription=subscription,
        message_id=msg.message_id,
        body=msg.get_body(),
        content_type=msg.content_type,
        subject=msg.subject,
        application_properties={str(k): str(v) for k, v in (msg.application_properties or {}).items()},
        delivery_count=msg.delivery_count or 1,
        enqueued_time=msg.enqueued_time_utc,
    )


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="hr", subscription_name="push", connection="ServiceBusConnection"
)
async def dispatch_hr_event(msg: func.ServiceBusMessage) -> None:
    await pipeline.deliver(incoming_message(msg, "hr", "push"))


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="finance", subscription_name="push", connection="ServiceBusConnection"
)
async def dispatch_finance_event(msg: func.ServiceBusMessage) -> None:
    await pipeline.deliver(incoming_message(msg, "finance", "push"))


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="accounts", subscription_name="push", connection="ServiceBusConnection"
)
async def dispatch_accounts_event(msg: func.ServiceBusMessage) -> None:
    await pipeline.deliver(incoming_message(msg, "accounts", "push"))


@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="orders", subscription_name="push", connection="ServiceBusConnection"
)
async def dispatch_orders_event(msg: func.ServiceBusMessage) -> None:
    await pipeline.deliver(incoming_message(msg, "orders", "push"))


# Daily at 03:30 UTC: the decision ledger's retention (PUSH_DECISION_RETENTION_DAYS, default 30 days).
@app.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
async def sweep_decision_ledger(timer: func.TimerRequest) -> None:
    await ledger.sweep_decision_ledger()


# The order-processing app's worker: the fulfilment subscription's filter passes only the shop's placed events and
# its scheduled fulfilment steps (infra/servicebus-topology.json).
@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="orders", subscription_name="fulfilment", connection="ServiceBusConnection"
)
async def fulfil_order(msg: func.ServiceBusMessage) -> None:
    await order_triggers.fulfil(incoming_message(msg, "orders", "fulfilment"))


# Relays order outbox rows whose writer could not publish them right away (docs/architecture.md, "Orders").
@app.timer_trigger(schedule="%ORDERS_OUTBOX_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=False)
async def relay_order_outbox(timer: func.TimerRequest) -> None:
    await order_triggers.relay_order_outbox()


# An in-app notification's durable wait: its scheduled fallback message comes due here (shared/usecases/fallback.py).
@app.service_bus_topic_trigger(
    arg_name="msg", topic_name="realtime", subscription_name="fallback", connection="ServiceBusConnection"
)
async def push_unconfirmed_notification(msg: func.ServiceBusMessage) -> None:
    await pipeline.push_if_unseen(incoming_message(msg, "realtime", "fallback"))


# Never run_on_startup: it would fire on every scale-out in Azure. Run it now with POST /admin/functions/{name}.
@app.timer_trigger(schedule="%LOB_SIMULATOR_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=False)
async def simulate_lob_events(timer: func.TimerRequest) -> None:
    await pipeline.publish_simulated_events()


# Campaigns run here, never in the HTTP request: a timer, not Service Bus scheduled messages, because campaign state
# lives in Tables anyway (a scheduled message would be a second copy of "when", written apart from the row it
# belongs to), the same timer follows up telemetry and finishes cancellations, and a crashed run is simply the next
# run's work. Precise send times come from NH's scheduled sends; the timer's period only delays "send now"
# campaigns, by at most one period (docs/architecture.md).
@app.timer_trigger(schedule="%CAMPAIGN_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=False)
async def advance_campaigns(timer: func.TimerRequest) -> None:
    await campaign_timers.advance_campaigns()


@app.timer_trigger(schedule="%INSTALLATION_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def sweep_idle_installations(timer: func.TimerRequest) -> None:
    await campaign_timers.sweep_idle()
