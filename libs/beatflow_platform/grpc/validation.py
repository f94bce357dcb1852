"""Every request checked against its contract's protovalidate rules before a servicer sees it.

`ValidationInterceptor` validates each request message (each message of a streamed request, such
as an upload's chunks) with protovalidate and refuses a bad one with INVALID_ARGUMENT: the same
`InvalidArgument` the services raise themselves, so the caller gets google.rpc.BadRequest field
violations (the field's path, e.g. `params.sampling.top_k` or `requests[1].repo_id`, and the rule
in words) whichever check refused it. Installed after the scope interceptor, it runs inside the
call's scopes: authentication first, and the one exception -> status mapping around it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import cast

import grpc
import protovalidate
from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from beatflow_platform import naming
from beatflow_platform.errors import FieldViolation, InvalidArgument
from beatflow_platform.grpc.field_rules import ignores_empty, rules_of
from beatflow_platform.grpc.interceptors import behaviour_of, with_behaviour

_validator = protovalidate.Validator()


def violations_of(request: Message) -> list[FieldViolation]:
    """The request's violations of its rules, each with the field's path and a description in words."""
    descriptor = cast(Descriptor, request.DESCRIPTOR)
    return [_in_words(violation, descriptor) for violation in _validator.collect_violations(request)]


def check(request: Message) -> None:
    """Raises InvalidArgument with every violation of the request's rules."""
    violations = violations_of(request)
    if violations:
        message = "; ".join(f"{v.field}: {v.description}" for v in violations)
        raise InvalidArgument(message, violations=violations)


def _in_words(violation: protovalidate.Violation, request: Descriptor) -> FieldViolation:
    proto = validate_pb2.Violation.FromString(violation.proto.to_binary())
    field = _field(request, proto.field)
    description = proto.message
    if proto.rule_id == "string.pattern":
        # protovalidate prints the regex; people read the rule (naming.RULE_WORDS has one per pattern).
        words = naming.RULE_WORDS.get(str(violation.rule_value))
        description = f"must be {words}" if words else "has a shape this field does not take"
    elif proto.rule_id == "enum.in" and field.enum_type is not None:
        # protovalidate lists the allowed numbers; clients send the names.
        values = field.enum_type.values_by_number
        description = f"must be one of {', '.join(values[number].name for number in violation.rule_value)}"
    rules = rules_of(field)
    if rules is not None and ignores_empty(rules) and not proto.field.elements[-1].WhichOneof("subscript"):
        default = "empty" if field.type == FieldDescriptor.TYPE_STRING else "0"
        description = f"{description}, or {default} for the default"
    return FieldViolation(_path(proto.field), description)


def _field(message: Descriptor, path: validate_pb2.FieldPath) -> FieldDescriptor:
    field, current = None, message
    for element in path.elements:
        assert current is not None, "only a message has fields"
        field = current.fields_by_number[element.field_number]
        current = field.message_type
    assert field is not None, "a violation always names a field"
    return field


def _path(path: validate_pb2.FieldPath) -> str:
    parts = []
    for element in path.elements:
        subscript = element.WhichOneof("subscript")
        if subscript == "index":
            parts.append(f"{element.field_name}[{element.index}]")
        elif subscript is not None:
            parts.append(f"{element.field_name}[{getattr(element, subscript)!r}]".replace("'", '"'))
        else:
            parts.append(element.field_name)
    return ".".join(parts)


class ValidationInterceptor(grpc.aio.ServerInterceptor):
    """Validates every request (every message of a request stream) before the handler runs."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _validating(handler)


def _validating(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    checked = _checked_stream if handler.request_streaming else _checked_unary
    return with_behaviour(handler, checked(behaviour_of(handler)))


def _checked_unary(behaviour: Callable) -> Callable:
    if inspect.isasyncgenfunction(behaviour):

        async def streaming(request, context):
            check(request)
            async for response in behaviour(request, context):
                yield response

        return streaming

    async def unary(request, context):
        check(request)
        return await behaviour(request, context)

    return unary


def _checked_stream(behaviour: Callable) -> Callable:
    async def checked_messages(requests: AsyncIterator[Message]) -> AsyncIterator[Message]:
        async for request in requests:
            check(request)
            yield request

    if inspect.isasyncgenfunction(behaviour):

        async def streaming(requests, context):
            async for response in behaviour(checked_messages(requests), context):
                yield response

        return streaming

    async def unary(requests, context):
        return await behaviour(checked_messages(requests), context)

    return unary
