"""The OpenAPI document: FastAPI's, with the error responses the gateway really sends; and the
pages that show it.

FastAPI documents request validation as 422 with its own body; the gateway answers 400 with
the one error format (see errors.py), and any route may pass on a backend's status through
the gRPC -> HTTP table. Each operation lists those statuses with the `Error` schema.

/docs (Swagger UI) and /redoc load their scripts and styles from the gateway (see app.py). Their
Content-Security-Policy keeps the browser on this origin too: ReDoc's sidebar would otherwise
fetch its vendor's logo from a CDN.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beatflow_gateway.transcoding import openapi as transcoded
from beatflow_platform import naming

# Statuses any route may answer: bad input, auth, ownership, conflicts, rate limits, backends.
_COMMON_ERRORS = {
    400: "The request is malformed or a value is out of range.",
    401: "No valid bearer token.",
    403: "The caller may see the resource but not do this to it.",
    404: "No such resource, or one the caller may not see.",
    405: "The path exists, but not for this method (Allow lists the methods it takes).",
    409: "A conflict: the name exists, or a branch moved since it was read.",
    429: "Too many attempts; see Retry-After.",
    503: "A backend service is unavailable; try again shortly.",
    504: "A backend service did not answer in time.",
}
_UPLOAD_ERRORS = {
    413: "The upload is larger than the configured limit.",
    415: "The upload is not complete audio or MIDI (truncated, corrupt or another format); details carry the reason.",
}
_RANGE_ERRORS = {416: "The requested byte range lies outside the file."}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
# Shapes too long to repeat (every letter of every script): each stated once under components/schemas,
# referred to wherever a field has it, or may be empty instead ("...OrEmpty"). Name -> (pattern, meaning).
_SHARED_SHAPES = {
    "RepositoryName": (naming.REPOSITORY_NAME, naming.REPOSITORY_NAME_RULE),
    "StemName": (naming.STEM_NAME, naming.STEM_NAME_RULE),
}
DOC_PAGES = ("/docs", "/redoc")
# Scripts, styles and images from this origin only; inline ones for the pages' own start-up code and
# the styles their frameworks inject; ReDoc's search runs in a worker made from a blob.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


class ErrorBody(BaseModel):
    """Every failure, whatever its status."""

    code: str = Field(description="The gRPC status name, e.g. NOT_FOUND or INVALID_ARGUMENT.")
    message: str
    details: list[dict[str, Any]] = Field(
        description="google.rpc details as JSON objects with a `type`: ErrorInfo, BadRequest, ResourceInfo."
    )


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _with_shared_shapes(_with_error_responses(_with_transcoded(schema, app)))
        return app.openapi_schema

    app.openapi = openapi

    app.add_middleware(DocsPagesStayOnThisOrigin)


class DocsPagesStayOnThisOrigin:
    """Adds the docs pages' Content-Security-Policy (plain ASGI: no task or stream per request)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOC_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
            await send(message)

        await self.app(scope, receive, send_with_policy)


def _with_transcoded(schema: dict, app: FastAPI) -> dict:
    """Adds the operations of the routes transcoded from the protos' rules (transcoding/)."""
    paths, schemas = transcoded.document(app.state.transcoded)
    for path, operations in paths.items():
        schema.setdefault("paths", {}).setdefault(path, {}).update(operations)
    schema.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    return schema


def _with_error_responses(schema: dict) -> dict:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in _errors_of(operation).items():
                responses.setdefault(
                    str(status), {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}
                )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["Error"] = ErrorBody.model_json_schema()
    return schema


def _errors_of(operation: dict) -> dict[int, str]:
    errors = dict(_COMMON_ERRORS)
    if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
        errors |= _UPLOAD_ERRORS
    if any(parameter.get("name", "").lower() == "range" for parameter in operation.get("parameters", [])):
        errors |= _RANGE_ERRORS
    return dict(sorted(errors.items()))


def _shared_components() -> dict[str, tuple[str, dict[str, Any]]]:
    """Pattern -> (component name, schema) for each shape of `_SHARED_SHAPES` and its "or empty" variant."""
    components: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, (pattern, meaning) in _SHARED_SHAPES.items():
        components[pattern] = (name, {"type": "string", "pattern": pattern, "description": meaning})
        either = [{"type": "string", "maxLength": 0}, {"$ref": f"#/components/schemas/{name}"}]
        components[naming.or_empty(pattern)] = (
            f"{name}OrEmpty",
            {"anyOf": either, "description": f"empty or {meaning}"},
        )
    return components


def _with_shared_shapes(schema: dict) -> dict:
    """Every schema with a shared shape's pattern refers to its component, stated once."""
    by_pattern = _shared_components()
    used: dict[str, dict[str, Any]] = {}

    def shared(node: Any) -> Any:
        if isinstance(node, list):
            return [shared(item) for item in node]
        if not isinstance(node, dict):
            return node
        pattern = node.get("pattern")
        found = by_pattern.get(pattern) if node.get("type") == "string" and isinstance(pattern, str) else None
        if found is None:
            return {key: shared(value) for key, value in node.items()}
        name, component = found
        used[name] = component
        # pydantic's titles say nothing the field name does not; a description or default is kept.
        rest = {key: value for key, value in node.items() if key not in ("type", "pattern", "title")}
        reference = {"$ref": f"#/components/schemas/{name}"}
        return {**rest, "allOf": [reference]} if rest else reference

    schema = shared(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, component in sorted(used.items()):
        components[name] = component
        if name.endswith("OrEmpty"):
            base_pattern = _SHARED_SHAPES[name.removesuffix("OrEmpty")][0]
            components[name.removesuffix("OrEmpty")] = by_pattern[base_pattern][1]
    return schema
