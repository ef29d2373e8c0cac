"""Who is calling: the identity from Easy Auth headers in Azure, or from plain dev headers on a laptop.

Easy Auth headers are trusted only with AUTH_MODE=easyauth, and only where the platform says App Service
Authentication is on (WEBSITE_AUTH_ENABLED=True): only then does App Service strip them from incoming requests
and set them itself. Anywhere else (auth switched off, a container, a proxy that forwards client headers) anyone
could send them, so every request is refused: the app fails closed. Dev headers are trusted only with
AUTH_MODE=dev, which the settings refuse where the app runs in Azure.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from shared.composition.settings import AuthMode
from shared.domain import strict_json
from shared.domain.errors import AuthenticationRequiredError
from shared.domain.identity import Identity

__all__ = ["UNTRUSTED", "identity_from_headers", "report_untrusted_platform"]

logger = logging.getLogger(__name__)

PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"
DEV_USER_HEADER = "x-dev-user"
DEV_ROLES_HEADER = "x-dev-roles"
DEV_DEPARTMENT_HEADER = "x-dev-department"

TRUSTED_IDENTITY_PROVIDERS = frozenset({"aad"})
MAX_PRINCIPAL_BYTES = 16 * 1024
MAX_USER_ID_LENGTH = 256

# Claim types as Entra ID issues them through App Service's default claim mapping, then their short forms.
_USER_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid", "sub")
_NAME_CLAIMS = ("name", "preferred_username", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
_ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_DEPARTMENT_CLAIMS = ("department", "extension_department")

# One answer for "no identity" and "identity headers cannot be trusted here": an anonymous caller learns nothing
# about how the deployment is configured.
UNTRUSTED = "sign in: the request carries no identity this deployment trusts"


def identity_from_headers(headers: Mapping[str, str], mode: AuthMode, *, platform_authentication: bool) -> Identity:
    """The caller's identity; raises AuthenticationRequiredError when there is none that this deployment trusts.

    ``platform_authentication`` is whether App Service Authentication runs in front of the app; in easyauth mode
    without it no request has an identity.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    if mode is AuthMode.EASYAUTH:
        if not platform_authentication:
            report_untrusted_platform()
            raise AuthenticationRequiredError(UNTRUSTED)
        return _from_easy_auth(lowered)
    return _from_dev_headers(lowered)


@cache
def report_untrusted_platform() -> None:
    """Once per process: the operator's explanation of why every authenticated request answers 401."""
    logger.error(
        "AUTH_MODE=easyauth but App Service Authentication is not on for this app (WEBSITE_AUTH_ENABLED is not "
        "True): X-MS-CLIENT-PRINCIPAL could come from anyone, so every authenticated request is refused with 401. "
        "Turn authentication on (infra/modules/functionapp.bicep authsettingsV2) or use AUTH_MODE=dev locally."
    )


def _from_dev_headers(headers: Mapping[str, str]) -> Identity:
    user_id = headers.get(DEV_USER_HEADER, "").strip()
    if not user_id:
        raise AuthenticationRequiredError("sign in: send X-Dev-User (AUTH_MODE=dev)")
    _check_user_id(user_id)
    roles = frozenset(role.strip() for role in headers.get(DEV_ROLES_HEADER, "").split(",") if role.strip())
    department = headers.get(DEV_DEPARTMENT_HEADER, "").strip()
    return Identity(user_id=user_id, name=user_id, roles=roles, departments=(department,) if department else ())


def _from_easy_auth(headers: Mapping[str, str]) -> Identity:
    encoded = headers.get(PRINCIPAL_HEADER, "")
    if not encoded:
        raise AuthenticationRequiredError(UNTRUSTED)
    if len(encoded) > MAX_PRINCIPAL_BYTES:
        raise AuthenticationRequiredError("the client principal header is too large")
    principal = _decode_principal(encoded)
    provider = principal.get("auth_typ") or headers.get(PRINCIPAL_IDP_HEADER)
    if provider not in TRUSTED_IDENTITY_PROVIDERS:
        raise AuthenticationRequiredError("the client principal does not come from Entra ID")
    claims = _claims(principal)
    user_id = _first(claims, _USER_ID_CLAIMS)
    if not user_id:
        raise AuthenticationRequiredError("the client principal carries no user id claim")
    _check_user_id(user_id)
    role_type = principal.get("role_typ")
    role_types = (*_ROLE_CLAIMS, role_type) if isinstance(role_type, str) else _ROLE_CLAIMS
    roles = frozenset(value for typ, value in claims if typ in role_types)
    departments = tuple(value for typ, value in claims if typ in _DEPARTMENT_CLAIMS)
    return Identity(user_id=user_id, name=_first(claims, _NAME_CLAIMS), roles=roles, departments=departments)


def _decode_principal(encoded: str) -> dict[str, Any]:
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        principal = strict_json.loads(decoded)
    except (binascii.Error, ValueError) as exc:  # strict_json.UnsafeJsonError is a ValueError
        raise AuthenticationRequiredError("the client principal header is not base64-encoded JSON") from exc
    if not isinstance(principal, dict):
        raise AuthenticationRequiredError("the client principal is not a JSON object")
    return principal


def _claims(principal: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw = principal.get("claims")
    if not isinstance(raw, list):
        raise AuthenticationRequiredError("the client principal has no claims list")
    return [
        (claim["typ"], claim["val"])
        for claim in raw
        if isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str)
    ]


def _first(claims: list[tuple[str, str]], types: tuple[str, ...]) -> str | None:
    for wanted in types:
        for typ, value in claims:
            if typ == wanted and value.strip():
                return value.strip()
    return None


def _check_user_id(user_id: str) -> None:
    if len(user_id) > MAX_USER_ID_LENGTH or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in user_id):
        raise AuthenticationRequiredError("the user id is too long or contains control characters")
