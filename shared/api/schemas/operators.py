"""What the operator routes answer: quarantined and dead-lettered events, and the outcome of a replay."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.config import JsonDict

from shared.api.schemas.views import View

__all__ = ["DeadLetterItem", "DeadLetterList", "ReplayResult"]

_DATE_TIME: JsonDict = {"format": "date-time"}


class DeadLetterItem(View):
    """A quarantined (malformed or unroutable) or dead-lettered (failed too often) event, with the reason."""

    id: str = Field(description="q-… for quarantined, d-… for dead-lettered; the id to replay")
    kind: Literal["quarantine", "deadletter"]
    topic: str
    subscription: str
    message_id: str | None
    reason: str | None
    description: str | None
    subject: str | None
    at: str | None = Field(json_schema_extra=_DATE_TIME)
    replayed_at: str | None = Field(json_schema_extra=_DATE_TIME)
    body: str = Field(description="the first 4 KB of the message body, as text")


class DeadLetterList(View):
    items: list[DeadLetterItem]


class ReplayResult(View):
    """The event was published to its topic again; a quarantined one with a fresh message id."""

    id: str
    kind: Literal["quarantine", "deadletter"]
    topic: str
    replayed: Literal[True]
    message_id: str | None = Field(default=None, description="the new message id (quarantined events only)")

    def wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
