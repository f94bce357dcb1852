"""Request conventions shared by every route: the body base class and the shapes of ids,
names and text, taken from `beatflow_platform.naming` and the contracts' protovalidate rules
(`bounds`, `max_length`) so that the OpenAPI document states exactly what the services accept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypedDict

from buf.validate import validate_pb2
from google.protobuf import message as protobuf_message
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

from beatflow.generator.v1 import generator_pb2 as gen
from beatflow_platform import naming
from beatflow_platform.grpc.field_rules import numeric_rules, string_rules

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Body(BaseModel):
    """Strict JSON types (no `false` for a number), no NaN or infinities, no unknown fields:
    they would otherwise reach protobuf or the services."""

    model_config = ConfigDict(allow_inf_nan=False, extra="forbid", strict=True)


class Bounds(TypedDict, total=False):
    """Keyword arguments of pydantic's Field and FastAPI's Query."""

    ge: float
    le: float
    gt: float
    lt: float


def bounds(message: type[protobuf_message.Message], name: str) -> Bounds:
    """pydantic's bounds (ge, le, gt, lt) of the contract's numeric rule for `message.name`; an int32
    field's range where the rule leaves a side open (a larger number could not be sent on)."""
    rules = numeric_rules(message, name)
    found = Bounds()
    for bound, key in (("gte", "ge"), ("lte", "le"), ("gt", "gt"), ("lt", "lt")):
        if rules.HasField(bound):
            found[key] = getattr(rules, bound)
    if isinstance(rules, validate_pb2.Int32Rules):
        if "gt" not in found:
            found.setdefault("ge", INT32_MIN)
        if "lt" not in found:
            found.setdefault("le", INT32_MAX)
    return found


def max_length(message: type[protobuf_message.Message], name: str) -> int:
    """The contract's longest value for the string field `message.name`."""
    return string_rules(message, name).max_len


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


def _shape(pattern: str, max_length: int | None = None) -> StringConstraints:
    return StringConstraints(pattern=pattern, max_length=max_length)


def _or_empty(rule: str) -> str:
    return f"empty or {rule}"


# Strings matching a pattern (stated in the OpenAPI schema); a mismatch is reported in words. "OrEmpty":
# or the empty string, which the services read as "the default".
Uuid = Annotated[str, _shape(naming.UUID), _in_words(naming.UUID_RULE)]
UuidOrEmpty = Annotated[str, _shape(naming.or_empty(naming.UUID)), _in_words(_or_empty(naming.UUID_RULE))]
Sha256 = Annotated[str, _shape(naming.SHA256), _in_words(naming.SHA256_RULE)]
Sha256OrEmpty = Annotated[str, _shape(naming.or_empty(naming.SHA256)), _in_words(_or_empty(naming.SHA256_RULE))]
Username = Annotated[str, _shape(naming.USERNAME), _in_words(naming.USERNAME_RULE)]
UsernameOrEmpty = Annotated[str, _shape(naming.or_empty(naming.USERNAME)), _in_words(_or_empty(naming.USERNAME_RULE))]
RepositoryName = Annotated[str, _shape(naming.REPOSITORY_NAME), _in_words(naming.REPOSITORY_NAME_RULE)]
RepositoryNameOrEmpty = Annotated[
    str, _shape(naming.or_empty(naming.REPOSITORY_NAME)), _in_words(_or_empty(naming.REPOSITORY_NAME_RULE))
]
StemName = Annotated[str, _shape(naming.STEM_NAME), _in_words(naming.STEM_NAME_RULE)]
RefName = Annotated[str, _shape(naming.REF_NAME, naming.MAX_REF_LENGTH), _in_words(naming.REF_NAME_RULE)]
RefNameOrEmpty = Annotated[
    str, _shape(naming.or_empty(naming.REF_NAME), naming.MAX_REF_LENGTH), _in_words(_or_empty(naming.REF_NAME_RULE))
]
KeySignatureOrEmpty = Annotated[
    str,
    _shape(naming.or_empty(naming.KEY_SIGNATURE), naming.MAX_KEY_SIGNATURE_LENGTH),
    _in_words(_or_empty(naming.KEY_SIGNATURE_RULE)),
]
# Where a branch, a tag or a commit id may stand: all three have the shape of a ref name.
Revision = RefName
RevisionOrEmpty = RefNameOrEmpty


@dataclass(frozen=True)
class ZeroOrRange:
    """0 or `low` to `high`: two ranges, which one minimum cannot state, so the schema says `anyOf`."""

    json_type: str  # "integer" or "number"
    low: float
    high: float
    zero_means: str

    @property
    def rule(self) -> str:
        return f"0 ({self.zero_means}) or {self.low:g} to {self.high:g}"

    def check(self, value: float) -> float:
        if value != 0 and not self.low <= value <= self.high:
            raise ValueError(f"must be {self.rule}")
        return value

    def schema(self) -> WithJsonSchema:
        ranges = [{"minimum": 0, "maximum": 0}, {"minimum": self.low, "maximum": self.high}]
        return WithJsonSchema({"anyOf": [{"type": self.json_type, **r} for r in ranges], "description": self.rule})


_BPM = ZeroOrRange("integer", naming.MIN_GENERATION_BPM, naming.MAX_GENERATION_BPM, "the engine chooses")
_COMMIT_BPM = ZeroOrRange("number", 1, naming.MAX_COMMIT_BPM, "unknown")
_WIDTH = ZeroOrRange("integer", naming.MIN_PICTURE_PIXELS, naming.MAX_PICTURE_WIDTH, "1200 pixels")
_HEIGHT = ZeroOrRange("integer", naming.MIN_PICTURE_PIXELS, naming.MAX_PICTURE_HEIGHT, "360 pixels")
GenerationBpm = Annotated[int, AfterValidator(_BPM.check), _BPM.schema()]
CommitBpm = Annotated[float, AfterValidator(_COMMIT_BPM.check), _COMMIT_BPM.schema()]
PictureWidth = Annotated[int, AfterValidator(_WIDTH.check), _WIDTH.schema()]
PictureHeight = Annotated[int, AfterValidator(_HEIGHT.check), _HEIGHT.schema()]
_TEXT = _in_words(naming.TEXT_RULE)
RequestId = Annotated[str, _shape(naming.TEXT, naming.MAX_REQUEST_ID_LENGTH), _TEXT]
Message = Annotated[str, _shape(naming.TEXT, naming.MAX_MESSAGE_LENGTH), _TEXT]
NonBlankMessage = Annotated[
    str, _shape(naming.NON_BLANK_TEXT, naming.MAX_MESSAGE_LENGTH), _in_words(naming.NON_BLANK_TEXT_RULE)
]
# Generation's free text (routes/ai.py).
PromptText = Annotated[str, _shape(naming.TEXT, naming.MAX_PROMPT_LENGTH), _TEXT]
Login = Annotated[str, _shape(naming.TEXT, naming.MAX_EMAIL_LENGTH), _TEXT]  # a username or an email
PageToken = Annotated[str, _shape(naming.TEXT, 2000), _TEXT]
JobKind = Annotated[str, _shape(naming.TEXT, 100), _TEXT]
Description = Annotated[str, _shape(naming.TEXT, naming.MAX_DESCRIPTION_LENGTH), _TEXT]
Genre = Annotated[str, _shape(naming.TEXT, naming.MAX_GENRE_LENGTH), _TEXT]
MoodText = Annotated[str, _shape(naming.TEXT, naming.MAX_MOOD_LENGTH), _TEXT]
OperationStem = Annotated[str, _shape(naming.TEXT, max_length(gen.Operation, "stem")), _TEXT]
