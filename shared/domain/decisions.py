"""The decision ledger's vocabulary: what the pipeline decided for one event and one recipient, and why.

One ``Decision`` per event, recipient and channel; for a topic broadcast one per event and channel (no recipient,
the tag expression and the audience size instead). A later decision on the same event, recipient and channel (a
redelivery after a transient failure, a replay) replaces the earlier one: the ledger keeps the current answer to
"was Alice told, and if not, why?", not a history of attempts.

| outcome       | reasons                                                                        |
|---------------|--------------------------------------------------------------------------------|
| sent          | delivered (handed to Notification Hubs; ``nh_outcome`` says what NH reported)  |
| suppressed    | below_threshold, no_device, not_interested                                     |
| deferred      | quiet_hours (the alert went out silently: data only, no banner, no sound)      |
| quarantined   | invalid_json, not_a_cloud_event, unknown_type, invalid_payload, source_mismatch,    |
|               | oversized, unroutable, nh_rejected                                             |
| failed        | throttled, auth, bad_request, bad_channel, not_found, timeout, unavailable: a  |
|               | transient cause; the bus redelivers, and on the last delivery the broker       |
|               | dead-letters the message (``dead_lettered`` is set)                            |

``not_interested`` is never written by the pipeline: it is the answer for a broadcast that a user's devices did not
match (computed when the ledger is read, see ``explain_broadcast``). Channels and campaign ids are plain fields, so
in-app delivery and campaigns fit without a change of the stored shape.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from shared.domain.device_templates import TEMPLATE_NAMES
from shared.notification_hubs.tag_expressions import parse_tag_expression
from shared.notification_hubs.tag_matching import matches

__all__ = [
    "QUARANTINE_REASONS",
    "Channel",
    "Decision",
    "FailureCause",
    "Outcome",
    "Reason",
    "explain_broadcast",
]


class Outcome(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class Channel(StrEnum):
    PUSH = "push"
    IN_APP = "in_app"


class Reason(StrEnum):
    DELIVERED = "delivered"
    BELOW_THRESHOLD = "below_threshold"
    NO_DEVICE = "no_device"
    NOT_INTERESTED = "not_interested"
    QUIET_HOURS = "quiet_hours"
    # quarantined: the event's own fault (the codes of shared.domain.events) or NH refusing the send for good
    INVALID_JSON = "invalid_json"
    NOT_A_CLOUD_EVENT = "not_a_cloud_event"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_PAYLOAD = "invalid_payload"
    SOURCE_MISMATCH = "source_mismatch"
    OVERSIZED = "oversized"
    UNROUTABLE = "unroutable"
    NH_REJECTED = "nh_rejected"


class FailureCause(StrEnum):
    """Why a call to Notification Hubs (or storage) failed; also the ``cause`` attribute of the NH send metric."""

    THROTTLED = "throttled"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    BAD_CHANNEL = "bad_channel"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    STORAGE = "storage"


QUARANTINE_REASONS = frozenset(
    {
        Reason.INVALID_JSON,
        Reason.NOT_A_CLOUD_EVENT,
        Reason.UNKNOWN_TYPE,
        Reason.INVALID_PAYLOAD,
        Reason.SOURCE_MISMATCH,
        Reason.OVERSIZED,
        Reason.UNROUTABLE,
        Reason.NH_REJECTED,
    }
)


@dataclass(frozen=True)
class Decision:
    """What the pipeline decided for one event, one recipient (``None``: a broadcast) and one channel.

    ``occurred_at`` is when the event happened (its CloudEvent ``time``, else when the bus took the message): it is
    the same on every redelivery, so the ledger's time-ordered rows are replaced rather than repeated.
    ``reason`` is a ``Reason`` for sent/suppressed/deferred/quarantined and a ``FailureCause`` for failed.
    """

    event_id: str
    outcome: Outcome
    reason: str
    occurred_at: datetime
    decided_at: datetime
    event_type: str | None = None
    channel: Channel = Channel.PUSH
    user_id: str | None = None
    audience: str | None = None
    audience_size: int | None = None
    notification_id: str | None = None
    nh_outcome: str | None = None
    detail: str | None = None
    campaign_id: str | None = None
    trace_id: str | None = None
    subscription: str | None = None
    attempt: int = 1
    latency_ms: float | None = None
    dead_lettered: bool = False

    @property
    def broadcast(self) -> bool:
        return self.user_id is None


def explain_broadcast(decision: Decision, user_id: str, device_tags: Collection[Collection[str]]) -> Decision:
    """A broadcast decision as it reads for one user: unchanged when one of the user's devices (their tags, plus the
    template names every device has) matches the tag expression, else ``suppressed / not_interested`` (or
    ``no_device`` when the user has no device at all). Raises ValueError for a decision that is not a broadcast.
    """
    if not decision.broadcast:
        raise ValueError("only a broadcast decision can be explained for a user")
    if decision.outcome is not Outcome.SENT or decision.audience is None:
        return replace(decision, user_id=user_id)
    if not device_tags:
        return replace(decision, user_id=user_id, outcome=Outcome.SUPPRESSED, reason=Reason.NO_DEVICE)
    expression = parse_tag_expression(decision.audience)
    if any(matches(expression, [*tags, *TEMPLATE_NAMES]) for tags in device_tags):
        return replace(decision, user_id=user_id)
    detail = f"none of the user's devices matches {decision.audience} (read against the devices as they are now)"
    return replace(decision, user_id=user_id, outcome=Outcome.SUPPRESSED, reason=Reason.NOT_INTERESTED, detail=detail)
