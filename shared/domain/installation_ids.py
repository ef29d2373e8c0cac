"""Which installation ids the app accepts: those usable inside NH's ``$InstallationId:{...}`` system tag."""

from __future__ import annotations

import re

from shared.domain.errors import FieldError, ValidationError

__all__ = ["INSTALLATION_ID_PATTERN", "validate_installation_id"]

INSTALLATION_ID_PATTERN = re.compile(r"^[-_@#.:=A-Za-z0-9]{1,128}$")


def validate_installation_id(installation_id: str) -> str:
    """Raises ValidationError unless the id is 1-128 of A-Z a-z 0-9 - _ @ # . : =."""
    if not INSTALLATION_ID_PATTERN.fullmatch(installation_id):
        raise ValidationError(
            "the installation id is invalid",
            [FieldError("path:installationId", "use 1 to 128 characters from A-Z a-z 0-9 - _ @ # . : =")],
        )
    return installation_id
