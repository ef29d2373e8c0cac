"""Use cases of the registration API: register, read, list and remove a user's devices.

Ownership: an installation id belongs to the user who claimed it first. The claim is an atomic insert-if-absent
in the mirror, made before anything is written to Notification Hubs, so two users racing for one id cannot both
get it, and the loser never touches NH. Another user's installation answers exactly like a missing one
(NotFoundError): nobody learns which ids exist.

Write order (so that no failure leaves a device that receives pushes but is not listed for its owner):
claim -> mirror row "pending" -> NH installation -> mirror row "active" (a merge of the state alone). The claim and
the "pending" row are one adapter call (``claim_and_write``) that writes only when the claim is the caller's. A
failure after the first write leaves a "pending" row that the next PUT from the app (it registers at every launch)
repairs. Removal goes the other way: the row is marked "pending" first, then NH (pushes stop), then the mirror,
then the claim. The reads a registration needs go out together: the caller's row with the preferences, then the
channel lookup with the claim.

Refresh of an unchanged device (every app launch; the most common call of the API): the caller's row and the
preferences are read together, and when the row is "active", was confirmed less than ``CONFIRM_AFTER`` ago, and
its fingerprint (sha256 of the NH installation last written) and fields equal what this request would write,
the device is registered already and nothing is written: two reads, no NH call. Why no NH PUT:
- NH keeps an installation until it is deleted (``expirationTime`` defaults to 9999-12-31; NH-REST.md §3.1), so a
  refresh has nothing to keep alive. A handle the PNS reports dead is marked by NH, and the app then registers a
  new handle, which changes the fingerprint.
- No path of ours that removes an installation from NH leaves a row that passes, even after a crash between the
  NH delete and the row delete: unregister marks the row "pending" first; the idle sweep removes only rows older
  than ``CONFIRM_AFTER``; token hygiene and channel hand-over remove handles the device has replaced or moved to
  another installation id, so its next refresh differs.
- The row proves the claim: a row is written only after its claim, and deleted before it.
- Once ``CONFIRM_AFTER`` has passed, the refresh takes the full path: NH gets the PUT again (repairing a loss no
  code of ours made, such as an operator's restore of the hub) and ``updated_at`` moves, which the idle sweep reads.
A changed device, a "pending" row or a stale fingerprint (preferences saved since, templates changed by a release)
takes the full path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from shared.domain.device_templates import templates_for
from shared.domain.errors import FieldError, NotFoundError, ValidationError
from shared.domain.identity import Identity
from shared.domain.installation_ids import validate_installation_id
from shared.domain.languages import resolve_language
from shared.domain.records import InstallationRecord, Platform, Preferences
from shared.domain.tag_policy import nh_user_id, tags_for_installation
from shared.domain.topics import TOPICS
from shared.notification_hubs.models import Installation
from shared.ports import RegistrationPorts
from shared.usecases.commands import RegisterDevice

__all__ = [
    "CONFIRM_AFTER",
    "RegistrationPorts",
    "channel_hash",
    "desired_installation",
    "get_device",
    "list_devices",
    "register_device",
    "unregister_device",
]

logger = logging.getLogger(__name__)

PENDING = "pending"
ACTIVE = "active"
# How long an unchanged refresh trusts its row before writing NH and the row again (see the module docstring).
CONFIRM_AFTER = timedelta(hours=24)


def channel_hash(push_channel: str) -> str:
    return hashlib.sha256(push_channel.encode()).hexdigest()


def installation_fingerprint(installation: Installation) -> str:
    """sha256 of the installation as NH is sent it: equal fingerprints, equal NH state."""
    wire = json.dumps(installation.to_wire(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(wire.encode()).hexdigest()


def check_interests(interests: Sequence[str], location: str) -> tuple[str, ...]:
    """Interests must be catalog topics; raises ValidationError naming the unknown ones."""
    unknown = sorted(set(interests) - set(TOPICS))
    if unknown:
        raise ValidationError(
            "unknown interests",
            [FieldError(location, f"{name!r} is not a topic; choose from {sorted(TOPICS)}") for name in unknown],
        )
    return tuple(sorted(set(interests)))


def desired_installation(
    identity: Identity,
    installation_id: str,
    platform: Platform,
    push_channel: str,
    language: str,
    interests: Sequence[str],
) -> Installation:
    """The NH installation the backend wants for this device: server-assigned tags and templates only."""
    return Installation(
        installation_id=installation_id,
        platform=platform.value,
        push_channel=push_channel,
        user_id=nh_user_id(identity.user_id),
        tags=tags_for_installation(
            identity.user_id, platform, language, interests, sorted(identity.roles), identity.departments
        ),
        templates=templates_for(platform, language),
    )


async def register_device(ports: RegistrationPorts, identity: Identity, command: RegisterDevice) -> InstallationRecord:
    """Create or refresh a device. Raises NotFoundError (another user's id), ValidationError, UpstreamError."""
    installation_id = validate_installation_id(command.installation_id)
    interests_requested = check_interests(command.interests, "/interests") if command.interests is not None else None
    existing, preferences = await asyncio.gather(
        ports.installations.get(identity.user_id, installation_id), ports.preferences.get(identity.user_id)
    )
    language, interests = _effective_choices(preferences, command.language, interests_requested)
    platform = command.platform
    installation = desired_installation(identity, installation_id, platform, command.push_channel, language, interests)
    now = ports.now()
    hashed = channel_hash(command.push_channel)
    record = InstallationRecord(
        user_id=identity.user_id,
        installation_id=installation_id,
        platform=platform,
        push_channel_hash=hashed,
        push_channel_hint=command.push_channel[-6:],
        language=language,
        interests=interests,
        tags=tuple(installation.tags),
        state=PENDING,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        fingerprint=installation_fingerprint(installation),
    )
    if existing is not None and _unchanged(existing, record):
        logger.debug("refresh of unchanged installation_id=%s: nothing to write", installation_id)
        return existing
    # The claim decides before anything is written; the channel lookup is a read, so it goes out with it.
    claimed, previous_holders = await asyncio.gather(
        ports.installations.claim_and_write(record, existing), ports.installations.find_by_channel(hashed)
    )
    if not claimed:
        raise NotFoundError(_not_found(installation_id))
    await _hand_over_channel(ports, previous_holders, identity.user_id, installation_id)
    await ports.push.create_or_update_installation(installation)
    if not await ports.installations.set_state(identity.user_id, installation_id, ACTIVE):
        # Removed meanwhile (a concurrent unregister or hand-over): NH may hold it now, so it must be listed again;
        # "pending", because whether NH kept it depends on which write came last, and the next PUT settles it.
        await ports.installations.upsert(record)
        logger.warning("installation_id=%s was removed during its registration; listed again", installation_id)
        return record
    logger.info("registered installation_id=%s platform=%s", installation_id, platform.value)
    return replace(record, state=ACTIVE)


def _unchanged(existing: InstallationRecord, wanted: InstallationRecord) -> bool:
    """The row says NH holds exactly the wanted installation, confirmed recently enough to be trusted.

    The row's own fields are compared too: a preferences change PATCHes NH and rewrites them without a new
    fingerprint, so a fingerprint alone could match an installation NH no longer has.
    """
    return (
        existing.state == ACTIVE
        and existing.fingerprint == wanted.fingerprint
        and _desired_fields(existing) == _desired_fields(wanted)
        and timedelta(0) <= wanted.updated_at - existing.updated_at < CONFIRM_AFTER
    )


def _desired_fields(record: InstallationRecord) -> tuple[object, ...]:
    return (record.platform, record.push_channel_hash, record.language, record.interests, record.tags)


async def get_device(ports: RegistrationPorts, identity: Identity, installation_id: str) -> InstallationRecord:
    """The caller's device. Raises NotFoundError when the caller has none by that id (also: someone else's)."""
    validate_installation_id(installation_id)
    record = await ports.installations.get(identity.user_id, installation_id)
    if record is None:
        raise NotFoundError(_not_found(installation_id))
    return record


async def unregister_device(ports: RegistrationPorts, identity: Identity, installation_id: str) -> None:
    """Remove the caller's device from NH and the mirror. Raises NotFoundError when the caller has none by that id
    (gone already, never there, or someone else's); a claim without a row (a crash mid-registration) is cleaned."""
    validate_installation_id(installation_id)
    owner = await ports.installations.find_owner(installation_id)
    if owner is None:
        if await ports.installations.get(identity.user_id, installation_id) is None:
            raise NotFoundError(_not_found(installation_id))
    elif owner != identity.user_id:
        raise NotFoundError(_not_found(installation_id))
    # Not "active" any more before NH loses it: a refresh racing this removal, or after a crash here, writes NH again.
    await ports.installations.set_state(identity.user_id, installation_id, PENDING)
    await ports.push.delete_installation(installation_id)
    await ports.installations.delete(identity.user_id, installation_id)
    logger.info("unregistered installation_id=%s", installation_id)


async def list_devices(ports: RegistrationPorts, identity: Identity) -> list[InstallationRecord]:
    return sorted(await ports.installations.list_for_user(identity.user_id), key=lambda r: r.installation_id)


def _effective_choices(
    preferences: Preferences | None, device_language: str | None, device_interests: tuple[str, ...] | None
) -> tuple[str, tuple[str, ...]]:
    """The user's saved preferences win over what one device reports; the device's values fill the gaps."""
    language = resolve_language(preferences.language if preferences and preferences.language else device_language)
    if preferences is not None and preferences.updated_at is not None:
        return language, tuple(preferences.interests)
    return language, device_interests or ()


def _not_found(installation_id: str) -> str:
    """One message for a missing id and for someone else's: the answer must not tell them apart."""
    return f"installation {installation_id!r} is not registered"


async def _hand_over_channel(
    ports: RegistrationPorts, holders: Sequence[InstallationRecord], user_id: str, installation_id: str
) -> None:
    """A push channel lives in one installation only: drop older registrations of the same handle."""
    for previous in holders:
        if previous.installation_id == installation_id and previous.user_id == user_id:
            continue
        await ports.push.delete_installation(previous.installation_id)
        await ports.installations.delete(previous.user_id, previous.installation_id)
        logger.info(
            "handed over push channel: removed installation_id=%s of a previous registration",
            previous.installation_id,
        )
