"""The invocations a trigger has started and not yet seen finish, so that stopping can wait for them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["InFlight"]


class InFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, invocation: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``invocation`` as a task, remembered until it finishes."""
        task = asyncio.get_running_loop().create_task(invocation)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for every running invocation."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
