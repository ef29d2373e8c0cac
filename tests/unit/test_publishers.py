"""Publisher scopes: an identity publishes the sources its app roles or its principal id are scoped to, no more."""

from __future__ import annotations

import pytest

from shared.domain.errors import ForbiddenError
from shared.domain.identity import Identity
from shared.domain.publishers import PublisherScopes, require_source

SCOPES = PublisherScopes(
    roles={"lob.publisher.hr": frozenset({"/lob/hr"}), "lob.publisher.finance": frozenset({"/lob/finance"})},
    principals={"sp-orders": frozenset({"/lob/orders"})},
)


class TestRequireSource:
    def test_a_role_grants_its_sources(self):
        require_source(Identity("sp-hr", roles=frozenset({"lob.publisher", "lob.publisher.hr"})), "/lob/hr", SCOPES)

    def test_a_principal_id_grants_its_sources(self):
        require_source(Identity("sp-orders", roles=frozenset({"lob.publisher"})), "/lob/orders", SCOPES)

    def test_roles_add_up(self):
        both = Identity("x", roles=frozenset({"lob.publisher.hr", "lob.publisher.finance"}))
        assert SCOPES.sources_for(both) == {"/lob/hr", "/lob/finance"}

    @pytest.mark.parametrize(
        ("identity", "source"),
        [
            (Identity("sp-hr", roles=frozenset({"lob.publisher", "lob.publisher.hr"})), "/lob/finance"),
            (Identity("sp-orders", roles=frozenset({"lob.publisher"})), "/lob/hr"),
            (Identity("lob.publisher.hr", roles=frozenset({"lob.publisher"})), "/lob/hr"),  # a role name is no id
            (Identity("someone", roles=frozenset({"lob.publisher"})), "/lob/hr"),
        ],
    )
    def test_anything_else_is_forbidden(self, identity, source):
        with pytest.raises(ForbiddenError, match=source):
            require_source(identity, source, SCOPES)

    def test_no_scopes_forbid_everyone(self):
        with pytest.raises(ForbiddenError):
            require_source(Identity("erp", roles=frozenset({"lob.publisher"})), "/lob/hr", PublisherScopes())
