"""Responses as proto3 JSON objects, the same objects (keys in the same order) as
`json_format.MessageToDict(message, **PRINT_OPTIONS)`, about three times faster.

json_format decides, for every field of every message, how to print it (is it a map, a wrapper, an int64, a
float ...) and walks each message's descriptor again for the fields left at their defaults. Here those
decisions are taken once per message type: a `_MessagePrinter` holds, by field number, the key and the
converter of each field, and the keys and JSON defaults of the fields without presence that an unset field
still prints (PRINT_OPTIONS: always_print_fields_with_no_presence). Keys come in json_format's order: the set
fields by number (`ListFields`), then the unset ones in declaration order.

Well-known types keep their own printers: Timestamp, Duration and FieldMask their `ToJsonString`, the others
(Struct, Value, ListValue, Any, wrappers) json_format itself. A message json_format would refuse (an invalid
Timestamp, say) is handed to json_format whole, so that it fails with json_format's error.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any, TypedDict, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message


# Envoy's transcoder print_options (preserve_proto_field_names, always_print_primitive_fields).
class PrintOptions(TypedDict):
    preserving_proto_field_name: bool
    always_print_fields_with_no_presence: bool


PRINT_OPTIONS: PrintOptions = {"preserving_proto_field_name": True, "always_print_fields_with_no_presence": True}
_Converter = Callable[[Any], Any]
_TO_JSON_STRING = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_PRINTED_BY_JSON_FORMAT = {
    "google.protobuf.Any",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
}
_WRAPPERS_FILE = "google/protobuf/wrappers.proto"
_INT64_TYPES = {FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64}
_FLOAT_TYPES = {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}


def to_dict(message: Message) -> Any:
    """`message` as json_format.MessageToDict(message, **PRINT_OPTIONS) prints it."""
    try:
        # The stubs type DESCRIPTOR as either module's Descriptor; upb's is the one at run time, with the same API.
        return _message_converter(cast(Descriptor, message.DESCRIPTOR))(message)
    except Exception:
        # Whatever json_format makes of it, an error or a document, is the answer.
        return json_format.MessageToDict(message, **PRINT_OPTIONS)


class _MessagePrinter:
    """How to print one message type (regular messages only: `_message_converter` prints the well-known types)."""

    def __init__(self, descriptor: Descriptor):
        # Field number -> (key, converter); None for values printed as they are (strings, bools, 32-bit numbers).
        self.fields: dict[int, tuple[str, _Converter | None]] = {}
        # (key, JSON default, whether the default is a fresh list or dict per message) of each field without presence.
        self.defaults: list[tuple[str, Any, bool]] = []
        self._descriptor = descriptor

    def compile(self) -> None:
        for field in self._descriptor.fields:
            convert = _field_converter(field)
            self.fields[field.number] = (field.name, None if convert is _same else convert)
            if not field.has_presence:
                if _is_map(field):
                    self.defaults.append((field.name, dict, True))
                elif field.is_repeated:
                    self.defaults.append((field.name, list, True))
                else:
                    self.defaults.append((field.name, _value_converter(field)(field.default_value), False))

    def document(self, message: Message) -> dict[str, Any]:
        fields = self.fields
        js: dict[str, Any] = {}
        for field, value in message.ListFields():
            key, convert = fields[field.number]  # an extension's number is no field's: a KeyError, for json_format
            js[key] = value if convert is None else convert(value)
        for key, default, fresh in self.defaults:
            if key not in js:
                js[key] = default() if fresh else default
        return js


# Message type name -> its converter, made on first use.
_CONVERTERS: dict[str, _Converter] = {}


def _map_entry(field: FieldDescriptor) -> Descriptor | None:
    """The entry type of a map field; None for other fields."""
    entry = field.message_type
    if field.type == FieldDescriptor.TYPE_MESSAGE and entry is not None and entry.has_options:
        return entry if entry.GetOptions().map_entry else None
    return None


def _is_map(field: FieldDescriptor) -> bool:
    return _map_entry(field) is not None


def _field_converter(field: FieldDescriptor) -> _Converter:
    """The value of a set field -> JSON (a map, a list, or one value)."""
    if (entry := _map_entry(field)) is not None:
        value_field = entry.fields_by_name["value"]
        convert_value = _value_converter(value_field)

        def convert_map(entries) -> dict[str, Any]:
            return {_map_key(key): convert_value(entries[key]) for key in entries}

        return convert_map
    convert = _value_converter(field)
    if field.is_repeated:
        if convert is _same:
            return list
        return lambda values: [convert(value) for value in values]
    return convert


def _map_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _value_converter(field: FieldDescriptor) -> _Converter:
    """One value of `field` -> JSON, as json_format's _FieldToJsonObject (with PRINT_OPTIONS) converts it."""
    cpp_type = field.cpp_type
    if cpp_type == FieldDescriptor.CPPTYPE_MESSAGE and field.message_type is not None:
        return _message_converter(field.message_type)
    if cpp_type == FieldDescriptor.CPPTYPE_ENUM and field.enum_type is not None:
        return _enum_converter(field.enum_type)
    if cpp_type == FieldDescriptor.CPPTYPE_STRING:
        return _bytes_to_json if field.type == FieldDescriptor.TYPE_BYTES else _same
    if cpp_type in _INT64_TYPES:
        return str
    if cpp_type in _FLOAT_TYPES:
        return _float_to_json if cpp_type == FieldDescriptor.CPPTYPE_DOUBLE else _single_to_json
    return _same  # strings, bools and 32-bit numbers


def _message_converter(descriptor: Descriptor) -> _Converter:
    name = descriptor.full_name
    converter = _CONVERTERS.get(name)
    if converter is not None:
        return converter
    if name in _TO_JSON_STRING:
        converter = _CONVERTERS[name] = _to_json_string
    elif name in _PRINTED_BY_JSON_FORMAT or descriptor.file.name == _WRAPPERS_FILE or _renames_enum_values(descriptor):
        converter = _CONVERTERS[name] = _json_format_dict
    else:
        printer = _MessagePrinter(descriptor)
        converter = _CONVERTERS[name] = printer.document  # before compiling: a type may hold itself
        try:
            printer.compile()
        except BaseException:
            del _CONVERTERS[name]
            raise
    return converter


def _to_json_string(message: Any) -> str:
    return message.ToJsonString()


def _json_format_dict(message: Message) -> Any:
    return json_format.MessageToDict(message, **PRINT_OPTIONS)


def _renames_enum_values(descriptor: Descriptor) -> bool:
    """Whether an enum field's values carry options, which may rename them in JSON (`pb.enumvalue.json`)."""
    return any(
        value.GetOptions().ListFields()
        for field in descriptor.fields
        if field.enum_type is not None
        for value in field.enum_type.values
    )


def _enum_converter(enum_type: EnumDescriptor) -> _Converter:
    if enum_type.full_name == "google.protobuf.NullValue":
        return lambda _value: None
    names = {value.number: value.name for value in enum_type.values}
    if enum_type.is_closed:
        return names.__getitem__  # an unknown number is refused (KeyError), as json_format refuses it
    return lambda number: names.get(number, number)


def _same(value: Any) -> Any:
    return value


def _bytes_to_json(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _float_to_json(value: float) -> float | str:
    if math.isinf(value):
        return "-Infinity" if value < 0.0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return value


def _single_to_json(value: float) -> float | str:
    printed = _float_to_json(value)
    return type_checkers.ToShortestFloat(printed) if isinstance(printed, float) else printed
