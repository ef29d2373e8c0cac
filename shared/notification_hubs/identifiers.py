"""Checks for installation ids, user ids and request sizes that Notification Hubs enforces (NH-REST §3.1, §7)."""

from __future__ import annotations

import re

from shared.domain.errors import FieldError
from shared.notification_hubs.errors import NhValidationError

__all__ = [
    "MAX_INSTALLATION_ID_LENGTH",
    "MAX_REQUEST_BYTES",
    "MAX_USER_ID_LENGTH",
    "check_request_size",
    "validate_installation_id",
    "validate_user_id",
]

# NH documents no length limits for these; 200 matches its other name limits and keeps system tags sane.
MAX_INSTALLATION_ID_LENGTH = 200
MAX_USER_ID_LENGTH = 200
MAX_REQUEST_BYTES = 64 * 1024

# The .NET SDK's `[-_@#.:=\w]+`, restricted to ASCII word characters.
_IDENTIFIER = re.compile(r"[-_@#.:=A-Za-z0-9]+")
_ALLOWED = "letters, digits and - _ @ # . : ="


def validate_installation_id(installation_id: str) -> None:
    """Check an installation id is usable in ``$InstallationId:{…}``; raises NhValidationError."""
    _validate(installation_id, "installationId", "installation id", MAX_INSTALLATION_ID_LENGTH)


def validate_user_id(user_id: str) -> None:
    """Check a user id is usable in ``$UserId:{…}``; raises NhValidationError."""
    _validate(user_id, "userId", "user id", MAX_USER_ID_LENGTH)


def _validate(value: str, location: str, what: str, max_length: int) -> None:
    problem: str | None = None
    if not value:
        problem = f"the {what} must not be empty"
    elif len(value) > max_length:
        problem = f"the {what} may have at most {max_length} characters, this one has {len(value)}"
    elif _IDENTIFIER.fullmatch(value) is None:
        bad = next(char for char in value if _IDENTIFIER.fullmatch(char) is None)
        problem = f"the {what} contains {bad!r}; only {_ALLOWED} are allowed"
    if problem is not None:
        raise NhValidationError(f"invalid {what}: {problem}", [FieldError(location, problem)])


def check_request_size(body: bytes) -> None:
    """Refuse bodies over 64 KiB, which Notification Hubs rejects with 413; raises NhValidationError."""
    if len(body) > MAX_REQUEST_BYTES:
        problem = f"the request body has {len(body)} bytes; Notification Hubs accepts at most {MAX_REQUEST_BYTES}"
        raise NhValidationError(problem, [FieldError("body", problem)])
