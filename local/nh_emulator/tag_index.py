"""Installations indexed by tag, so a tag send looks only at installations that can match.

The index answers with a superset: every installation carrying (in its native registration or any template) a tag
the expression needs. Matching proper (case rules, per-template tags, visibility) stays in fan-out; the index only
saves it from scanning every installation. Keys are case-folded canonical tags, so they serve both case modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from local.nh_emulator.installations import Installation, native_tags
from shared.notification_hubs.tag_expressions import And, Not, Or, TagExpression, TagRef
from shared.notification_hubs.tag_matching import canonical_tag

__all__ = ["TagIndex", "index_key", "indexed_tags"]


def index_key(tag: str) -> str:
    """The key a tag is filed under (same for every spelling either case mode treats as equal)."""
    return canonical_tag(tag).casefold() if tag.startswith("$") else tag.casefold()


def indexed_tags(installation: Installation) -> set[str]:
    """Keys of every tag of the installation's registrations (native and templates).

    The same set as the union of ``native_tags`` and every ``template_tags``, built without repeating the native
    tags per template (this runs for every installation when the index is built).
    """
    keys = {index_key(tag) for tag in native_tags(installation)}
    for name, template in installation.get("templates", {}).items():
        keys.add(index_key(name))
        keys.update(index_key(tag) for tag in template.get("tags", ()))
    return keys


_NONE: frozenset[str] = frozenset()


class TagIndex:
    """Tag key -> ids of installations (any stored version) carrying it."""

    def __init__(self) -> None:
        self._ids: dict[str, set[str]] = {}

    def add(self, installation_id: str, versions: Iterable[Installation | None]) -> None:
        """File ``installation_id`` under the tags of each given version."""
        for version in versions:
            if version is not None:
                for key in indexed_tags(version):
                    self._ids.setdefault(key, set()).add(installation_id)

    def remove(self, installation_id: str, versions: Iterable[Installation | None]) -> None:
        """Take ``installation_id`` out from under the tags of each given version."""
        for version in versions:
            if version is None:
                continue
            for key in indexed_tags(version):
                ids = self._ids.get(key)
                if ids is not None:
                    ids.discard(installation_id)
                    if not ids:
                        del self._ids[key]

    def clear(self) -> None:
        """Forget every entry."""
        self._ids.clear()

    def candidates(self, expression: TagExpression) -> AbstractSet[str] | None:
        """Ids that may match ``expression``; None when it can match installations without any of its tags (NOT).

        The set returned must not be changed (for a single tag it is the index's own)."""
        if isinstance(expression, TagRef):
            return self._ids.get(index_key(expression.name), _NONE)  # the index's own set: callers only read it
        if isinstance(expression, Not):
            return None
        left, right = self.candidates(expression.left), self.candidates(expression.right)
        if isinstance(expression, And):
            if left is None or right is None:
                return right if left is None else left
            return left & right
        assert isinstance(expression, Or)
        return None if left is None or right is None else left | right
