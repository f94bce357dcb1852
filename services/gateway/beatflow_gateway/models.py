"""Request conventions shared by every route: the body base class and the shapes of ids,
names and text, taken from `beatflow_platform.naming` so that the OpenAPI document states
exactly what the services accept."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from beatflow_platform import naming

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Body(BaseModel):
    """Strict JSON types (no `false` for a number), no NaN or infinities, no unknown fields:
    they would otherwise reach protobuf or the services."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)


def seed_field():
    return Field(default=0, ge=INT64_MIN, le=INT64_MAX)


def _in_words(rule: str) -> WrapValidator:
    """Pydantic's own message for a value of the wrong shape prints the regex; clients read the rule."""

    def validate(value, handler):
        try:
            return handler(value)
        except ValidationError as error:
            if any(issue["type"] == "string_pattern_mismatch" for issue in error.errors()):
                raise PydanticCustomError("string_pattern_mismatch", "must be {rule}", {"rule": rule}) from None
            raise

    return WrapValidator(validate)


def shaped(pattern: str, rule: str, max_length: int | None = None) -> type[str]:
    """A string matching `pattern` (stated in the OpenAPI schema); a mismatch is reported as `rule`."""
    return Annotated[str, StringConstraints(pattern=pattern, max_length=max_length), _in_words(rule)]


def _or_empty(pattern: str, rule: str, max_length: int | None = None) -> type[str]:
    """The shape, or the empty string (which the services read as "the default")."""
    return shaped(f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$", f"empty or {rule}", max_length)


def text(max_length: int) -> type[str]:
    """Free text up to a length: anything PostgreSQL can store."""
    return shaped(naming.TEXT, naming.TEXT_RULE, max_length)


Uuid = shaped(naming.UUID, naming.UUID_RULE)
UuidOrEmpty = _or_empty(naming.UUID, naming.UUID_RULE)
Sha256 = shaped(naming.SHA256, naming.SHA256_RULE)
Sha256OrEmpty = _or_empty(naming.SHA256, naming.SHA256_RULE)
Email = shaped(naming.EMAIL, naming.EMAIL_RULE, naming.MAX_EMAIL_LENGTH)
Username = shaped(naming.USERNAME, naming.USERNAME_RULE)
UsernameOrEmpty = _or_empty(naming.USERNAME, naming.USERNAME_RULE)
RepositoryName = shaped(naming.REPOSITORY_NAME, naming.REPOSITORY_NAME_RULE)
RepositoryNameOrEmpty = _or_empty(naming.REPOSITORY_NAME, naming.REPOSITORY_NAME_RULE)
StemName = shaped(naming.STEM_NAME, naming.STEM_NAME_RULE)
RefName = shaped(naming.REF_NAME, naming.REF_NAME_RULE, naming.MAX_REF_LENGTH)
RefNameOrEmpty = _or_empty(naming.REF_NAME, naming.REF_NAME_RULE, naming.MAX_REF_LENGTH)
KeySignatureOrEmpty = _or_empty(naming.KEY_SIGNATURE, naming.KEY_SIGNATURE_RULE, naming.MAX_KEY_SIGNATURE_LENGTH)
# Where a branch, a tag or a commit id may stand: all three have the shape of a ref name.
Revision = RefName
RevisionOrEmpty = RefNameOrEmpty
Prompt = shaped(naming.NON_BLANK_TEXT, naming.NON_BLANK_TEXT_RULE, naming.MAX_PROMPT_LENGTH)


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
NonBlankMessage = shaped(naming.NON_BLANK_TEXT, naming.NON_BLANK_TEXT_RULE, naming.MAX_MESSAGE_LENGTH)
