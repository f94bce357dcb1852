"""Request-body conventions shared by every route."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Body(BaseModel):
    """Rejects NaN and infinities and unknown fields: they would otherwise reach protobuf or the services."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


def seed_field():
    return Field(default=0, ge=INT64_MIN, le=INT64_MAX)
