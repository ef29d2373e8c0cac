"""Operator routes: list quarantined and dead-lettered events with their reasons, replay one after a fix."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.runtime import authenticate
from shared.api.schemas import DeadLetterItem, DeadLetterList, ReplayResult
from shared.composition.services import Services
from shared.domain import strict_json
from shared.domain.errors import NotFoundError
from shared.domain.events import event_key
from shared.domain.identity import require_role
from shared.domain.publishing import replay_message_id
from shared.domain.records import DeadLetteredMessage, OutgoingMessage, QuarantinedMessage

__all__ = ["PUSH_ADMIN_ROLE", "list_dead_letters", "replay_dead_letter"]

PUSH_ADMIN_ROLE = "push.admin"
BODY_PREVIEW_BYTES = 4096


async def list_dead_letters(request: ApiRequest, services: Services) -> ApiResponse:
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    quarantined = [_quarantine_view(item) for item in await services.quarantine.list()]
    dead_lettered = [_dead_letter_view(item) for item in await services.dead_letters.list_dead_letters()]
    return json_response(DeadLetterList(items=quarantined + dead_lettered).wire())


async def replay_dead_letter(request: ApiRequest, services: Services) -> ApiResponse:
    """Re-publish one quarantined or dead-lettered message to its topic. Raises NotFoundError."""
    require_role(authenticate(request, services), PUSH_ADMIN_ROLE)
    item_id = request.route_params.get("id", "")
    if item_id.startswith("q-"):
        return json_response((await _replay_quarantined(services, item_id)).wire(), status=202)
    replayed = await services.dead_letters.replay(_bus_id(item_id))
    return json_response(ReplayResult(id=item_id, kind="deadletter", topic=replayed.topic, replayed=True).wire(), 202)


async def _replay_quarantined(services: Services, item_id: str) -> ReplayResult:
    item = await services.quarantine.get(item_id)
    if item is None:
        raise NotFoundError(f"no quarantined message {item_id!r}")
    key = _event_key(item.body)
    if key:
        # A permanent NH refusal finished the delivery; the operator fixed the cause, so deliver it anew.
        await services.deliveries.forget(key, item.subscription)
    now = services.now()
    message_id = replay_message_id(item.message_id or key or item.id)
    await services.publisher.publish(
        item.topic,
        [
            OutgoingMessage(
                message_id=message_id,
                subject=item.subject or "",
                content_type=item.content_type or "application/cloudevents+json",
                body=item.body,
                application_properties=dict(item.application_properties),
            )
        ],
    )
    await services.quarantine.mark_replayed(item.id, now)
    return ReplayResult(id=item.id, kind="quarantine", topic=item.topic, replayed=True, message_id=message_id)


def _event_key(body: bytes) -> str | None:
    """The delivery-log key (``source#id``) of the event in a quarantined body, when it has both."""
    try:
        parsed = strict_json.loads(body)
    except strict_json.UnsafeJsonError:  # a quarantined body may be anything; replay it without an event id
        return None
    if not isinstance(parsed, dict):
        return None
    source, event_id = parsed.get("source"), parsed.get("id")
    if isinstance(source, str) and source and isinstance(event_id, str) and event_id:
        return event_key(source, event_id)
    return None


def _api_id(bus_id: str) -> str:
    return "d-" + base64.urlsafe_b64encode(bus_id.encode()).decode().rstrip("=")


def _bus_id(api_id: str) -> str:
    if not api_id.startswith("d-"):
        raise NotFoundError(f"no dead-lettered or quarantined message {api_id!r}")
    encoded = api_id[2:]
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise NotFoundError(f"no dead-lettered message {api_id!r}") from exc


def _preview(body: bytes) -> str:
    return body[:BODY_PREVIEW_BYTES].decode("utf-8", errors="replace")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _view(
    item: QuarantinedMessage | DeadLetteredMessage,
    *,
    item_id: str,
    kind: Literal["quarantine", "deadletter"],
    at: datetime | None,
    replayed_at: datetime | None = None,
) -> DeadLetterItem:
    """The fields quarantined and dead-lettered messages share, as the listing shows them."""
    return DeadLetterItem(
        id=item_id,
        kind=kind,
        topic=item.topic,
        subscription=item.subscription,
        message_id=item.message_id,
        reason=item.reason,
        description=item.description,
        subject=item.subject,
        at=_iso(at),
        replayed_at=_iso(replayed_at),
        body=_preview(item.body),
    )


def _quarantine_view(item: QuarantinedMessage) -> DeadLetterItem:
    return _view(item, item_id=item.id, kind="quarantine", at=item.quarantined_at, replayed_at=item.replayed_at)


def _dead_letter_view(item: DeadLetteredMessage) -> DeadLetterItem:
    return _view(item, item_id=_api_id(item.id), kind="deadletter", at=item.enqueued_time)
