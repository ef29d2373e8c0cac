"""Self time of a pyinstrument session, grouped by the component (library or project package) its code belongs to."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["profile_components"]


def profile_components(profiler: Any) -> dict[str, float]:
    """Self time of a pyinstrument session grouped by the component its file belongs to (seconds)."""
    session = profiler.last_session
    root = session.root_frame()
    totals: Counter[str] = Counter()

    def walk(frame: Any, inherited: str) -> None:
        path = frame.file_path or ""
        # pyinstrument keeps self time in "[self]" leaves and built-ins: they belong to their caller's component.
        component = inherited if not path or path == "<built-in>" else _component(path, frame.function or "")
        if frame.function in ("select", "poll", "epoll.poll"):
            component = "waiting for I/O (idle)"
        totals[component] += frame.time - sum(child.time for child in frame.children)
        for child_frame in frame.children:
            walk(child_frame, component)

    if root is not None:
        walk(root, "other")
    return {name: round(seconds, 3) for name, seconds in totals.most_common()}


_COMPONENTS = (
    ("/azure/core/", "azure-core pipeline (Tables SDK)"),
    ("/azure/data/tables/", "azure-data-tables"),
    ("/aiohttp/", "aiohttp (Tables transport: the SDK's and the row requests')"),
    ("/httpx/", "httpx (NH client)"),
    ("/h11/", "h11 + NH transport (NH client)"),
    ("/shared/notification_hubs/transport.py", "h11 + NH transport (NH client)"),
    ("/shared/notification_hubs/http11.py", "h11 + NH transport (NH client)"),
    ("/ssl.py", "TLS"),
    ("/local/bus/", "local bus (SQLite)"),
    ("/local/devhost/", "dev host trigger + invoke"),
    ("/azure/functions/", "azure.functions message objects"),
    ("/shared/notification_hubs/", "shared: NH client"),
    ("/shared/adapters/tables/row_writer.py", "shared: Tables row writer (delivery log, ledger, inbox writes)"),
    ("/shared/adapters/tables/row_batch.py", "shared: Tables row writer (delivery log, ledger, inbox writes)"),
    ("/shared/adapters/tables/row_reader.py", "shared: Tables row reader (preferences, devices)"),
    ("/shared/adapters/tables/row_requests.py", "shared: Tables signed requests (writer's and reader's)"),
    ("/shared/adapters/", "shared: Tables adapters"),
    ("/shared/", "shared: events, plan, dispatch"),
    ("/asyncio/", "asyncio event loop"),
    ("/selectors.py", "waiting for I/O (idle)"),
    ("/logging/", "logging"),
    ("/json/", "json"),
    ("/email/", "email package (Tables SDK: multipart transaction bodies, built and parsed)"),
    ("/urllib/", "urllib"),
)


def _component(path: str, function: str) -> str:
    for needle, name in _COMPONENTS:
        if needle in path:
            return name
    return "other"
