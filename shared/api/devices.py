"""Routes of the registration API: installations, the caller's devices, preferences, test notification."""

from __future__ import annotations

from shared.api.http import ApiRequest, ApiResponse, json_response, parse_json_object
from shared.api.runtime import authenticate
from shared.api.schemas import (
    InstallationList,
    InstallationRequest,
    InstallationView,
    NotificationOutcomeView,
    PreferencesRequest,
    PreferencesView,
)
from shared.api.validation import validate_model
from shared.composition.services import Services
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
    return json_response(InstallationView.of(record).wire())


async def get_installation(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    record = await registration.get_device(
        services.registration, identity, request.route_params.get("installationId", "")
    )
    return json_response(InstallationView.of(record).wire())


async def delete_installation(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    await registration.unregister_device(
        services.registration, identity, request.route_params.get("installationId", "")
    )
    return ApiResponse(204)


async def get_my_installations(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    records = await registration.list_devices(services.registration, identity)
    return json_response(InstallationList(installations=[InstallationView.of(record) for record in records]).wire())


async def get_my_preferences(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    preferences = await preference_cases.get_preferences(services.registration, identity)
    return json_response(PreferencesView.of(preferences).wire())


async def put_my_preferences(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    body = validate_model(PreferencesRequest, parse_json_object(request))
    saved = await preference_cases.update_preferences(services.registration, identity, body.to_command())
    return json_response(PreferencesView.of(saved).wire())


async def post_test_notification(request: ApiRequest, services: Services) -> ApiResponse:
    identity = authenticate(request, services)
    outcome = await send_test_notification(services.push, identity)
    return json_response(NotificationOutcomeView.model_validate(outcome_view(outcome)).wire())
