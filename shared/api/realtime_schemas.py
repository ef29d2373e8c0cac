"""The shapes of the real-time routes: negotiate's answer, the inbox query and page, as pydantic models (the OpenAPI
document is built from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.domain.inbox import INBOX_CURSOR_PATTERN, INBOX_PAGE_MAX, InboxEntry, InboxPage
from shared.ports import ClientConnection

__all__ = ["InboxItem", "InboxPageResponse", "InboxQuery", "NegotiateResponse"]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class NegotiateResponse(_Camel):
    """POST /api/negotiate: where the official SignalR client connects, and with which token."""

    url: str
    access_token: str

    @classmethod
    def of(cls, connection: ClientConnection) -> NegotiateResponse:
        return cls(url=connection.url, access_token=connection.access_token)


class InboxQuery(_Camel):
    """GET /api/me/notifications?limit=&cursor=."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    limit: int = Field(default=20, ge=1, le=INBOX_PAGE_MAX, description="page size")
    cursor: str | None = Field(
        default=None,
        pattern=INBOX_CURSOR_PATTERN,
        description="`nextCursor` of the previous page: the page starts after this position",
    )


class InboxItem(_Camel):
    """One notification as the user's inbox shows it, in the user's language."""

    id: str = Field(description="the notification id: the in-app message's id and the push's notificationId")
    type: str
    title: str
    body: str
    language: str
    deep_link: str
    category: str
    silent: bool
    data: dict[str, Any]
    created_at: datetime
    channels: list[str] = Field(description="channels that delivered it: inapp, push")
    seen_at: datetime | None
    read_at: datetime | None

    @classmethod
    def of(cls, entry: InboxEntry) -> InboxItem:
        return cls(
            id=entry.notification_id,
            type=entry.event_type,
            title=entry.title,
            body=entry.body,
            language=entry.language,
            deep_link=entry.deep_link,
            category=entry.category,
            silent=entry.silent,
            data=entry.data,
            created_at=entry.created_at,
            channels=list(entry.channels),
            seen_at=entry.seen_at,
            read_at=entry.read_at,
        )


class InboxPageResponse(_Camel):
    items: list[InboxItem]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null on the last")

    @classmethod
    def of(cls, page: InboxPage) -> InboxPageResponse:
        return cls(items=[InboxItem.of(entry) for entry in page.items], next_cursor=page.next_cursor)
