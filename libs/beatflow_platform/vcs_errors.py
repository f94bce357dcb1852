"""What a model service tells its caller when vcs refuses something it asked for a user.

vcs's answer about the user's own request keeps its meaning and its words (NOT_FOUND, a refused
blob or commit, a branch that moved); anything else (vcs down, overloaded, failing) means vcs is
unavailable to this service, never a fault of the request. One table for every client of vcs.
"""

from __future__ import annotations

import grpc

from beatflow_platform.errors import (
    Aborted,
    BeatFlowError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)


def from_vcs(error: grpc.aio.AioRpcError, kind: str, name: str, *, refused: str) -> BeatFlowError:
    """The error for `error`, raised by vcs about resource `kind` `name`; `refused` is the reason a
    refusal of the input carries (e.g. "BLOB_REFUSED", "COMMIT_REFUSED")."""
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(kind, name, f"vcs: {details}" if details else None)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(f"vcs: {details}", reason="CANNOT_WRITE")
    # A blob over vcs's size or length limits is refused input, not a quota of this service.
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
        return InvalidArgument(f"vcs: {details}", reason=refused)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(f"vcs: {details}", reason=refused)
    if code == grpc.StatusCode.ABORTED:
        return Aborted(f"vcs: {details}", reason="BRANCH_MOVED")
    return Unavailable(f"vcs: {code.name}: {details}", reason="VCS_UNAVAILABLE")
