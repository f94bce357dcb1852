"""One table for what vcs's refusals become in the services that call it for a user."""

from __future__ import annotations

import grpc
import pytest

from beatflow_platform.vcs_errors import from_vcs

Code = grpc.StatusCode


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    ("code", "expected_code", "reason"),
    [
        (Code.NOT_FOUND, Code.NOT_FOUND, "NOT_FOUND"),
        (Code.PERMISSION_DENIED, Code.PERMISSION_DENIED, "CANNOT_WRITE"),
        (Code.INVALID_ARGUMENT, Code.INVALID_ARGUMENT, "COMMIT_REFUSED"),
        (Code.RESOURCE_EXHAUSTED, Code.INVALID_ARGUMENT, "COMMIT_REFUSED"),
        (Code.FAILED_PRECONDITION, Code.FAILED_PRECONDITION, "COMMIT_REFUSED"),
        (Code.ABORTED, Code.ABORTED, "BRANCH_MOVED"),
        (Code.UNAVAILABLE, Code.UNAVAILABLE, "VCS_UNAVAILABLE"),
        (Code.INTERNAL, Code.UNAVAILABLE, "VCS_UNAVAILABLE"),
        (Code.UNAUTHENTICATED, Code.UNAVAILABLE, "VCS_UNAVAILABLE"),
    ],
)
def test_refusals_of_the_request_keep_their_meaning_and_the_rest_is_vcs_unavailable(code, expected_code, reason):
    error = from_vcs(rpc_error(code, "branch 'main' is protected"), "repository", "r-1", refused="COMMIT_REFUSED")
    assert (error.code, error.reason) == (expected_code, reason)
    assert "branch 'main' is protected" in error.message, "vcs's words reach the caller"


def test_not_found_names_the_resource_asked_for():
    error = from_vcs(rpc_error(Code.NOT_FOUND, ""), "commit", "abc", refused="COMMIT_REFUSED")
    assert error.message == "commit 'abc' not found"
