"""Who an operator's send reaches: a tag expression over the server's own tag families, or a list of user ids.

An audience expression is checked with Notification Hubs' own rules (the tag charset, at most 6 tags, or 20 when
the only operator is ``||``, NH-REST §5) and may name only the tag families the server assigns at registration
(``shared.domain.tag_policy``): ``topic:``, ``lang:``, ``platform:``, ``dept:`` (``depth:`` for hashed names) and
``user:`` (``userh:``). Role tags and NH's system tags are not audiences. It is evaluated against the installations
mirror, which holds exactly the tags NH holds, because NH cannot list or count installations.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shared.domain.errors import FieldError, ValidationError
from shared.domain.languages import SUPPORTED_LANGUAGES
from shared.domain.records import InstallationRecord, Platform
from shared.domain.tag_policy import department_tag, user_tag
from shared.domain.topics import TOPICS
from shared.notification_hubs.tag_expressions import TagExpression, expression_tags, parse_tag_expression
from shared.notification_hubs.tag_matching import matches

__all__ = [
    "AUDIENCE_FAMILIES",
    "MAX_AUDIENCE_USERS",
    "Audience",
    "AudienceCounts",
    "count_audience",
    "parse_audience_expression",
    "parse_user_list",
]

AUDIENCE_FAMILIES: tuple[str, ...] = ("topic", "lang", "platform", "dept", "depth", "user", "userh")
MAX_AUDIENCE_USERS = 1000
ACTIVE = "active"  # the mirror's state of an installation NH has (a "pending" one may not be in NH yet)


@dataclass(frozen=True)
class Audience:
    """Exactly one of ``expression`` (validated tag expression) or ``users`` (distinct user ids)."""

    expression: str | None = None
    users: tuple[str, ...] = ()

    def reaches(self, record: InstallationRecord) -> bool:
        """True when the installation belongs to this audience (and NH has it: state active)."""
        if record.state != ACTIVE:
            return False
        if self.expression is not None:
            return matches(_parsed(self.expression), record.tags)
        return record.user_id in self.users


@dataclass(frozen=True)
class AudienceCounts:
    """How many installations an audience reaches, in total and by platform and language."""

    installations: int = 0
    users: int = 0
    by_platform: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)


def parse_audience_expression(text: str, *, location: str = "expression") -> Audience:
    """Validate an operator's tag expression; raises ValidationError naming ``location`` and what is wrong."""
    text = text.strip()
    if not text:
        raise ValidationError("the audience expression is empty", [FieldError(location, "write a tag expression")])
    try:
        parsed = parse_tag_expression(text)
    except ValidationError as exc:
        raise ValidationError(exc.detail, [FieldError(location, error.message) for error in exc.errors]) from None
    problems = [problem for tag in expression_tags(parsed) if (problem := _tag_problem(tag)) is not None]
    if problems:
        raise ValidationError(
            f"the audience may use only the tags the server assigns: {problems[0]}",
            [FieldError(location, problem) for problem in problems],
        )
    # Blanks carry no meaning in an expression: collapse them so that equal audiences compare equal.
    return Audience(expression=" ".join(text.split()))


def parse_user_list(user_ids: Sequence[str], *, location: str = "users") -> Audience:
    """A list of user ids as an audience (duplicates collapse). Raises ValidationError for an empty or too long
    list, or an id no registration could have (empty, longer than 200 characters)."""
    distinct = tuple(dict.fromkeys(user_id.strip() for user_id in user_ids))
    if not distinct:
        raise ValidationError("the audience has no users", [FieldError(location, "name at least one user id")])
    if len(distinct) > MAX_AUDIENCE_USERS:
        raise ValidationError(
            f"at most {MAX_AUDIENCE_USERS} users per send; use a tag expression for larger audiences",
            [FieldError(location, f"{len(distinct)} users given")],
        )
    bad = [index for index, user_id in enumerate(distinct) if not user_id or len(user_id) > 200]
    if bad:
        raise ValidationError(
            "invalid user ids", [FieldError(f"{location}/{index}", "1 to 200 characters") for index in bad]
        )
    return Audience(users=distinct)


def count_audience(records: Iterable[InstallationRecord]) -> AudienceCounts:
    """Totals of the given (already selected) installations by platform and language."""
    selected = list(records)
    return AudienceCounts(
        installations=len(selected),
        users=len({record.user_id for record in selected}),
        by_platform=dict(sorted(Counter(record.platform.value for record in selected).items())),
        by_language=dict(sorted(Counter(record.language for record in selected).items())),
    )


@functools.lru_cache(maxsize=64)
def _parsed(expression: str) -> TagExpression:
    return parse_tag_expression(expression)


def _tag_problem(tag: str) -> str | None:
    family, separator, value = tag.partition(":")
    if tag.startswith("$"):
        return f"{tag!r} is a Notification Hubs system tag; name users with user:{{id}}"
    if not separator or family not in AUDIENCE_FAMILIES:
        return f"{tag!r} is not one of the tag families {', '.join(f + ':' for f in AUDIENCE_FAMILIES)}"
    if family == "topic" and value not in TOPICS:
        return f"{tag!r}: the topics are {', '.join(TOPICS)}"
    if family == "lang" and value not in SUPPORTED_LANGUAGES:
        return f"{tag!r}: the languages are {', '.join(SUPPORTED_LANGUAGES)}"
    if family == "platform" and value not in {platform.value for platform in Platform}:
        return f"{tag!r}: the platforms are {', '.join(platform.value for platform in Platform)}"
    if family == "dept" and department_tag(value) != tag:
        return f"{tag!r}: departments are tagged in lower case with '-' between words ({department_tag(value)})"
    if family == "user" and user_tag(value) != tag:
        return f"{tag!r}: this user id is tagged as {user_tag(value)}"
    return None
