"""Identity: Easy Auth headers trusted only in easyauth mode behind App Service Authentication, dev headers only
in dev mode."""

from __future__ import annotations

import base64
import json

import pytest

from shared.api.identity import UNTRUSTED, identity_from_headers
from shared.composition.settings import AuthMode
from shared.domain.errors import AuthenticationRequiredError, ForbiddenError
from shared.domain.identity import require_role

OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def principal(claims: list[dict[str, str]], auth_typ: str = "aad", **extra: object) -> str:
    payload = {"auth_typ": auth_typ, "claims": claims, "name_typ": "name", "role_typ": ROLE, **extra}
    return base64.b64encode(json.dumps(payload).encode()).decode()


class TestEasyAuth:
    def test_reads_user_id_roles_and_department_from_the_principal(self):
        header = principal(
            [
                {"typ": OID, "val": "0f3c-alice"},
                {"typ": "name", "val": "Alice"},
                {"typ": ROLE, "val": "push.admin"},
                {"typ": "roles", "val": "lob.publisher"},
                {"typ": "department", "val": "Finance"},
            ]
        )
        identity = identity_from_headers(
            {"X-MS-CLIENT-PRINCIPAL": header}, AuthMode.EASYAUTH, platform_authentication=True
        )
        assert identity.user_id == "0f3c-alice"
        assert identity.name == "Alice"
        assert identity.roles == {"push.admin", "lob.publisher"}
        assert identity.departments == ("Finance",)

    def test_refuses_dev_headers_in_easyauth_mode(self):
        """A spoofed X-Dev-User must not authenticate anyone behind Easy Auth."""
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers(
                {"X-Dev-User": "alice", "X-Dev-Roles": "push.admin"}, AuthMode.EASYAUTH, platform_authentication=True
            )

    def test_refuses_principal_id_header_without_the_principal(self):
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers(
                {"X-MS-CLIENT-PRINCIPAL-ID": "alice"}, AuthMode.EASYAUTH, platform_authentication=True
            )

    @pytest.mark.parametrize(
        "header",
        [
            "not base64!!",
            base64.b64encode(b"not json").decode(),
            base64.b64encode(b"[1, 2]").decode(),
            base64.b64encode(b'{"auth_typ": "aad"}').decode(),
            base64.b64encode(b'{"auth_typ": "aad", "claims": []}').decode(),
        ],
    )
    def test_refuses_malformed_principals(self, header):
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers({"x-ms-client-principal": header}, AuthMode.EASYAUTH, platform_authentication=True)

    def test_refuses_principals_from_other_identity_providers(self):
        header = principal([{"typ": OID, "val": "bob"}], auth_typ="github")
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers({"x-ms-client-principal": header}, AuthMode.EASYAUTH, platform_authentication=True)

    def test_refuses_oversized_principal(self):
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers(
                {"x-ms-client-principal": "A" * 20_000}, AuthMode.EASYAUTH, platform_authentication=True
            )


class TestEasyAuthWithoutThePlatform:
    """Where App Service Authentication is off, anyone can send X-MS-CLIENT-PRINCIPAL: nobody is trusted."""

    def test_refuses_a_well_formed_admin_principal(self):
        header = principal([{"typ": OID, "val": "0f3c-alice"}, {"typ": ROLE, "val": "push.admin"}])
        with pytest.raises(AuthenticationRequiredError) as caught:
            identity_from_headers({"X-MS-CLIENT-PRINCIPAL": header}, AuthMode.EASYAUTH, platform_authentication=False)
        assert str(caught.value) == UNTRUSTED

    def test_says_nothing_a_missing_principal_would_not(self):
        """The refusal must not tell an anonymous caller how the deployment is configured."""
        with pytest.raises(AuthenticationRequiredError) as without_platform:
            identity_from_headers({}, AuthMode.EASYAUTH, platform_authentication=False)
        with pytest.raises(AuthenticationRequiredError) as without_header:
            identity_from_headers({}, AuthMode.EASYAUTH, platform_authentication=True)
        assert str(without_platform.value) == str(without_header.value)


class TestDevMode:
    def test_reads_user_and_roles(self):
        identity = identity_from_headers(
            {"X-Dev-User": "alice", "X-Dev-Roles": "push.admin, lob.publisher"},
            AuthMode.DEV,
            platform_authentication=False,
        )
        assert identity.user_id == "alice"
        assert identity.roles == {"push.admin", "lob.publisher"}

    def test_refuses_a_request_without_user(self):
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers({}, AuthMode.DEV, platform_authentication=False)

    def test_ignores_easy_auth_headers(self):
        """In dev mode only X-Dev-User counts; an Easy Auth principal alone is no identity."""
        header = principal([{"typ": OID, "val": "alice"}])
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers({"X-MS-CLIENT-PRINCIPAL": header}, AuthMode.DEV, platform_authentication=False)

    def test_refuses_control_characters_in_user_id(self):
        with pytest.raises(AuthenticationRequiredError):
            identity_from_headers({"X-Dev-User": "alice\x00bob"}, AuthMode.DEV, platform_authentication=False)


class TestRequireRole:
    def test_raises_forbidden_without_the_role(self):
        identity = identity_from_headers({"X-Dev-User": "alice"}, AuthMode.DEV, platform_authentication=False)
        with pytest.raises(ForbiddenError):
            require_role(identity, "push.admin")
