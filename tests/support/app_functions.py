"""function_app's functions, indexed once: azure.functions refuses a second get_functions() in one process."""

from __future__ import annotations

from functools import cache
from typing import Any

import function_app


@cache
def functions() -> tuple[Any, ...]:
    return tuple(function_app.app.get_functions())


def triggers() -> list[dict[str, Any]]:
    """Each function's trigger binding as the host reads it (type, route, methods, topicName, ...)."""
    return [dict(function.get_trigger().get_dict_repr()) for function in functions()]
