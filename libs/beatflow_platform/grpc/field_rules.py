"""Reading the contracts' protovalidate (`buf.validate`) rules from the generated descriptors.

The .proto files state each request field's shape and limits once; the services enforce them
(validation.py), `naming` takes its patterns from them and the gateway's OpenAPI document is
derived from them. This module is how all three read a field's rules.
"""

from __future__ import annotations

from typing import Any, cast

from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

NumericRules = (
    validate_pb2.Int32Rules
    | validate_pb2.Int64Rules
    | validate_pb2.UInt32Rules
    | validate_pb2.UInt64Rules
    | validate_pb2.SInt32Rules
    | validate_pb2.SInt64Rules
    | validate_pb2.Fixed32Rules
    | validate_pb2.Fixed64Rules
    | validate_pb2.SFixed32Rules
    | validate_pb2.SFixed64Rules
    | validate_pb2.FloatRules
    | validate_pb2.DoubleRules
)
# The extension's handle as the options' Extensions map takes it (the stubs type it as a plain field).
_FIELD_RULES = cast(Any, validate_pb2.field)


def rules_of(field: FieldDescriptor) -> validate_pb2.FieldRules | None:
    """The field's `(buf.validate.field)` rules; None when it has none."""
    options = field.GetOptions()
    if not options.HasExtension(_FIELD_RULES):
        return None
    return options.Extensions[_FIELD_RULES]


def field_of(message: type[Message] | Descriptor, name: str) -> FieldDescriptor:
    descriptor = message if isinstance(message, Descriptor) else message.DESCRIPTOR
    return cast(FieldDescriptor, descriptor.fields_by_name[name])


def string_rules(message: type[Message] | Descriptor, name: str) -> validate_pb2.StringRules:
    """The string rules of `message.name`; a KeyError when the contract gives that field none."""
    rules = rules_of(field_of(message, name))
    if rules is None or not rules.HasField("string"):
        raise KeyError(f"{name} has no string rules")
    return rules.string


def repeated_rules(message: type[Message] | Descriptor, name: str) -> validate_pb2.RepeatedRules:
    """The list rules (min_items, max_items, items) of `message.name`; a KeyError when it has none."""
    rules = rules_of(field_of(message, name))
    if rules is None or not rules.HasField("repeated"):
        raise KeyError(f"{name} has no list rules")
    return rules.repeated


def numeric_rules(message: type[Message] | Descriptor, name: str) -> NumericRules:
    """The numeric rules (Int32Rules, DoubleRules...) of `message.name`; a KeyError when it has none."""
    rules = rules_of(field_of(message, name))
    kind = rules.WhichOneof("type") if rules is not None else None
    if rules is None or kind in (None, "string", "bytes", "repeated", "map", "enum", "bool"):
        raise KeyError(f"{name} has no numeric rules")
    return getattr(rules, kind)


def ignores_empty(rules: validate_pb2.FieldRules) -> bool:
    """Whether the field's default (empty, 0) is accepted whatever its other rules say."""
    return rules.ignore in (validate_pb2.IGNORE_IF_ZERO_VALUE, validate_pb2.IGNORE_ALWAYS)
