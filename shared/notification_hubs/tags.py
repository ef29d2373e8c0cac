"""Notification Hubs tags (NH-REST §5): the charset, the service-assigned system tags, NH's limits, validation."""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError
from shared.notification_hubs.identifiers import MAX_INSTALLATION_ID_LENGTH

__all__ = [
    "MAX_TAGS_PER_INSTALLATION",
    "MAX_TAG_LENGTH",
    "PLAIN_TAG",
    "SYSTEM_TAG",
    "is_system_tag",
    "tag_problem",
    "validate_installation_tags",
    "validate_tag",
]

MAX_TAG_LENGTH = 120
MAX_TAGS_PER_INSTALLATION = 60

# A plain tag's characters; the length limit is checked apart so that the message can say so.
PLAIN_TAG = re.compile(r"[A-Za-z0-9_@#.:-]+")
# ``$InstallationId:{id}`` or ``$UserId:{id}``, prefix in any case: group 1 is the kind, group 2 the id.
SYSTEM_TAG = re.compile(r"\$(InstallationId|UserId):\{([-_@#.:=A-Za-z0-9]+)\}", re.IGNORECASE)


def is_system_tag(tag: str) -> bool:
    """True for the service-assigned forms ``$InstallationId:{…}`` and ``$UserId:{…}``."""
    return SYSTEM_TAG.fullmatch(tag) is not None


def validate_tag(tag: str, *, location: str = "tag") -> None:
    """Check one tag: 1-120 of ``A-Z a-z 0-9 _ @ # . : -``, or ``$InstallationId:{id}`` / ``$UserId:{id}``.

    The id inside a system tag follows the installation-id rules (up to 200 characters, ``=`` allowed).

    Raises NhValidationError saying what is wrong.
    """
    problem = tag_problem(tag)
    if problem is not None:
        raise NhValidationError(f"invalid tag {tag[:40]!r}: {problem}", [FieldError(location, problem)])


def tag_problem(tag: str) -> str | None:
    """What is wrong with ``tag`` as validate_tag words it, or None when it is a valid tag."""
    if not tag:
        return "a tag must not be empty"
    if tag.startswith("$"):
        match = SYSTEM_TAG.fullmatch(tag)
        if match is None:
            return "system tags must be written $InstallationId:{id} or $UserId:{id}, braces included"
        if len(match.group(2)) > MAX_INSTALLATION_ID_LENGTH:
            return f"the id in a system tag may have at most {MAX_INSTALLATION_ID_LENGTH} characters"
        return None
    if len(tag) > MAX_TAG_LENGTH:
        return f"a tag may have at most {MAX_TAG_LENGTH} characters, this one has {len(tag)}"
    if PLAIN_TAG.fullmatch(tag) is None:
        bad = next(char for char in tag if PLAIN_TAG.fullmatch(char) is None)
        return f"character {bad!r} is not allowed; tags may contain letters, digits and _ @ # . : -"
    return None


def validate_installation_tags(tags: Sequence[str], *, max_tags: int = MAX_TAGS_PER_INSTALLATION) -> None:
    """Check the ``tags`` of an installation: each tag valid, no system tags, no duplicates, at most ``max_tags``.

    System tags are refused because the service assigns them; letting a device claim ``$UserId:{…}`` would let
    it receive another user's pushes. Raises NhValidationError listing every tag at fault.
    """
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags):
        location = f"/tags/{index}"
        problem = tag_problem(tag)
        if problem is None and tag.startswith("$"):
            problem = "system tags are assigned by the service and cannot be set"
        if problem is None and tag in seen:
            problem = f"duplicate tag {tag!r}"
        if problem is not None:
            errors.append(FieldError(location, problem))
        seen.add(tag)
    if len(tags) > max_tags:
        errors.append(
            FieldError("/tags", f"an installation may have at most {max_tags} tags, this one has {len(tags)}")
        )
    if errors:
        raise NhValidationError(f"invalid installation tags: {errors[0].message}", errors)
