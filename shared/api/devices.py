"""Routes of the registration API: installations, the caller's devices, preferences, test notification."""

from __future__ import annotations

from typing import Any

from shared.api.http import ApiRequest, ApiResponse, json_response, parse_json_object
from shared.api.runtime import authenticate
from shared.api.schemas import InstallationRequest, PreferencesRequest
from shared.api.validation import validate_model
from shared.composition.services import Services
from shared.domain.records import InstallationRecord, Preferences
from shared.usecases import preferences as preference_cases
from shared.usecases import registration
from shared.usecases.send_test_notification import outcome_view, send_test_notification

__all__ = [
    "delete_installation",
    "get_installation",
    "get_my_installations",
    "get_my_preferences",
    "post_test_notification",
    "put_installation",
    "put_my_preferences",
]


async def put_installation(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    installation_id = request.route_params.get("installationId", "")
    body = validate_model(InstallationRequest, parse_json_object(request))
    record = await registration.register_device(services.registration, identity, body.to_command(installation_id))
    return json_response(installation_view(record))


async def get_installation(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    record = await registration.get_device(
        services.registration, identity, request.route_params.get("installationId", "")
    )
    return json_response(installation_view(record))


async def delete_installation(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    await registration.unregister_device(
        services.registration, identity, request.route_params.get("installationId", "")
    )
    return ApiResponse(204)


async def get_my_installations(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    records = await registration.list_devices(services.registration, identity)
    return json_response({"installations": [installation_view(record) for record in records]})


async def get_my_preferences(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    return json_response(preferences_view(await preference_cases.get_preferences(services.registration, identity)))


async def put_my_preferences(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    body = validate_model(PreferencesRequest, parse_json_object(request))
    saved = await preference_cases.update_preferences(services.registration, identity, body.to_command())
    return json_response(preferences_view(saved))


async def post_test_notification(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    outcome = await send_test_notification(services.push, identity)
    return json_response(outcome_view(outcome))


def installation_view(record: InstallationRecord) -> dict[str, Any]:
    return {
        "installationId": record.installation_id,
        "platform": record.platform.value,
        "pushChannelHint": record.push_channel_hint,
        "language": record.language,
        "interests": list(record.interests),
        "tags": list(record.tags),
        "templates": ["alert", "silent"],
        "state": record.state,
        "createdAt": record.created_at.isoformat(),
    }


def preferences_view(preferences: Preferences) -> dict[str, Any]:
    quiet = preferences.quiet_hours
    return {
        "interests": list(preferences.interests),
        "language": preferences.language,
        "quietHours": (
            {"start": quiet.start.strftime("%H:%M"), "end": quiet.end.strftime("%H:%M"), "timeZone": quiet.time_zone}
            if quiet
            else None
        ),
        "debitThreshold": str(preferences.debit_threshold) if preferences.debit_threshold is not None else None,
    }
