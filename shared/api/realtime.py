"""Routes of real-time delivery: SignalR negotiate for the signed-in caller, and the caller's notification inbox."""

from __future__ import annotations

from shared.api.cors import with_cors
from shared.api.http import ApiRequest, ApiResponse, json_response
from shared.api.realtime_schemas import InboxItem, InboxPageResponse, InboxQuery, NegotiateResponse
from shared.api.runtime import authenticate
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.errors import UpstreamUnavailableError
from shared.ports import InboxStore
from shared.usecases import inbox as inbox_cases

__all__ = ["get_my_notifications", "negotiate", "post_notification_read", "post_notification_seen"]


def _inbox(services: Services) -> InboxStore:
    if services.inbox is None:
        raise UpstreamUnavailableError("the notification inbox is not configured")
    return services.inbox


async def _negotiate(request: ApiRequest, services: Services) -> ApiResponse:
    """The user id comes from the identity only; nothing in the request can name another user."""
    identity = authenticate(request, services)
    connection = await inbox_cases.connection_for(identity, services.realtime)
    return json_response(NegotiateResponse.of(connection).model_dump(by_alias=True))


async def _list(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    query = validate_model(InboxQuery, dict(request.query), what="the query")
    page = await inbox_cases.list_notifications(
        _inbox(services), identity, limit=query.limit, cursor=query.cursor, now=services.now()
    )
    return json_response(InboxPageResponse.of(page).model_dump(mode="json", by_alias=True))


async def _seen(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    entry = await inbox_cases.mark_seen(_inbox(services), identity, request.route_params.get("id", ""), services.now())
    return json_response(InboxItem.of(entry).model_dump(mode="json", by_alias=True))


async def _read(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    entry = await inbox_cases.mark_read(_inbox(services), identity, request.route_params.get("id", ""), services.now())
    return json_response(InboxItem.of(entry).model_dump(mode="json", by_alias=True))


negotiate = with_cors(_negotiate, "POST")
get_my_notifications = with_cors(_list, "GET")
post_notification_seen = with_cors(_seen, "POST")
post_notification_read = with_cors(_read, "POST")
