"""The API's contract as pydantic models: request bodies (validated), response bodies (rendered with) and the
shared value types. shared.api.openapi generates the OpenAPI document from these models."""

from __future__ import annotations

from shared.api.schemas.devices import InstallationRequest, PreferencesRequest, QuietHoursRequest
from shared.api.schemas.events import AcceptedEvent, CatalogDocument, cloud_event_schemas
from shared.api.schemas.operators import DeadLetterItem, DeadLetterList, ReplayResult
from shared.api.schemas.problems import HealthReport, Liveness, Problem
from shared.api.schemas.views import InstallationList, InstallationView, NotificationOutcomeView, PreferencesView

__all__ = [
    "AcceptedEvent",
    "CatalogDocument",
    "DeadLetterItem",
    "DeadLetterList",
    "HealthReport",
    "InstallationList",
    "InstallationRequest",
    "InstallationView",
    "Liveness",
    "NotificationOutcomeView",
    "PreferencesRequest",
    "PreferencesView",
    "Problem",
    "QuietHoursRequest",
    "ReplayResult",
    "cloud_event_schemas",
]
