"""Hypothesis strategies for any protobuf message, built from its descriptor.

Values mix random data with boundaries (empty, huge, negative, NaN, out-of-range enums,
traversal and injection strings) and with ids that exist on the server under test, so that
fuzzing reaches past "not found" into the real code paths.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

HOSTILE_STRINGS = (
    "",
    " ",
    "../../../../etc/passwd",
    "..",
    "/",
    "a/../../b",
    "%2e%2e%2f",
    "'; DROP TABLE vcs.repositories; --",
    "' OR '1'='1",
    "\x00",
    "nul\x00inside",
    "\u202eevil",
    "名前 🎵",
    "x" * 10_000,
    "00000000-0000-0000-0000-000000000000",
    "refs/heads/main",
    "main",
)
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_MAX_DEPTH = 4


def message_class(descriptor: Descriptor) -> type:
    return message_factory.GetMessageClass(descriptor)


def messages(descriptor: Descriptor, known: Sequence[str] = (), depth: int = 0) -> st.SearchStrategy:
    """Messages of this type with any subset of their fields set."""
    cls = message_class(descriptor)
    if depth >= _MAX_DEPTH:
        return st.just(cls())
    optional = {field.name: _field_values(field, known, depth) for field in descriptor.fields}
    return st.fixed_dictionaries({}, optional=optional).map(lambda values: _build(cls, values))


def _build(cls: type, values: dict):
    message = cls()
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name) if _is_repeated(field) else None
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif _is_repeated(field):
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def _is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _is_map(field: FieldDescriptor) -> bool:
    return (
        _is_repeated(field) and field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
    )


def _field_values(field: FieldDescriptor, known: Sequence[str], depth: int) -> st.SearchStrategy:
    if _is_map(field):
        entry = field.message_type
        keys = _scalar_values(entry.fields_by_name["key"], known)
        values = _single_value(entry.fields_by_name["value"], known, depth + 1)
        return st.dictionaries(keys, values, max_size=3)
    single = _single_value(field, known, depth)
    if _is_repeated(field):
        return st.lists(single, max_size=4)
    return single


def _single_value(field: FieldDescriptor, known: Sequence[str], depth: int) -> st.SearchStrategy:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, known, depth + 1)
    return _scalar_values(field, known)


def _scalar_values(field: FieldDescriptor, known: Sequence[str]) -> st.SearchStrategy:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        strings = [st.text(max_size=64), st.sampled_from(HOSTILE_STRINGS)]
        return st.one_of(*strings, st.sampled_from(known)) if known else st.one_of(*strings)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.one_of(
            st.binary(max_size=4096), st.sampled_from([b"", b"RIFF\x00\x00\x00\x00WAVE", b"\xff" * 70_000])
        )
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        numbers = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-5, 1000))  # proto3 enums are open
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        width = 32 if kind == FieldDescriptor.TYPE_FLOAT else 64
        return st.one_of(st.floats(width=width), st.sampled_from([0.0, -1.0, 1e-9, 1e9]))
    low, high = _INT_RANGES[kind]
    return st.one_of(st.integers(low, high), st.sampled_from([0, 1, -1 if low < 0 else 2, low, high]))
