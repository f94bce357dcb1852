"""Whether a user may read a repository (and a commit in it), asked of vcs as that user.

Model services take a `repo_id` / `commit_id` that says which project a piece of work belongs to;
they check it at submit time, so a job never records a project its owner cannot see.
"""

from __future__ import annotations

import grpc

from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc, version_control_pb2, version_control_pb2_grpc
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.vcs_errors import from_vcs


class ProjectReader:
    def __init__(self, channel: grpc.aio.Channel, tokens: ServiceTokenSource, *, timeout_seconds: float = 10.0):
        self._repositories = repositories_pb2_grpc.RepositoryServiceStub(channel)
        self._versions = version_control_pb2_grpc.VersionControlServiceStub(channel)
        self._tokens = tokens
        self._timeout = timeout_seconds

    async def check(self, *, repo_id: str, commit_id: str, owner_id: str) -> None:
        """NOT_FOUND unless `owner_id` can read the repository and, when given, the commit in it."""
        metadata = self._tokens.metadata(on_behalf_of=owner_id)
        try:
            await self._repositories.GetRepository(
                repositories_pb2.GetRepositoryRequest(repo_id=repo_id), metadata=metadata, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, "repository", repo_id, refused="PROJECT_REFUSED") from None
        if not commit_id:
            return
        try:
            await self._versions.GetCommit(
                version_control_pb2.GetCommitRequest(commit_id=commit_id, repo_id=repo_id),
                metadata=metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, "commit", commit_id, refused="PROJECT_REFUSED") from None
