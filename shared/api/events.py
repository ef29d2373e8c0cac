"""Routes for LoB systems that speak HTTPS: publish a CloudEvent, read the event catalog."""

from __future__ import annotations

from shared.api.http import ApiRequest, ApiResponse, UnsupportedMediaTypeError, json_response
from shared.api.runtime import authenticate
from shared.api.schemas import AcceptedEvent, CatalogDocument
from shared.composition.correlation import invocation, trace_properties
from shared.composition.services import Services
from shared.domain.catalog import catalog_document
from shared.domain.events import parse_cloud_event
from shared.domain.identity import require_role
from shared.domain.publishers import require_source
from shared.domain.publishing import to_outgoing_message, topic_for

__all__ = ["LOB_PUBLISHER_ROLE", "get_catalog", "post_event"]

LOB_PUBLISHER_ROLE = "lob.publisher"
_ACCEPTED_CONTENT_TYPES = {"application/cloudevents+json", "application/json"}


async def post_event(request: ApiRequest, services: Services) -> ApiResponse:
    """Validate a structured-mode CloudEvent against the catalog and publish it to its topic: 202 + event id.

    The caller needs the role lob.publisher and a scope for the event's source (LOB_PUBLISHER_SOURCES): 403
    otherwise. An invalid event, or one linking outside its system's allowlist, is a 400 problem.
    """
    identity = authenticate(request, services)
    require_role(identity, LOB_PUBLISHER_ROLE)
    content_type = request.header("content-type")
    if (content_type or "").split(";")[0].strip().lower() not in _ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaTypeError("send a structured-mode CloudEvent as application/cloudevents+json")
    event = parse_cloud_event(request.body, content_type)
    require_source(identity, event.source, services.settings.publisher_scopes)
    topic = topic_for(event.type)
    # The request's traceparent is already the current span's parent; without one, the CloudEvent's own
    # (Distributed Tracing extension) names the trace the event belongs to.
    extension = event.raw.get("traceparent")
    carrier = {} if request.header("traceparent") or not isinstance(extension, str) else {"traceparent": extension}
    with invocation(f"publish {topic}", carrier, event_id=event.id, kind="producer"):
        await services.publisher.publish(topic, [to_outgoing_message(event.raw, trace_properties())])
    return json_response(AcceptedEvent(id=event.id, type=event.type, topic=topic).wire(), status=202)


async def get_catalog(request: ApiRequest, services: Services) -> ApiResponse:
    require_role(authenticate(request, services), LOB_PUBLISHER_ROLE)
    return json_response(CatalogDocument.model_validate(catalog_document()).wire())
