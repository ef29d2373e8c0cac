"""Errors raised by the Notification Hubs client and its validators.

NotificationHubsError                   (shared.domain.errors.PushError)
├── NhConfigurationError                bad connection string or hub name        (also ConfigError)
├── NhValidationError                   refused before any request was sent      (also ValidationError)
└── NhRequestError                      the service (or the network) failed the request (also UpstreamError)
    ├── NhAuthenticationError           401: bad or expired token, missing claim
    ├── NhForbiddenError                403 without Retry-After: rights, quota or tier feature
    ├── NhNotFoundError                 404: no such installation, notification or hub
    ├── NhInvalidRequestError           400 / 413: NH refused the request; ``detail`` is NH's text
    └── NhRetryableError                may pass if tried again later           (also UpstreamUnavailableError)
        ├── NhThrottledError            429, or 403 with Retry-After; ``retry_after`` in seconds
        └── NhTransientError            5xx, 408, timeouts, connection errors

Only NhRetryableError subclasses are retried by the client.
"""

from __future__ import annotations

from shared.domain.errors import (
    ConfigError,
    FieldError,
    PushError,
    UpstreamError,
    UpstreamUnavailableError,
    ValidationError,
)

__all__ = [
    "NhAuthenticationError",
    "NhConfigurationError",
    "NhForbiddenError",
    "NhInvalidRequestError",
    "NhNotFoundError",
    "NhRequestError",
    "NhRetryableError",
    "NhThrottledError",
    "NhTransientError",
    "NhValidationError",
    "NotificationHubsError",
]


class NotificationHubsError(PushError):
    """Base of every Notification Hubs error."""


class NhConfigurationError(NotificationHubsError, ConfigError):
    """The connection string or hub name cannot be used."""


class NhValidationError(NotificationHubsError, ValidationError):
    """A request was refused on the client side, before anything was sent."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        ValidationError.__init__(self, detail, errors)


class NhRequestError(NotificationHubsError, UpstreamError):
    """The service answered with an error status, or the request never got an answer."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: str | None = None,
        tracking_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        Exception.__init__(self, message)
        self.status_code = status_code
        self.detail = detail
        self.tracking_id = tracking_id
        self.retry_after = retry_after


class NhAuthenticationError(NhRequestError):
    """401: the SAS token was refused (bad signature, expired, unknown rule, missing claim)."""


class NhForbiddenError(NhRequestError):
    """403 without Retry-After: insufficient rights, quota, or a feature the hub's tier lacks."""


class NhNotFoundError(NhRequestError):
    """404: the installation, notification or hub does not exist."""


class NhInvalidRequestError(NhRequestError):
    """400 or 413: NH refused the request as malformed or too large."""


class NhRetryableError(NhRequestError, UpstreamUnavailableError):
    """The failure may pass: the client retries these within its budget."""


class NhThrottledError(NhRetryableError):
    """429, or 403 with Retry-After: NH asks the caller to slow down for ``retry_after`` seconds."""


class NhTransientError(NhRetryableError):
    """5xx, 408, a timeout or a dropped connection."""
