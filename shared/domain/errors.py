"""The application's exception tree.

PushError                       every error this package raises on purpose
├── ConfigError                 settings missing or invalid; the app cannot run as configured
├── ValidationError             input that can never be valid (carries the fields at fault)
├── AuthenticationRequiredError no identity on a request that needs one
├── ForbiddenError              an identity that may not do this
├── NotFoundError               the thing asked for does not exist
├── ConflictError               a concurrent change won; retrying may help
└── UpstreamError               a dependency (Notification Hubs, Tables, Service Bus) failed
    ├── PushRejectedError         Notification Hubs refused a request for good (``detail`` is its reason)
    └── UpstreamUnavailableError  ... in a way that may pass (throttling, 5xx, timeouts)

The Notification Hubs client keeps its own, more detailed tree under
``shared.notification_hubs.errors``; the NH gateway adapter translates it into this tree, so use cases
only ever catch the classes here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthenticationRequiredError",
    "ConfigError",
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "NotFoundError",
    "PushError",
    "PushRejectedError",
    "UpstreamError",
    "UpstreamUnavailableError",
    "ValidationError",
]


class PushError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(PushError):
    """Settings are missing or invalid."""


@dataclass(frozen=True)
class FieldError:
    """One field at fault: a JSON-pointer-like location and what is wrong with it."""

    location: str
    message: str


class ValidationError(PushError):
    """Input that can never be valid; ``errors`` lists the fields at fault."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = list(errors or [])


class AuthenticationRequiredError(PushError):
    """The request carries no identity, or one that cannot be trusted."""


class ForbiddenError(PushError):
    """The caller is known but may not do this."""


class NotFoundError(PushError):
    """The resource does not exist."""


class ConflictError(PushError):
    """A concurrent change won the race."""


class UpstreamError(PushError):
    """A dependency failed permanently for this request. ``cause`` names the failure's kind when the adapter knows it
    (``shared.domain.decisions.FailureCause`` values: throttled, auth, timeout, ...)."""

    cause: str | None = None


class UpstreamUnavailableError(UpstreamError):
    """A dependency failed in a way that may pass: throttling, 5xx, timeouts, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.cause = cause


class PushRejectedError(UpstreamError):
    """Notification Hubs refused the request and will refuse it again (bad request, rights, unknown hub)."""

    def __init__(self, detail: str, *, cause: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.cause = cause
