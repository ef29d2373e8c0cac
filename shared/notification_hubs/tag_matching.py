"""Which registrations a tag expression reaches: an expression evaluated against one registration's tags.

NH evaluates expressions when it fans a send out; the app evaluates the same expressions against its own
installation mirror (audience previews, explaining a broadcast to an operator), and the NH emulator fans out with it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from shared.notification_hubs.tag_expressions import And, Not, TagExpression, TagRef
from shared.notification_hubs.tags import SYSTEM_TAG

__all__ = ["canonical_tag", "matches"]

_SYSTEM_PREFIXES = {"installationid": "$InstallationId", "userid": "$UserId"}

_Normaliser = Callable[[str], str]


def canonical_tag(tag: str) -> str:
    """Spell a system tag's prefix canonically (``$userid:{u}`` -> ``$UserId:{u}``); other tags are unchanged."""
    match = SYSTEM_TAG.fullmatch(tag)
    if match is None:
        return tag
    return f"{_SYSTEM_PREFIXES[match.group(1).lower()]}:{{{match.group(2)}}}"


def matches(expr: TagExpression, tags: Collection[str], *, case_sensitive: bool = True) -> bool:
    """True when a registration carrying ``tags`` satisfies ``expr``.

    System-tag prefixes always compare case-insensitively; everything else per ``case_sensitive``.
    """
    normalise = _normaliser(case_sensitive)
    present = {normalise(tag) for tag in tags}
    return _evaluate(expr, present, normalise)


def _normaliser(case_sensitive: bool) -> _Normaliser:
    if case_sensitive:
        return canonical_tag
    return _casefold


def _casefold(tag: str) -> str:
    return tag.casefold()


def _evaluate(expr: TagExpression, present: set[str], normalise: _Normaliser) -> bool:
    if isinstance(expr, TagRef):
        return normalise(expr.name) in present
    if isinstance(expr, Not):
        return not _evaluate(expr.operand, present, normalise)
    if isinstance(expr, And):
        return _evaluate(expr.left, present, normalise) and _evaluate(expr.right, present, normalise)
    return _evaluate(expr.left, present, normalise) or _evaluate(expr.right, present, normalise)
