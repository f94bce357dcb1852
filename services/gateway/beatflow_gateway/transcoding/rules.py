"""The REST bindings of the gRPC services, read from the generated modules' descriptors.

Each `google.api.http` rule (and each of its additional_bindings) of a unary method becomes one
`Binding`, except for the methods in `HAND_WRITTEN`: routes that need what transcoding cannot
do (see docs/gateway.md). Streaming methods are never transcoded here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from beatflow.auth.v1 import auth_pb2
from beatflow.common.v1 import http_pb2 as beatflow_http_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2, version_control_pb2
from beatflow_gateway.transcoding.field_rules import path_convertor
from beatflow_gateway.transcoding.templates import PathTemplate, parse
from beatflow_platform.grpc.credentials import is_credential_free

if TYPE_CHECKING:
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# Each service, and the `Backends` (SDK client) attribute whose stub calls it.
SERVICES: dict[ServiceDescriptor, str] = {
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"]: "auth",
    repositories_pb2.DESCRIPTOR.services_by_name["RepositoryService"]: "repositories",
    version_control_pb2.DESCRIPTOR.services_by_name["VersionControlService"]: "versions",
    blobs_pb2.DESCRIPTOR.services_by_name["BlobService"]: "blobs",
    generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"]: "generation",
    jobs_pb2.DESCRIPTOR.services_by_name["JobService"]: "jobs",
    separator_pb2.DESCRIPTOR.services_by_name["SeparatorService"]: "separation",
}

# Unary methods whose REST route is written by hand, and why (docs/gateway.md lists them too).
HAND_WRITTEN: dict[str, str] = {
    "beatflow.auth.v1.AuthService.Login": "passes the client address on for login throttling; accepts `login` as "
    "an alias of `username`",
    "beatflow.vcs.v1.RepositoryService.UpdateRepository": "a flat PATCH body whose present fields are the update "
    "mask (proto3 JSON cannot tell an absent field from a default one)",
    "beatflow.vcs.v1.RepositoryService.PutCollaborator": "the role as a word (read, write)",
    "beatflow.jobs.v1.JobService.ListJobs": "the state filter as a word (queued, running, ...)",
    "beatflow.vcs.v1.VersionControlService.GetDiffPicture": "answers with the PNG itself",
    "beatflow.vcs.v1.VersionControlService.Merge": "adds URLs that play each side of a range conflict",
    "beatflow.generator.v1.GeneratorService.Generate": "the seed's flat body (duration, key as text)",
    "beatflow.generator.v1.GeneratorService.BatchGenerate": "the seed's list body and task_ids",
    "beatflow.generator.v1.GeneratorService.Rerender": "answers 202 with the seed's queued message",
    "beatflow.generator.v1.GeneratorService.HumToBeat": "a multipart upload",
    "beatflow.separator.v1.SeparatorService.SeparateStems": "the seed's flat body (blob_id, demucs options)",
    "beatflow.separator.v1.SeparatorService.AnalyzeAudio": "the seed's query parameters and analysis document",
    "beatflow.separator.v1.SeparatorService.SubmitAnalysis": "answers 202 with the seed's queued message",
}
# Unary methods whose rule the gateway does not serve yet: the OpenAPI document could not state what
# they accept (Envoy serves them). Until the protos carry their limits as protovalidate rules.
NOT_PUBLISHED: dict[str, str] = {
    "beatflow.separator.v1.SeparatorService.MixStems": "per-input gains, offsets and counts",
}
_VERBS = ("get", "put", "post", "delete", "patch")
# The method options read here. The generated .pyi declare extensions as plain FieldDescriptors, where typeshed's
# protobuf stubs type Extensions[] by their container and value.
_HTTP_RULE = cast("_ExtensionFieldDescriptor[MethodOptions, http_pb2.HttpRule]", annotations_pb2.http)
_SUCCESS_STATUS = cast("_ExtensionFieldDescriptor[MethodOptions, int]", beatflow_http_pb2.http_success_status)
_RESPONSE_FIELD = cast("_ExtensionFieldDescriptor[MethodOptions, str]", beatflow_http_pb2.http_response_field)


@dataclass(frozen=True)
class Binding:
    """One REST route of a unary method."""

    method: MethodDescriptor
    # The `Backends` attribute whose stub calls the method.
    stub: str
    http_method: str
    path: PathTemplate
    # "" (no body), "*" (the request message) or the name of the request field the body fills.
    body: str
    # "" (the response message) or the name of the response field that is the body: the rule's
    # response_body, or the method's `beatflow.common.v1.http_response_field` (Envoy refuses the former).
    response_body: str
    # 200, or the method's `beatflow.common.v1.http_success_status`.
    success_status: int
    # The method's `beatflow.common.v1.credential_free`: its operation declares no security.
    credential_free: bool

    @property
    def name(self) -> str:
        return self.method.full_name


def bindings() -> Iterator[Binding]:
    """Every transcoded route, in the order of the .proto files."""
    for service, stub in SERVICES.items():
        for method in service.methods:
            if (
                method.client_streaming
                or method.server_streaming
                or method.full_name in {**HAND_WRITTEN, **NOT_PUBLISHED}
            ):
                continue
            options = method.GetOptions()
            if not options.HasExtension(_HTTP_RULE):
                continue
            rule = options.Extensions[_HTTP_RULE]
            status = options.Extensions[_SUCCESS_STATUS] or 200
            field = options.Extensions[_RESPONSE_FIELD]
            for one in (rule, *rule.additional_bindings):
                yield _binding(method, stub, one, status, one.response_body or field)


def _binding(method: MethodDescriptor, stub: str, rule: http_pb2.HttpRule, status: int, field: str) -> Binding:
    verb = rule.WhichOneof("pattern")
    if verb not in _VERBS:
        raise ValueError(f"{method.full_name}: unsupported HTTP pattern {verb!r}")
    path = parse(getattr(rule, verb), lambda field_path: path_convertor(method.input_type, field_path))
    return Binding(method, stub, verb.upper(), path, rule.body, field, status, is_credential_free(method))
