"""Which LoB sources a publisher may publish: scopes per Entra app role or per principal, checked per event.

In Entra ID each LoB system is an app registration that calls the API with a client-credentials token. Its
service principal is assigned app roles of the API's registration: ``lob.publisher`` (may publish at all) and a
role that names its system, e.g. ``lob.publisher.hr``. ``PublisherScopes`` maps those roles (or, for a one-off,
a service principal's object id) to the CloudEvent sources they may publish. Nothing maps: nothing is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain.errors import ForbiddenError
from shared.domain.identity import Identity

__all__ = ["PublisherScopes", "require_source"]


@dataclass(frozen=True)
class PublisherScopes:
    """Sources per app role and per principal id (the Entra object id the identity carries as ``user_id``)."""

    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    principals: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def sources_for(self, identity: Identity) -> frozenset[str]:
        """Every source the identity's roles and principal id are scoped to."""
        granted = set(self.principals.get(identity.user_id, ()))
        for role in identity.roles:
            granted |= self.roles.get(role, frozenset())
        return frozenset(granted)

    @property
    def size(self) -> int:
        """How many roles and principals have a scope."""
        return len(self.roles) + len(self.principals)


def require_source(identity: Identity, source: str, scopes: PublisherScopes) -> None:
    """Raises ForbiddenError unless ``identity`` is scoped to publish events of ``source``."""
    if source not in scopes.sources_for(identity):
        raise ForbiddenError(f"this publisher is not configured to publish events of source {source!r}")
