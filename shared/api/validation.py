"""Turn pydantic validation failures into our ValidationError with the fields at fault."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from shared.domain.errors import FieldError, ValidationError

__all__ = ["validate_model"]

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})


def validate_model(model: type[ModelT], payload: Any, what: str = "the request body") -> ModelT:
    """Validate ``payload``; raises ValidationError listing every field at fault (never pydantic's own error).

    For a model that is a union told apart by a field (a RootModel with a ``discriminator`` class variable), the
    locations are those of the body: the variant's tag, which pydantic puts first, is left out.
    """
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        tag_field = getattr(model, "discriminator", None)
        errors = [_field_error(err, tag_field) for err in exc.errors(include_url=False)]
        raise ValidationError(f"{what} is invalid", errors) from None


def _field_error(err: Any, tag_field: str | None) -> FieldError:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    if err.get("type") in _TAG_ERRORS and tag_field:
        expected = err.get("ctx", {}).get("expected_tags", "")
        missing = err["type"] == "union_tag_not_found"
        return FieldError(f"/{tag_field}", "required" if missing else f"expected one of {expected}")
    if tag_field and loc and isinstance(loc[0], str):
        loc = loc[1:]
    return FieldError(_location(loc), _message(err))


def _location(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(part) for part in loc) if loc else "/"


def _message(err: Any) -> str:
    message = str(err.get("msg", "invalid"))
    if err.get("type") == "extra_forbidden":
        return "unknown field; this field is not accepted"
    return message.removeprefix("Value error, ")
