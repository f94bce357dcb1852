"""JSON Schemas of messages in the proto3 JSON mapping, for the OpenAPI document.

Responses refer to one component per message. Request bodies are inlined per operation, with
the field rules of `field_rules.py` (the shapes the services accept, from the contracts' rules),
since a message used in a response may carry values a request may not (an empty id, say).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
UINT32 = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**32 - 1}
# proto3 JSON writes 64-bit integers as strings (and reads numbers or strings).
INT64 = {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,18}$"}
UINT64 = {"type": "string", "format": "uint64", "pattern": r"^[0-9]{1,19}$"}
_T = FieldDescriptor
SCALARS: dict[int, dict[str, Any]] = {
    _T.TYPE_STRING: {"type": "string"},
    _T.TYPE_BOOL: {"type": "boolean"},
    _T.TYPE_DOUBLE: {"type": "number"},
    _T.TYPE_FLOAT: {"type": "number"},
    _T.TYPE_BYTES: {"type": "string", "format": "byte"},
    **dict.fromkeys((_T.TYPE_INT32, _T.TYPE_SINT32, _T.TYPE_SFIXED32), INT32),
    **dict.fromkeys((_T.TYPE_UINT32, _T.TYPE_FIXED32), UINT32),
    **dict.fromkeys((_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64), INT64),
    **dict.fromkeys((_T.TYPE_UINT64, _T.TYPE_FIXED64), UINT64),
}
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}, "required": ["@type"]},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.FloatValue": {"type": "number"},
    "google.protobuf.Int32Value": INT32,
    "google.protobuf.UInt32Value": UINT32,
    "google.protobuf.Int64Value": INT64,
    "google.protobuf.UInt64Value": UINT64,
}
# A field's rule, if any: (message full name, field name) -> a schema to use instead.
FieldRule = Callable[[Descriptor, FieldDescriptor], dict[str, Any] | None]


def needs_value(schema: dict[str, Any]) -> bool:
    """Whether a field with this schema must be sent: its rule refuses the empty string (the default), by a
    minimum length or a pattern it does not match."""
    if schema.get("type") != "string":
        return False
    return schema.get("minLength", 0) > 0 or ("pattern" in schema and re.search(schema["pattern"], "") is None)


def component_name(message: Descriptor) -> str:
    return message.full_name


class Components:
    """Response schemas by message, collected as operations refer to them."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, message: Descriptor) -> dict[str, Any]:
        if message.full_name in WELL_KNOWN:
            return dict(WELL_KNOWN[message.full_name])
        name = component_name(message)
        if name not in self.schemas:
            self.schemas[name] = {}  # a placeholder first: messages may refer to themselves
            self.schemas[name] = _object(message, lambda field: self.field(field))
        return {"$ref": f"#/components/schemas/{name}"}

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        return _field(field, self.ref)


def inline(message: Descriptor, rule: FieldRule, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The message's schema with nested messages written out and each field's rule applied."""

    def schema(field: FieldDescriptor, parent: Descriptor) -> dict[str, Any]:
        ruled = rule(parent, field)
        if ruled is not None:
            return ruled
        return _field(field, lambda nested: WELL_KNOWN.get(nested.full_name) or inline(nested, rule))

    described = _object(message, lambda field: schema(field, message), skip)
    properties = described["properties"]
    required = [name for name, property in properties.items() if needs_value(property)]
    # proto3 JSON reads null as the field's default: an optional field may be null.
    for name in properties.keys() - set(required):
        properties[name] = {"anyOf": [properties[name], {"type": "null"}]}
    return {**described, "required": required} if required else described


def field_schema(field: FieldDescriptor, rule: FieldRule) -> dict[str, Any]:
    """One request field's schema (a path or query parameter)."""
    assert field.containing_type is not None, "a request field belongs to its message"
    ruled = rule(field.containing_type, field)
    if ruled is not None:
        return ruled
    return _field(field, lambda nested: WELL_KNOWN.get(nested.full_name) or {"type": "object"})


def _object(
    message: Descriptor, schema_of: Callable[[FieldDescriptor], dict[str, Any]], skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    properties = {field.name: schema_of(field) for field in message.fields if field.name not in skip}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _field(field: FieldDescriptor, message_schema: Callable[[Descriptor], dict[str, Any]]) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single(value, message_schema)}
    single = _single(field, message_schema)
    return {"type": "array", "items": single} if field.is_repeated else single


def _single(field: FieldDescriptor, message_schema: Callable[[Descriptor], dict[str, Any]]) -> dict[str, Any]:
    if field.message_type is not None:
        return message_schema(field.message_type)
    if field.enum_type is not None:
        return {"type": "string", "enum": [value.name for value in field.enum_type.values]}
    return dict(SCALARS[field.type])
