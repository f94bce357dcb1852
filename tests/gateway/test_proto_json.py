"""The gateway's proto3 JSON printer prints exactly what json_format prints (same keys, values and key order),
for every message type a gateway route can answer with, filled at random with edge values."""

from __future__ import annotations

import json
import math
import random
from typing import cast

import pytest
from google.protobuf import json_format, message_factory, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from beatflow.vcs.v1 import version_control_pb2
from beatflow_gateway.proto_json import PRINT_OPTIONS, to_dict
from beatflow_gateway.transcoding.rules import SERVICES

_STRINGS = ["", "drums", "Ünïcødé ✓ 🎵", 'quote " and \\ and \n', "x" * 300]
_INTS = [0, 1, -1, 2**31 - 1, -(2**31)]
_UINTS = [0, 1, 2**32 - 1]
_INT64S = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63)]
_UINT64S = [0, 1, 2**64 - 1]
_DOUBLES = [0.0, -0.0, 0.1, 1e300, -2.5, math.inf, -math.inf, math.nan, 120.0]
_FLOATS = [0.0, 0.1, 3.4e38, -1.5, math.inf, math.nan]


def _response_types() -> list[Descriptor]:
    """Every output type of the services the gateway calls, and every message type inside them."""
    seen: dict[str, Descriptor] = {}
    stack = [method.output_type for service in SERVICES for method in service.methods]
    while stack:
        descriptor = stack.pop()
        if descriptor.full_name in seen:
            continue
        seen[descriptor.full_name] = descriptor
        stack.extend(field.message_type for field in descriptor.fields if field.message_type is not None)
    return sorted(seen.values(), key=lambda d: d.full_name)


def _scalar(field: FieldDescriptor, rng: random.Random):
    kind = field.cpp_type
    if kind == FieldDescriptor.CPPTYPE_STRING:
        if field.type == FieldDescriptor.TYPE_BYTES:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
        return rng.choice(_STRINGS)
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return rng.random() < 0.5
    if kind == FieldDescriptor.CPPTYPE_ENUM and field.enum_type is not None:
        numbers = [value.number for value in field.enum_type.values]
        return rng.choice(numbers + ([] if field.enum_type.is_closed else [99]))  # 99: an unknown value
    choices = {
        FieldDescriptor.CPPTYPE_INT32: _INTS,
        FieldDescriptor.CPPTYPE_UINT32: _UINTS,
        FieldDescriptor.CPPTYPE_INT64: _INT64S,
        FieldDescriptor.CPPTYPE_UINT64: _UINT64S,
        FieldDescriptor.CPPTYPE_DOUBLE: _DOUBLES,
        FieldDescriptor.CPPTYPE_FLOAT: _FLOATS,
    }
    return rng.choice(choices[kind])


def _fill(message: Message, rng: random.Random, depth: int = 0) -> None:
    """Sets about half of the fields (one member per oneof at most), recursing into messages."""
    descriptor = cast(Descriptor, message.DESCRIPTOR)  # upb's at run time (the stubs name both modules' types)
    name = descriptor.full_name
    if name == "google.protobuf.Timestamp":
        assert isinstance(message, timestamp_pb2.Timestamp)
        message.seconds = rng.randrange(0, 4_000_000_000)
        message.nanos = rng.choice([0, 5_000_000, 123_000, 7])
        return
    if name == "google.protobuf.Struct":
        assert isinstance(message, struct_pb2.Struct)
        message.update({"seed": rng.randrange(100), "mood": rng.choice(_STRINGS), "tags": ["a", 1.5, None, True]})
        return
    if name == "google.protobuf.Any":
        message.Pack(timestamp_pb2.Timestamp(seconds=rng.randrange(10**9)))  # type: ignore[attr-defined]
        return
    for field in descriptor.fields:
        if rng.random() < 0.5 or (field.containing_oneof and message.WhichOneof(field.containing_oneof.name)):
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entries = getattr(message, field.name)
            entry = field.message_type
            key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
            for _ in range(rng.randrange(3)):
                key = _scalar(key_field, rng)
                if value_field.message_type is None:
                    entries[key] = _scalar(value_field, rng)
                elif depth < 3:
                    _fill(entries[key], rng, depth + 1)
        elif field.message_type is not None:
            if depth >= 3:
                continue
            if field.is_repeated:
                for _ in range(rng.randrange(3)):
                    _fill(getattr(message, field.name).add(), rng, depth + 1)
            else:
                getattr(message, field.name).SetInParent()
                _fill(getattr(message, field.name), rng, depth + 1)
        elif field.is_repeated:
            getattr(message, field.name).extend(_scalar(field, rng) for _ in range(rng.randrange(4)))
        else:
            setattr(message, field.name, _scalar(field, rng))


def _printed(document) -> str:
    """As the gateway writes a body."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _outcome(print_message, message: Message) -> tuple[str, str]:
    """The body printed, or the error raised (some values have no JSON: a Value holding Infinity)."""
    try:
        return "printed", _printed(print_message(message))
    except Exception as error:
        return type(error).__name__, str(error)


def _json_format(message: Message):
    return json_format.MessageToDict(message, **PRINT_OPTIONS)


RESPONSE_TYPES = _response_types()


def test_the_response_types_are_many_and_include_the_history_page():
    names = {descriptor.full_name for descriptor in RESPONSE_TYPES}
    assert len(names) > 40
    assert {"beatflow.vcs.v1.GetHistoryResponse", "google.protobuf.Struct", "google.protobuf.Timestamp"} <= names


@pytest.mark.parametrize("descriptor", RESPONSE_TYPES, ids=lambda descriptor: descriptor.full_name)
def test_prints_what_json_format_prints(descriptor: Descriptor):
    message_class = message_factory.GetMessageClass(descriptor)
    rng = random.Random(descriptor.full_name)
    messages = [message_class()]
    for _ in range(12):
        messages.append(message_class())
        _fill(messages[-1], rng)
    for message in messages:
        assert _outcome(to_dict, message) == _outcome(_json_format, message)


def test_plain_messages_are_printed_without_json_format(monkeypatch):
    """Else the comparison above would compare json_format with itself."""
    history = version_control_pb2.GetHistoryResponse()
    node = history.nodes.add()
    node.commit.commit_id, node.commit.bpm = "ab" * 32, 96.0
    node.commit.create_time.seconds = 1_700_000_000
    node.commit.stems.add(name="drums", size_bytes=2**40)
    expected = _printed(_json_format(history))

    def refused(*_args, **_kwargs):
        raise AssertionError("json_format was called")

    monkeypatch.setattr(json_format, "MessageToDict", refused)
    assert _printed(to_dict(history)) == expected
    assert '"size_bytes":"1099511627776"' in expected and '"create_time":"2023-11-14T22:13:20Z"' in expected


def test_a_message_json_format_refuses_is_refused_the_same_way():
    commit = version_control_pb2.Commit()
    commit.create_time.seconds = 10**13  # past year 9999: no RFC 3339 text
    with pytest.raises(json_format.SerializeToJsonError):
        json_format.MessageToDict(commit, **PRINT_OPTIONS)
    with pytest.raises(json_format.SerializeToJsonError):
        to_dict(commit)
