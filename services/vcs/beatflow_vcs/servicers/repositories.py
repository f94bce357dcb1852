"""beatflow.vcs.v1.RepositoryService over `Repositories`."""

from __future__ import annotations

import grpc

from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc
from beatflow_platform.auth import current_principal, reader_principal
from beatflow_platform.errors import InvalidArgument
from beatflow_vcs.repositories import UPDATABLE_FIELDS, Repositories
from beatflow_vcs.servicers import convert

SERVICE_NAME = repositories_pb2.DESCRIPTOR.services_by_name["RepositoryService"].full_name
# Reads open to anonymous callers: they see what any signed-in stranger sees (public repositories).
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{method}" for method in ("GetRepository", "ListRepositories", "ListCollaborators")
)


class RepositoryServicer(repositories_pb2_grpc.RepositoryServiceServicer):
    def __init__(self, repositories: Repositories):
        self._repositories = repositories

    async def CreateRepository(
        self, request: repositories_pb2.CreateRepositoryRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.CreateRepositoryResponse:
        repository = await self._repositories.create(
            current_principal(),
            name=request.name,
            description=request.description,
            is_public=request.is_public,
            genre=request.genre,
            default_branch=request.default_branch,
            request_id=request.request_id,
        )
        return repositories_pb2.CreateRepositoryResponse(repository=convert.repository(repository))

    async def GetRepository(
        self, request: repositories_pb2.GetRepositoryRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.GetRepositoryResponse:
        repository = await self._repositories.get(reader_principal(), request.repo_id)
        return repositories_pb2.GetRepositoryResponse(repository=convert.repository(repository))

    async def ListRepositories(
        self, request: repositories_pb2.ListRepositoriesRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.ListRepositoriesResponse:
        found, next_token = await self._repositories.list(
            current_principal(),
            page_size_requested=request.page_size,
            page_token=request.page_token,
            owner_username=request.owner_username or request.owner,
        )
        return repositories_pb2.ListRepositoriesResponse(
            repositories=[convert.repository(r) for r in found], next_page_token=next_token
        )

    async def UpdateRepository(
        self, request: repositories_pb2.UpdateRepositoryRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.UpdateRepositoryResponse:
        # Unknown paths reach the domain as None, which refuses them by name.
        changes = {
            path: getattr(request.repository, path) if path in UPDATABLE_FIELDS else None
            for path in request.update_mask.paths
        }
        repository = await self._repositories.update(current_principal(), request.repo_id, changes)
        return repositories_pb2.UpdateRepositoryResponse(repository=convert.repository(repository))

    async def DeleteRepository(
        self, request: repositories_pb2.DeleteRepositoryRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.DeleteRepositoryResponse:
        await self._repositories.delete(current_principal(), request.repo_id)
        return repositories_pb2.DeleteRepositoryResponse()

    async def ForkRepository(
        self, request: repositories_pb2.ForkRepositoryRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.ForkRepositoryResponse:
        repository = await self._repositories.fork(
            current_principal(), request.original_repo_id, request.fork_name, request.request_id
        )
        return repositories_pb2.ForkRepositoryResponse(repository=convert.repository(repository))

    async def ListCollaborators(
        self, request: repositories_pb2.ListCollaboratorsRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.ListCollaboratorsResponse:
        found = await self._repositories.list_collaborators(reader_principal(), request.repo_id)
        return repositories_pb2.ListCollaboratorsResponse(collaborators=[convert.collaborator(c) for c in found])

    async def PutCollaborator(
        self, request: repositories_pb2.PutCollaboratorRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.PutCollaboratorResponse:
        role = convert.ROLE_FROM_PROTO.get(request.role)
        if role is None:
            raise InvalidArgument.for_field("role", "must be COLLABORATOR_ROLE_READ or COLLABORATOR_ROLE_WRITE")
        found = await self._repositories.put_collaborator(current_principal(), request.repo_id, request.username, role)
        return repositories_pb2.PutCollaboratorResponse(collaborator=convert.collaborator(found))

    async def RemoveCollaborator(
        self, request: repositories_pb2.RemoveCollaboratorRequest, context: grpc.aio.ServicerContext
    ) -> repositories_pb2.RemoveCollaboratorResponse:
        await self._repositories.remove_collaborator(current_principal(), request.repo_id, request.username)
        return repositories_pb2.RemoveCollaboratorResponse()
