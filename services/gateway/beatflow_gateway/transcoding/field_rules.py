"""The shapes the services accept for request fields, stated in the OpenAPI document: derived from
the contracts' protovalidate (`buf.validate`) rules, which every service enforces, so the document
and the services cannot disagree.

Only the Unicode name shapes come from elsewhere (`UNICODE_NAMES`): a rule states their lengths,
while their character classes live in `beatflow_platform.naming`, which the services check them
with (see its docstring for why a proto pattern cannot say them alike for every engine).
"""

from __future__ import annotations

from typing import Any

from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from beatflow_gateway.transcoding.schemas import SCALARS
from beatflow_platform import naming
from beatflow_platform.grpc.field_rules import ignores_empty, rules_of

# Field (message full name . field name) -> its pattern; for a list, each item's. Empty where the
# services read empty as "none" or "unchanged".
UNICODE_NAMES: dict[str, str] = {
    "beatflow.vcs.v1.CreateRepositoryRequest.name": naming.REPOSITORY_NAME,
    "beatflow.vcs.v1.ForkRepositoryRequest.fork_name": naming.or_empty(naming.REPOSITORY_NAME),
    "beatflow.vcs.v1.Repository.name": naming.or_empty(naming.REPOSITORY_NAME),
    "beatflow.vcs.v1.StemInput.name": naming.STEM_NAME,
    "beatflow.vcs.v1.CreateCommitRequest.remove_stems": naming.STEM_NAME,
    "beatflow.vcs.v1.CreateCommentRequest.stem": naming.or_empty(naming.STEM_NAME),
    "beatflow.vcs.v1.RenderCommitRequest.mute": naming.STEM_NAME,
    "beatflow.vcs.v1.RenderCommitRequest.solo": naming.STEM_NAME,
}
# protovalidate's well-known string formats the contracts use, as patterns.
_FORMATS = {"uuid": naming.UUID}
# A path variable of one of these shapes matches only such values (Starlette convertors, see paths.py).
_CONVERTORS = {naming.UUID: "uuid_id", naming.SHA256: "sha256", naming.USERNAME: "username"}
_NUMERIC = ("int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64")
_NUMERIC += ("float", "double")
# 64-bit integers travel as strings in proto3 JSON; their bounds are not stated as numbers.
_AS_STRINGS = {"int64", "uint64", "sint64", "fixed64", "sfixed64"}


def rule(message: Descriptor, field: FieldDescriptor) -> dict[str, Any] | None:
    """The schema of `field` of `message` as the services accept it; None: the plain proto3 JSON type."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return None  # messages and maps: their own fields carry the rules
    rules = rules_of(field)
    name_pattern = UNICODE_NAMES.get(f"{message.full_name}.{field.name}")
    if rules is None and name_pattern is None:
        return None
    rules = rules or validate_pb2.FieldRules()
    if field.is_repeated:
        items = _single(field, rules.repeated.items, name_pattern)
        schema: dict[str, Any] = {"type": "array", "items": items}
        if rules.repeated.HasField("min_items"):
            schema["minItems"] = rules.repeated.min_items
        if rules.repeated.HasField("max_items"):
            schema["maxItems"] = rules.repeated.max_items
        return schema
    return _single(field, rules, name_pattern)


def _single(field: FieldDescriptor, rules: validate_pb2.FieldRules, name_pattern: str | None) -> dict[str, Any]:
    kind = rules.WhichOneof("type")
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string(rules, name_pattern)
    if field.type == FieldDescriptor.TYPE_ENUM:
        allowed = set(getattr(rules.enum, "in"))  # `in`: a Python keyword
        assert field.enum_type is not None
        names = [value.name for value in field.enum_type.values if not allowed or value.number in allowed]
        return {"type": "string", "enum": names}
    base = dict(SCALARS[field.type])
    if kind not in _NUMERIC or kind in _AS_STRINGS:
        return base
    numeric = getattr(rules, kind)
    bounds = {
        key: getattr(numeric, bound)
        for bound, key in (
            ("gte", "minimum"),
            ("lte", "maximum"),
            ("gt", "exclusiveMinimum"),
            ("lt", "exclusiveMaximum"),
        )
        if numeric.HasField(bound)
    }
    ranged = {**base, **bounds}
    if not ignores_empty(rules):
        return ranged
    # 0 is the default, the range the values asked for: two ranges, which one minimum cannot state.
    low, high = bounds.get("minimum", bounds.get("exclusiveMinimum")), bounds.get("maximum")
    words = f"{low:g} to {high:g}" if high is not None else f"at least {low:g}"
    return {"anyOf": [{**base, "minimum": 0, "maximum": 0}, ranged], "description": f"0 (the default) or {words}"}


def _string(rules: validate_pb2.FieldRules, name_pattern: str | None) -> dict[str, Any]:
    if name_pattern is not None:
        # The pattern bounds the length too; nothing beside it, so the schema is its shared component.
        return {"type": "string", "pattern": name_pattern}
    string = rules.string
    schema: dict[str, Any] = {"type": "string"}
    pattern = string.pattern if string.HasField("pattern") else None
    well_known = string.WhichOneof("well_known")
    if well_known is not None:
        pattern = _FORMATS[well_known]
    optional = ignores_empty(rules)
    if pattern is not None:
        schema["pattern"] = naming.or_empty(pattern) if optional else pattern
    if string.HasField("min_len") and not optional:
        schema["minLength"] = string.min_len
    if string.HasField("max_len"):
        schema["maxLength"] = string.max_len
    return schema


def path_convertor(request: Descriptor, field_path: str) -> str | None:
    """The convertor of a path variable whose field has an id's shape; None for any other."""
    message, field = request, None
    for part in field_path.split("."):
        assert message is not None, "a path walks through messages"
        field = message.fields_by_name[part]
        message = field.message_type
    assert field is not None and field.containing_type is not None
    schema = rule(field.containing_type, field) or {}
    return _CONVERTORS.get(schema.get("pattern", ""))
