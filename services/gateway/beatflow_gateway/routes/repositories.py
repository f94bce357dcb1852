"""/api/repositories and /api/vcs/fork: projects, their settings, collaborators and forks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import Field

from beatflow.vcs.v1 import repositories_pb2 as pb
from beatflow_gateway.context import OPTIONAL_TOKEN, Authorised, Reader, Services, to_json
from beatflow_gateway.models import (
    Body,
    RefName,
    RefNameOrEmpty,
    RepositoryName,
    RepositoryNameOrEmpty,
    RequestId,
    Username,
    UsernameOrEmpty,
    Uuid,
    text,
)
from beatflow_platform import naming

router = APIRouter(tags=["Repositories"])
ROLES = {"read": pb.COLLABORATOR_ROLE_READ, "write": pb.COLLABORATOR_ROLE_WRITE}


def repository_json(repository: pb.Repository) -> dict:
    """Our fields plus the seed contract's names (id, created_at)."""
    body = to_json(repository)
    return {**body, "id": repository.repo_id, "created_at": body.get("create_time")}


class CreateBody(Body):
    name: RepositoryName = Field(description=naming.REPOSITORY_NAME_RULE)
    description: text(naming.MAX_DESCRIPTION_LENGTH) = ""
    is_public: bool = False
    genre: text(naming.MAX_GENRE_LENGTH) = ""
    default_branch: RefNameOrEmpty = Field(default="", description="Empty: main")
    request_id: RequestId = ""


class UpdateBody(Body):
    name: RepositoryName | None = None
    description: text(naming.MAX_DESCRIPTION_LENGTH) | None = None
    is_public: bool | None = None
    genre: text(naming.MAX_GENRE_LENGTH) | None = None
    default_branch: RefName | None = None


class ForkBody(Body):
    original_repo_id: Uuid
    fork_name: RepositoryNameOrEmpty = Field(default="", description="Empty: the original's name")
    request_id: RequestId = ""


class CollaboratorBody(Body):
    role: Literal["read", "write"]


@router.post("/api/repositories/create", status_code=201)
async def create_repository(body: CreateBody, call: Authorised, services: Services) -> dict:
    response = await services.repositories.CreateRepository(
        pb.CreateRepositoryRequest(**body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return repository_json(response.repository)


@router.get("/api/repositories")
async def list_repositories(
    call: Authorised,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: text(2000) = "",
    owner: UsernameOrEmpty = "",
) -> dict:
    response = await services.repositories.ListRepositories(
        pb.ListRepositoriesRequest(page_size=page_size, page_token=page_token, owner_username=owner),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {
        "repositories": [repository_json(r) for r in response.repositories],
        "next_page_token": response.next_page_token,
    }


@router.get("/api/repositories/{repo_id:uuid_id}", openapi_extra=OPTIONAL_TOKEN)
async def get_repository(repo_id: Uuid, call: Reader, services: Services) -> dict:
    response = await services.repositories.GetRepository(
        pb.GetRepositoryRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return repository_json(response.repository)


@router.patch("/api/repositories/{repo_id:uuid_id}")
async def update_repository(repo_id: Uuid, body: UpdateBody, call: Authorised, services: Services) -> dict:
    changes = body.model_dump(exclude_none=True)
    if not changes:  # nothing to change: the repository as it is
        return await get_repository(repo_id, call, services)
    response = await services.repositories.UpdateRepository(
        pb.UpdateRepositoryRequest(
            repo_id=repo_id, repository=pb.Repository(**changes), update_mask=FieldMask(paths=sorted(changes))
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return repository_json(response.repository)


@router.delete("/api/repositories/{repo_id:uuid_id}", status_code=204)
async def delete_repository(repo_id: Uuid, call: Authorised, services: Services) -> None:
    await services.repositories.DeleteRepository(
        pb.DeleteRepositoryRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )


@router.post("/api/vcs/fork", status_code=201, tags=["Version Control"])
async def fork_repository(body: ForkBody, call: Authorised, services: Services) -> dict:
    response = await services.repositories.ForkRepository(
        pb.ForkRepositoryRequest(**body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return repository_json(response.repository)


@router.get("/api/repositories/{repo_id:uuid_id}/collaborators", openapi_extra=OPTIONAL_TOKEN)
async def list_collaborators(repo_id: Uuid, call: Reader, services: Services) -> dict:
    response = await services.repositories.ListCollaborators(
        pb.ListCollaboratorsRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.put("/api/repositories/{repo_id:uuid_id}/collaborators/{username:username}")
async def put_collaborator(
    repo_id: Uuid, username: Username, body: CollaboratorBody, call: Authorised, services: Services
) -> dict:
    response = await services.repositories.PutCollaborator(
        pb.PutCollaboratorRequest(repo_id=repo_id, username=username, role=ROLES[body.role]),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.collaborator)


@router.delete("/api/repositories/{repo_id:uuid_id}/collaborators/{username:username}", status_code=204)
async def remove_collaborator(repo_id: Uuid, username: Username, call: Authorised, services: Services) -> None:
    await services.repositories.RemoveCollaborator(
        pb.RemoveCollaboratorRequest(repo_id=repo_id, username=username), metadata=call.metadata, timeout=call.timeout
    )
