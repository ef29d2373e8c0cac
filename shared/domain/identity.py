"""The signed-in caller as the use cases see it, and the role check every admin operation makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.domain.errors import ForbiddenError

__all__ = ["Identity", "require_role"]


@dataclass(frozen=True)
class Identity:
    """A signed-in caller. ``user_id`` is the identity provider's stable id (Entra object id)."""

    user_id: str
    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    departments: tuple[str, ...] = ()

    def has_role(self, role: str) -> bool:
        return role in self.roles


def require_role(identity: Identity, role: str) -> None:
    """Raises ForbiddenError unless the caller has ``role``."""
    if not identity.has_role(role):
        raise ForbiddenError(f"this operation needs the role {role!r}")
