"""Call a function as the Python worker does: async on the loop, sync in a thread, with a Context; log one line."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import threading
import time
import uuid
from typing import Any

import azure.functions as func
from azure.functions import _abc as func_abc

from local.devhost.functions import FunctionSpec

__all__ = ["InvocationContext", "invoke"]

logger = logging.getLogger("local.devhost")


class _TraceContext(func_abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(func_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``context`` argument: invocation id, function name and directory, trace and retry context."""

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._thread_local = threading.local()
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return os.getcwd()

    @property
    def trace_context(self) -> func_abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> func_abc.RetryContext:
        return self._retry


async def invoke(spec: FunctionSpec, trigger_value: Any, *, trigger: str, detail: str = "") -> Any:
    """Run the function once and log name, trigger, duration and outcome; exceptions propagate."""
    kwargs: dict[str, Any] = {spec.trigger_arg: trigger_value}
    context = InvocationContext(spec.name)
    if spec.context_arg:
        kwargs[spec.context_arg] = context
    started = time.perf_counter()
    outcome = "Succeeded"
    try:
        if spec.is_async:
            return await spec.handler(**kwargs)
        call = functools.partial(contextvars.copy_context().run, spec.handler, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)
    except BaseException as exc:
        outcome = f"Failed ({type(exc).__name__}: {exc})"
        raise
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        logger.info(
            "Executed Functions.%s (%s%s) %s in %.0f ms, id=%s",
            spec.name,
            trigger,
            f" {detail}" if detail else "",
            outcome,
            elapsed,
            context.invocation_id,
        )
