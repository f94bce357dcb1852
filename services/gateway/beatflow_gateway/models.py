"""Request conventions shared by every route: the body base class and the shapes of ids,
names and text, taken from `beatflow_platform.naming` so that the OpenAPI document states
exactly what the services accept."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from beatflow_platform import naming

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Body(BaseModel):
    """Strict JSON types (no `false` for a number), no NaN or infinities, no unknown fields:
    they would otherwise reach protobuf or the services."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)


def seed_field():
    return Field(default=0, ge=INT64_MIN, le=INT64_MAX)


def _or_empty(pattern: str) -> str:
    """The pattern, or the empty string (which the services read as "the default")."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$"


def text(max_length: int) -> type[str]:
    """Free text up to a length: anything PostgreSQL can store."""
    return Annotated[str, StringConstraints(pattern=naming.TEXT, max_length=max_length)]


Uuid = Annotated[str, StringConstraints(pattern=naming.UUID)]
UuidOrEmpty = Annotated[str, StringConstraints(pattern=_or_empty(naming.UUID))]
Sha256 = Annotated[str, StringConstraints(pattern=naming.SHA256)]
Sha256OrEmpty = Annotated[str, StringConstraints(pattern=_or_empty(naming.SHA256))]
Username = Annotated[str, StringConstraints(pattern=naming.USERNAME)]
UsernameOrEmpty = Annotated[str, StringConstraints(pattern=_or_empty(naming.USERNAME))]
RepositoryName = Annotated[str, StringConstraints(pattern=naming.REPOSITORY_NAME)]
RepositoryNameOrEmpty = Annotated[str, StringConstraints(pattern=_or_empty(naming.REPOSITORY_NAME))]
StemName = Annotated[str, StringConstraints(pattern=naming.STEM_NAME)]
RefName = Annotated[str, StringConstraints(pattern=naming.REF_NAME, max_length=naming.MAX_REF_LENGTH)]
RefNameOrEmpty = Annotated[str, StringConstraints(pattern=_or_empty(naming.REF_NAME), max_length=naming.MAX_REF_LENGTH)]
KeySignatureOrEmpty = Annotated[
    str, StringConstraints(pattern=_or_empty(naming.KEY_SIGNATURE), max_length=naming.MAX_KEY_SIGNATURE_LENGTH)
]
# Where a branch, a tag or a commit id may stand: all three have the shape of a ref name.
Revision = RefName
RevisionOrEmpty = RefNameOrEmpty
Prompt = Annotated[str, StringConstraints(pattern=naming.NON_BLANK_TEXT, max_length=naming.MAX_PROMPT_LENGTH)]


def _zero_or_range(kind: type, low: float, high: float, zero_means: str) -> type:
    """0 or `low` to `high`: two ranges, which one minimum cannot state, so the schema says `anyOf`."""
    rule = f"0 ({zero_means}) or {low:g} to {high:g}"

    def check(value):
        if value != 0 and not low <= value <= high:
            raise ValueError(f"must be {rule}")
        return value

    json_type = "integer" if kind is int else "number"
    ranges = [{"type": json_type, "minimum": 0, "maximum": 0}, {"type": json_type, "minimum": low, "maximum": high}]
    return Annotated[kind, AfterValidator(check), WithJsonSchema({"anyOf": ranges, "description": rule})]


GenerationBpm = _zero_or_range(int, naming.MIN_GENERATION_BPM, naming.MAX_GENERATION_BPM, "the engine chooses")
CommitBpm = _zero_or_range(float, 1, naming.MAX_COMMIT_BPM, "unknown")
PictureWidth = _zero_or_range(int, naming.MIN_PICTURE_PIXELS, naming.MAX_PICTURE_WIDTH, "1200 pixels")
PictureHeight = _zero_or_range(int, naming.MIN_PICTURE_PIXELS, naming.MAX_PICTURE_HEIGHT, "360 pixels")
RequestId = text(naming.MAX_REQUEST_ID_LENGTH)
Message = text(naming.MAX_MESSAGE_LENGTH)
NonBlankMessage = Annotated[str, StringConstraints(pattern=naming.NON_BLANK_TEXT, max_length=naming.MAX_MESSAGE_LENGTH)]
