"""SAS verification as NH-REST §1.3 describes it: raw-sr HMAC, audience prefix, expiry with skew, rights."""

from __future__ import annotations

import logging

from starlette.requests import Request

from local.nh_emulator.config import EmulatorConfig, Right
from local.nh_emulator.sas import audience_covers, parse_sas_token, signature_matches
from local.nh_emulator.wire import EmulatorError
from shared.notification_hubs.errors import NhValidationError

__all__ = ["authorize", "authorize_manage", "request_url"]

logger = logging.getLogger(__name__)


def request_url(request: Request) -> str:
    """The URL as the client wrote it: scheme, Host header, still-encoded path and query."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}{raw_path.decode('latin-1')}"
    query = request.scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url


def authorize(request: Request, config: EmulatorConfig, needed: frozenset[Right]) -> None:
    """Check the Authorization header; the rule must hold at least one of ``needed``.

    Raises EmulatorError: 401 for a missing, malformed, unsigned, expired or out-of-scope token or an unknown
    rule; 403 with an empty body when the rule lacks the right (as recorded for a Listen key that sends).
    """
    rule_name, rights = _verified_rule(request, config)
    if not rights & needed:
        logger.info("SAS refused: rule %s lacks %s", rule_name, sorted(needed))
        raise EmulatorError(403, "Forbidden", empty_body=True)


def authorize_manage(request: Request, config: EmulatorConfig) -> None:
    """Check the Authorization header of an operation that needs the Manage claim.

    Raises EmulatorError 401 as ``authorize`` does, and 401 "Manage claim is required for this operation." when
    the rule lacks Manage (as recorded for a management operation with a Listen+Send rule).
    """
    rule_name, rights = _verified_rule(request, config)
    if Right.MANAGE not in rights:
        logger.info("SAS refused: rule %s lacks Manage", rule_name)
        raise EmulatorError(401, "Manage claim is required for this operation.")


def _verified_rule(request: Request, config: EmulatorConfig) -> tuple[str, frozenset[Right]]:
    """The name and rights of the rule whose valid, unexpired, in-scope token the request carries."""
    header = request.headers.get("authorization")
    if not header:
        raise EmulatorError(401, "MissingToken: The authorization header was not found")
    try:
        token = parse_sas_token(header)
    except NhValidationError as exc:
        raise EmulatorError(401, f"MalformedToken: {exc}") from exc
    rule = config.rules().get(token.skn)
    if rule is None:
        logger.info("SAS refused: unknown rule %s", token.skn)
        raise EmulatorError(401, f"UnauthorizedAccess: The rule '{token.skn}' does not exist on this hub")
    key, rights = rule
    if not signature_matches(token, key):
        raise EmulatorError(401, "InvalidSignature: The token has an invalid signature.")
    if token.se + config.clock_skew <= config.clock():
        raise EmulatorError(401, f"ExpiredToken: The token is expired. Expiration time: '{token.se}'")
    if not audience_covers(token, request_url(request)):
        raise EmulatorError(401, "InvalidAudience: The token audience does not cover the requested resource.")
    return token.skn, rights
