"""RFC 9457 problem details (every error answer) and the health report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FieldProblem", "HealthReport", "Problem"]


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str = Field(description="JSON Pointer into the body, or path:/header: and the parameter name")
    message: str


class Problem(BaseModel):
    """application/problem+json (RFC 9457); validation problems list the fields at fault in ``errors``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(json_schema_extra={"format": "uri"})
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class Liveness(BaseModel):
    """Anonymous liveness: nothing about the configuration or the dependencies."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "unavailable"]


class HealthReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "degraded"]
    checks: dict[str, dict[str, Any]] = Field(description="one entry per dependency: status and latency, no secrets")
