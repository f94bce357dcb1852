"""Which methods take no credentials, as the contracts mark them (`beatflow.common.v1.credential_free`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from beatflow.common.v1 import http_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.extension_dict import _ExtensionFieldDescriptor

# The generated .pyi declare extensions as plain FieldDescriptors; typeshed types Extensions[] by them.
_CREDENTIAL_FREE = cast("_ExtensionFieldDescriptor[MethodOptions, bool]", http_pb2.credential_free)


def is_credential_free(method: MethodDescriptor) -> bool:
    return method.GetOptions().Extensions[_CREDENTIAL_FREE]


def credential_free_methods(service: ServiceDescriptor) -> frozenset[str]:
    """The service's credential-free methods as gRPC paths (`/package.Service/Method`)."""
    return frozenset(f"/{service.full_name}/{method.name}" for method in service.methods if is_credential_free(method))
