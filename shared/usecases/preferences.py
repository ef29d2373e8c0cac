"""Use cases of a user's preferences: read them, and change them everywhere the user has a device."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from shared.domain.device_templates import templates_for
from shared.domain.identity import Identity
from shared.domain.languages import resolve_language
from shared.domain.records import InstallationRecord, Preferences
from shared.domain.tag_policy import tags_for_installation
from shared.notification_hubs.models import PatchOperation
from shared.ports import RegistrationPorts
from shared.usecases.commands import UpdatePreferences
from shared.usecases.registration import check_interests

__all__ = ["get_preferences", "installation_patch", "update_preferences"]

logger = logging.getLogger(__name__)


async def get_preferences(ports: RegistrationPorts, identity: Identity) -> Preferences:
    """The caller's preferences, or the defaults when none were saved."""
    return await ports.preferences.get(identity.user_id) or Preferences(user_id=identity.user_id)


async def update_preferences(ports: RegistrationPorts, identity: Identity, command: UpdatePreferences) -> Preferences:
    """Save preferences, then PATCH every installation of the user in NH and refresh the mirror.

    Raises ValidationError for unknown interests, UpstreamError when Tables or NH fail (a repeat is safe).
    """
    interests = check_interests(command.interests, "/interests")
    preferences = Preferences(
        user_id=identity.user_id,
        interests=interests,
        language=resolve_language(command.language) if command.language else None,
        quiet_hours=command.quiet_hours,
        debit_threshold=command.debit_threshold,
        updated_at=ports.now(),
    )
    await ports.preferences.put(preferences)
    for record in await ports.installations.list_for_user(identity.user_id):
        language = preferences.language or record.language
        tags = tags_for_installation(
            identity.user_id, record.platform, language, interests, sorted(identity.roles), identity.departments
        )
        operations = installation_patch(record, tags, language)
        if operations:
            await ports.push.patch_installation(record.installation_id, operations)
        await ports.installations.upsert(
            replace(record, language=language, interests=interests, tags=tuple(tags), updated_at=ports.now())
        )
        logger.info("preferences applied installation_id=%s operations=%s", record.installation_id, len(operations))
    return preferences


def installation_patch(record: InstallationRecord, tags: list[str], language: str) -> list[PatchOperation]:
    """The JSON-Patch operations that take an installation from the mirror's state to the wanted one."""
    operations = [PatchOperation("remove", f"/tags/{tag}") for tag in record.tags if tag not in tags]
    operations += [PatchOperation("add", "/tags", tag) for tag in tags if tag not in record.tags]
    if language != record.language:
        for name, template in templates_for(record.platform, language).items():
            operations.append(PatchOperation("add", f"/templates/{name}", json.dumps(template.to_wire())))
    return operations
