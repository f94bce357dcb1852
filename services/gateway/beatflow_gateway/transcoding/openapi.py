"""OpenAPI operations of the transcoded routes, derived from the same rules and descriptors."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from beatflow_gateway.transcoding import field_rules
from beatflow_gateway.transcoding.rules import Binding
from beatflow_gateway.transcoding.schemas import Components, field_schema, inline, needs_value

TAGS = {
    "beatflow.auth.v1.AuthService": "Auth",
    "beatflow.vcs.v1.RepositoryService": "Repositories",
    "beatflow.vcs.v1.VersionControlService": "Version Control",
    "beatflow.vcs.v1.BlobService": "Audio",
    "beatflow.generator.v1.GeneratorService": "AI Generation",
    "beatflow.jobs.v1.JobService": "Jobs",
    "beatflow.separator.v1.SeparatorService": "AI Generation",
}
BEARER = {"HTTPBearer": []}


def document(bindings: list[Binding]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(paths, component schemas) for the bindings."""
    components = Components()
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for binding in bindings:
        count = seen[binding.name] = seen.get(binding.name, 0) + 1
        operation_id = binding.method.name if count == 1 else f"{binding.method.name}{count}"
        operations = paths.setdefault(binding.path.openapi_path, {})
        operations[binding.http_method.lower()] = _operation(binding, operation_id, components)
    return paths, components.schemas


def _operation(binding: Binding, operation_id: str, components: Components) -> dict[str, Any]:
    request = binding.method.input_type
    operation: dict[str, Any] = {
        "tags": [TAGS[binding.method.containing_service.full_name]],
        "summary": re.sub(r"(?<!^)(?=[A-Z])", " ", binding.method.name).capitalize(),
        "operationId": operation_id,
        "security": _security(binding),
        "parameters": [_parameter(field, "path") for field in _path_fields(binding)]
        + [_parameter(field, "query") for field in _query_fields(binding)],
        "responses": {str(binding.success_status): _response(binding, components)},
    }
    if binding.body == "*":
        schema = inline(request, field_rules.rule, frozenset(binding.path.bound_fields))
        operation["requestBody"] = _json_body(_body_component(binding, schema, components))
    elif binding.body:
        field = request.fields_by_name[binding.body]
        operation["requestBody"] = _json_body(inline(request, field_rules.rule)["properties"][field.name])
    return operation


def _security(binding: Binding) -> list[dict[str, list]]:
    if binding.credential_free:
        return []  # a token sent along is ignored
    # Reads answer anyone (private resources are then 404); a token, when sent, must be valid.
    return [BEARER, {}] if binding.http_method == "GET" else [BEARER]


def _body_component(binding: Binding, schema: dict[str, Any], components: Components) -> dict[str, Any]:
    name = f"{binding.method.input_type.full_name}.Body"
    components.schemas[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_fields(binding: Binding) -> list[FieldDescriptor]:
    """The top-level request fields the path binds (a nested path binds its top field's message)."""
    names = dict.fromkeys(path.split(".")[0] for path in binding.path.fields.values())
    return [binding.method.input_type.fields_by_name[name] for name in names]


def _query_fields(binding: Binding) -> list[FieldDescriptor]:
    if binding.body == "*":
        return []
    bound = {path.split(".")[0] for path in binding.path.bound_fields} | {binding.body}
    return [
        field
        for field in binding.method.input_type.fields
        if field.name not in bound and field.type != FieldDescriptor.TYPE_MESSAGE
    ]


def _parameter(field: FieldDescriptor, location: str) -> dict[str, Any]:
    schema = field_schema(field, field_rules.rule)
    return {"name": field.name, "in": location, "required": location == "path" or needs_value(schema), "schema": schema}


def _response(binding: Binding, components: Components) -> dict[str, Any]:
    if binding.success_status == 204:
        return {"description": "Done"}
    output = binding.method.output_type
    if binding.response_body:
        schema = components.field(output.fields_by_name[binding.response_body])
    else:
        schema = components.ref(output)
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
