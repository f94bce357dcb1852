"""HTTP request -> request message, response message -> JSON: the proto3 JSON mapping, as Envoy's
transcoder applies it (deploy/envoy/envoy.yaml `print_options`, proto_json.PRINT_OPTIONS here).

The request message is filled from the JSON body (`body: "*"` or one field), then from query
parameters (every field neither the path nor the body binds), then from the path, which wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from beatflow_gateway.context import to_json
from beatflow_gateway.errors import ApiError
from beatflow_gateway.transcoding.rules import Binding

# Well-known messages that proto3 JSON writes as one value, so a query parameter may name them.
_SCALAR_MESSAGES = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    *(f"google.protobuf.{kind}Value" for kind in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool")),
    "google.protobuf.StringValue",
}


def response_json(binding: Binding, response: Message) -> Any:
    """The response message, or its `response_body` field, as JSON."""
    document = to_json(response)
    return document.get(binding.response_body, {}) if binding.response_body else document


def request_message(
    binding: Binding, path_fields: dict[str, str], query: Iterable[tuple[str, str]], body: bytes
) -> Message:
    request_type = binding.method.input_type
    document: dict[str, Any] = {}
    if binding.body == "*":
        document = _json_body(body)
        if not isinstance(document, dict):
            raise _invalid("body", "must be a JSON object")
    elif binding.body:
        document = {binding.body: _json_body(body)}
    if binding.body != "*":
        bound = {*path_fields, binding.body}
        for name, value in query:
            _set_query_value(request_type, document, name, value, bound)
    message_class = message_factory.GetMessageClass(request_type)
    if not document and _top_level_strings(request_type, path_fields):
        # Most reads (GET /api/repositories/{repo_id}): the JSON mapping of a string is the string itself.
        return message_class(**path_fields)
    for field_path, value in path_fields.items():
        _nested(document, field_path)[field_path.rsplit(".", 1)[-1]] = value
    message = message_class()
    try:
        json_format.ParseDict(document, message)
    except json_format.ParseError as error:
        raise _invalid("body", str(error)) from None
    return message


def _top_level_strings(message_type: Descriptor, field_paths: Iterable[str]) -> bool:
    fields = message_type.fields_by_name
    return all(
        path in fields and fields[path].type == FieldDescriptor.TYPE_STRING and not fields[path].is_repeated
        for path in field_paths
    )


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid("body", f"not JSON: {error}") from None


def _not_json(constant: str) -> None:
    """Python's json reads NaN and Infinity, which JSON does not have (proto3 JSON spells them as strings)."""
    raise ValueError(f"{constant} is not JSON")


def _set_query_value(
    message_type: Descriptor, document: dict[str, Any], name: str, value: str, bound: set[str]
) -> None:
    """`a.b=v` sets field b of message field a; repeated fields collect every value given."""
    field = _leaf_field(message_type, name)
    if field is None or name in bound or name.split(".", 1)[0] in bound:
        raise _invalid(name, "unknown query parameter")
    parsed: Any = value
    if field.type == FieldDescriptor.TYPE_BOOL:
        if value not in ("true", "false"):
            raise _invalid(name, "must be true or false")
        parsed = value == "true"
    parent = _nested(document, name)
    key = name.rsplit(".", 1)[-1]
    if field.is_repeated:
        parent.setdefault(key, []).append(parsed)
    else:
        parent[key] = parsed


def _leaf_field(message_type: Descriptor, path: str) -> FieldDescriptor | None:
    """The field a dotted query name ends at; None unless it is a value (not a message or a map)."""
    field = None
    within: Descriptor | None = message_type
    for part in path.split("."):
        if within is None or part not in within.fields_by_name:
            return None
        field = within.fields_by_name[part]
        within = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    if field is None or (field.message_type and field.message_type.full_name not in _SCALAR_MESSAGES):
        return None
    return field


def _nested(document: dict[str, Any], field_path: str) -> dict[str, Any]:
    """The object holding the last part of `field_path`, created as needed."""
    for part in field_path.split(".")[:-1]:
        document = document.setdefault(part, {})
        if not isinstance(document, dict):
            raise _invalid(field_path, "given twice, as a value and as an object")
    return document


def _invalid(field: str, description: str) -> ApiError:
    violations = [{"field": field, "description": description}]
    return ApiError(
        400, "INVALID_ARGUMENT", f"{field}: {description}", [{"type": "BadRequest", "field_violations": violations}]
    )
