"""The generator's calls to vcs version control, as the job's owner: read a source commit, and land a
result as a commit (an edit of the branch head) whose generation_params hold its provenance."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import struct_pb2

from beatflow.vcs.v1 import version_control_pb2 as vc
from beatflow.vcs.v1 import version_control_pb2_grpc
from beatflow_platform.jobs.payloads import JsonObject
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.vcs_errors import from_vcs


@dataclass(frozen=True)
class Destination:
    """Where a result lands: `branch` of `repo_id` (empty: the default branch), or with `variation`
    n, the branch "<branch>-var-<n>". A branch that does not exist yet starts at the head of the
    branch it derives from (for a plain branch, the default branch)."""

    repo_id: str
    branch: str = ""
    variation: int = 0

    def as_payload(self) -> JsonObject:
        return {"repo_id": self.repo_id, "branch": self.branch, "variation": self.variation}

    @classmethod
    def from_payload(cls, payload: JsonObject) -> Destination:
        return cls(**payload)


@dataclass(frozen=True)
class Landing:
    """What lands: stems (name -> blob id) added or replaced, the others kept."""

    stems: dict[str, str]
    message: str
    bpm: float
    key_signature: str
    provenance: JsonObject


class VersionControl:
    def __init__(self, channel: grpc.aio.Channel, tokens: ServiceTokenSource, *, timeout_seconds: float = 30.0):
        self._stub = version_control_pb2_grpc.VersionControlServiceStub(channel)
        self._tokens = tokens
        self._timeout = timeout_seconds

    async def _call(self, method: str, request, owner_id: str, resource: tuple[str, str]):
        try:
            return await getattr(self._stub, method)(
                request, metadata=self._tokens.metadata(on_behalf_of=owner_id), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, *resource, refused="COMMIT_REFUSED") from None

    async def commit(self, repo_id: str, commit_id: str, *, owner_id: str) -> vc.Commit:
        """The commit as its reader `owner_id` sees it; NOT_FOUND when they cannot."""
        response = await self._call(
            "GetCommit", vc.GetCommitRequest(repo_id=repo_id, commit_id=commit_id), owner_id, ("commit", commit_id)
        )
        return response.commit

    async def land(
        self, where: Destination, what: Landing, *, owner_id: str, request_id: str
    ) -> vc.CreateCommitResponse:
        """Commits `what` as `owner_id`; `request_id` makes a retried job land once."""
        branches = await self._call(
            "ListBranches", vc.ListBranchesRequest(repo_id=where.repo_id), owner_id, ("repository", where.repo_id)
        )
        heads = {branch.name: branch.commit_id for branch in branches.branches}
        default = next((branch.name for branch in branches.branches if branch.is_default), "")
        base = where.branch or default
        target = f"{base or 'main'}-var-{where.variation}" if where.variation else base
        # A new branch starts where its base is (a first commit when the repository has none).
        start = "" if target in heads else heads.get(base) or heads.get(default, "")
        params = struct_pb2.Struct()
        params.update(what.provenance)
        request = vc.CreateCommitRequest(
            repo_id=where.repo_id,
            branch=target,
            parent_commit_id=start,
            message=what.message,
            bpm=what.bpm,
            key_signature=what.key_signature,
            generation_params=params,
            stems=[vc.StemInput(name=name, blob_id=blob_id) for name, blob_id in what.stems.items()],
            request_id=request_id,
        )
        return await self._call("CreateCommit", request, owner_id, ("repository", where.repo_id))
