"""The server-assigned tag scheme (CONTRACTS §D): which tags an installation carries, derived from identity only."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from shared.domain.errors import FieldError, ValidationError
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import Platform
from shared.domain.topics import TOPICS
from shared.notification_hubs.tags import MAX_TAGS_PER_INSTALLATION, validate_installation_tags

__all__ = [
    "HASH_PATTERN",
    "MAX_ASSIGNED_TAGS",
    "PLAIN_ID_PATTERN",
    "PLAIN_NAME_PATTERN",
    "department_tag",
    "language_tag",
    "nh_user_id",
    "platform_tag",
    "role_tag",
    "tags_for_installation",
    "topic_tag",
    "user_tag",
]

# Every template registration NH derives from an installation carries the installation's tags plus the
# template name ("alert" / "silent"), so one slot of NH's 60 is kept for it.
MAX_ASSIGNED_TAGS = MAX_TAGS_PER_INSTALLATION - 1

# The ids and (normalised) names written into tags as they are; anything else is hashed (HASH_CHARS hex digits).
PLAIN_ID_PATTERN = r"[A-Za-z0-9_@#.:-]{1,100}"
PLAIN_NAME_PATTERN = r"[a-z0-9_@#.:-]{1,100}"
HASH_PATTERN = r"[0-9a-f]{40}"
_PLAIN_ID = re.compile(PLAIN_ID_PATTERN, re.ASCII)
_PLAIN_NAME = re.compile(PLAIN_NAME_PATTERN, re.ASCII)
_HASH_CHARS = 40


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def user_tag(user_id: str) -> str:
    """``user:{id}``, or ``userh:{sha256 hex[:40]}`` when the id holds characters (or length) a tag cannot.

    Raises ValidationError for an empty id.
    """
    _require_user_id(user_id)
    if _PLAIN_ID.fullmatch(user_id):
        return f"user:{user_id}"
    return f"userh:{_digest(user_id)}"


def nh_user_id(user_id: str) -> str:
    """The value for an installation's NH ``userId``: the id itself when plain, else ``userh={hash}``.

    Same hash as ``user_tag``. ``=`` (allowed in NH user ids, never in a plain id) keeps a hashed value from
    colliding with a real user id that happens to look like a hash. Raises ValidationError for an empty id.
    """
    _require_user_id(user_id)
    if _PLAIN_ID.fullmatch(user_id):
        return user_id
    return f"userh={_digest(user_id)}"


def platform_tag(platform: Platform) -> str:
    return f"platform:{Platform(platform).value}"


def language_tag(language: str) -> str:
    """``lang:{language}``. Raises ValidationError unless the language is supported (resolve it first)."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError(
            f"language {language!r} is not supported",
            [FieldError("language", f"expected one of {', '.join(SUPPORTED_LANGUAGES)}")],
        )
    return f"lang:{language}"


def topic_tag(topic: str) -> str:
    """``topic:{topic}``. Raises ValidationError for a topic no LoB system publishes."""
    if topic not in TOPICS:
        raise ValidationError(
            f"unknown topic {topic!r}", [FieldError("interests", f"expected one of {', '.join(TOPICS)}")]
        )
    return f"topic:{topic}"


def role_tag(role: str) -> str | None:
    """``role:{normalised}`` or ``roleh:{hash}``; ``None`` for a blank role (it carries nothing)."""
    return _name_tag("role", role)


def department_tag(department: str) -> str | None:
    """``dept:{normalised}`` or ``depth:{hash}`` ("dept" + "h", like "userh"); ``None`` for a blank name."""
    return _name_tag("dept", department)


def tags_for_installation(
    user_id: str,
    platform: Platform,
    language: str,
    interests: Iterable[str],
    roles: Iterable[str],
    departments: Iterable[str],
) -> list[str]:
    """Every tag an installation gets, in a stable order: user, platform, lang, topics, roles, departments.

    Clients choose only ``interests`` (topics they follow) and, indirectly, ``language``; user, role and
    department tags come from the verified identity, and no parameter accepts a raw tag. Duplicates collapse.
    Raises ValidationError for an unknown interest or unsupported language, and when the identity carries
    more roles and departments than fit in ``MAX_ASSIGNED_TAGS`` (nothing is dropped silently).
    """
    tags = [user_tag(user_id), platform_tag(platform), language_tag(language)]
    tags += sorted({topic_tag(topic) for topic in interests})
    tags += sorted({tag for tag in map(role_tag, roles) if tag is not None})
    tags += sorted({tag for tag in map(department_tag, departments) if tag is not None})
    if len(tags) > MAX_ASSIGNED_TAGS:
        raise ValidationError(
            f"the identity yields {len(tags)} tags; an installation can carry at most {MAX_ASSIGNED_TAGS}",
            [FieldError("roles", "too many roles and departments for one installation's tags")],
        )
    validate_installation_tags(tags)
    return tags


def _require_user_id(user_id: str) -> None:
    if not user_id:
        raise ValidationError("user id is empty", [FieldError("userId", "must not be empty")])


def _name_tag(prefix: str, name: str) -> str | None:
    # Case and width are folded so "Sales" and "SALES" share a tag; nothing else is transliterated, so two
    # different names never merge: anything outside the tag charset is hashed instead.
    normalised = "-".join(unicodedata.normalize("NFKC", name).casefold().split())
    if not normalised:
        return None
    if _PLAIN_NAME.fullmatch(normalised):
        return f"{prefix}:{normalised}"
    return f"{prefix}h:{_digest(normalised)}"
