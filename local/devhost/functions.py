"""Index a func.FunctionApp from its own metadata: each function's trigger binding and Python callable."""

from __future__ import annotations

import importlib
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import azure.functions as func

from local.devhost.worker_input import check_annotation
from shared.domain.errors import ConfigError

__all__ = ["FunctionSpec", "TriggerKind", "index_app", "load_app"]


class TriggerKind(StrEnum):
    HTTP = "httpTrigger"
    TIMER = "timerTrigger"
    SERVICE_BUS = "serviceBusTrigger"


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the host sees it: its name, trigger binding (function.json form) and callable."""

    name: str
    kind: TriggerKind
    binding: dict[str, Any]
    handler: Callable[..., Any]
    trigger_arg: str
    context_arg: str | None
    is_async: bool

    @property
    def is_batch(self) -> bool:
        """A Service Bus trigger with cardinality "many": the function takes a list of messages."""
        return str(self.binding.get("cardinality") or "one").lower() == "many"


def load_app(module_name: str, attribute: str = "app") -> func.FunctionApp:
    """Import the module and return its FunctionApp. Raises ConfigError when there is none."""
    module = importlib.import_module(module_name)
    app = getattr(module, attribute, None)
    if not isinstance(app, func.FunctionApp):
        raise ConfigError(f"{module_name}.{attribute} is not an azure.functions.FunctionApp")
    return app


def index_app(app: func.FunctionApp) -> list[FunctionSpec]:
    """Every function of the app. Raises ConfigError for triggers or bindings the dev host cannot run.

    FunctionApp.get_functions() may be called once per app: the library remembers names and refuses repeats.
    """
    specs = [_spec(function) for function in app.get_functions()]
    names = [spec.name.lower() for spec in specs]
    if len(set(names)) != len(names):
        raise ConfigError("function names must be unique (case-insensitively)")
    return specs


def _spec(function: func.Function) -> FunctionSpec:
    name = function.get_function_name() or function.get_user_function().__name__
    document = json.loads(function.get_function_json())
    bindings: list[dict[str, Any]] = document.get("bindings", [])
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise ConfigError(f"function {name!r} must have exactly one trigger")
    trigger = triggers[0]
    try:
        kind = TriggerKind(trigger["type"])
    except ValueError as exc:
        raise ConfigError(f"function {name!r}: the dev host does not run {trigger['type']} triggers") from exc
    for binding in bindings:
        if binding is trigger:
            continue
        if kind is TriggerKind.HTTP and binding.get("type") == "http" and binding.get("name") == "$return":
            continue
        raise ConfigError(
            f"function {name!r}: binding {binding.get('type')!r} ({binding.get('name')!r}) is not supported by the"
            " dev host; use the SDK from shared/ instead"
        )
    if kind is TriggerKind.SERVICE_BUS:
        if "topicName" not in trigger:
            raise ConfigError(f"function {name!r}: only topic subscriptions are supported (no queue triggers)")
        if trigger.get("isSessionsEnabled"):
            raise ConfigError(f"function {name!r}: session-enabled triggers are not supported by the dev host")
        if str(trigger.get("cardinality") or "one").lower() not in ("one", "many"):
            raise ConfigError(f"function {name!r}: cardinality must be 'one' or 'many'")
        if trigger.get("autoCompleteMessages") is False:
            raise ConfigError(f"function {name!r}: auto_complete_messages=False is not supported by the dev host")
    handler = function.get_user_function()
    parameters = inspect.signature(handler).parameters
    trigger_arg = str(trigger["name"])
    context_arg = "context" if "context" in parameters else None
    for parameter in parameters.values():
        if parameter.name not in (trigger_arg, context_arg) and parameter.default is inspect.Parameter.empty:
            raise ConfigError(f"function {name!r}: parameter {parameter.name!r} has no binding")
    if trigger_arg not in parameters:
        raise ConfigError(f"function {name!r}: the trigger binding {trigger_arg!r} is not a parameter")
    annotation = _annotation(handler, trigger_arg)
    if not check_annotation(kind.value, annotation):
        # The worker refuses to load such a function: its converter could not produce the annotated type.
        raise ConfigError(
            f"function {name!r}: the {kind.value} binding cannot be given to parameter {trigger_arg!r}"
            f" annotated {annotation!r}"
        )
    return FunctionSpec(
        name=name,
        kind=kind,
        binding=trigger,
        handler=handler,
        trigger_arg=trigger_arg,
        context_arg=context_arg,
        is_async=inspect.iscoroutinefunction(handler),
    )


def _annotation(handler: Callable[..., Any], parameter: str) -> Any:
    """The parameter's resolved annotation (None when there is none or it cannot be resolved)."""
    try:
        return typing.get_type_hints(handler).get(parameter)
    except (NameError, TypeError):
        return None
