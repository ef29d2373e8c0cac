"""Turn pydantic validation failures into our ValidationError with the fields at fault."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from shared.domain.errors import FieldError, ValidationError

__all__ = ["validate_model"]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


def validate_model(model: type[ModelT], payload: Any, what: str = "the request body") -> ModelT:
    """Validate ``payload``; raises ValidationError listing every field at fault (never pydantic's own error)."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        errors = [FieldError(_location(err["loc"]), _message(err)) for err in exc.errors(include_url=False)]
        raise ValidationError(f"{what} is invalid", errors) from None


def _location(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(part) for part in loc) if loc else "/"


def _message(err: Any) -> str:
    message = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        return "unknown field; this field is not accepted"
    return message.removeprefix("Value error, ")
