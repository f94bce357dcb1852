"""/api/repositories: the routes transcoding cannot serve (the rest come from the protos' rules)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from google.protobuf.field_mask_pb2 import FieldMask

from beatflow.vcs.v1 import repositories_pb2 as pb
from beatflow_gateway.context import Authorised, Services, to_json
from beatflow_gateway.models import Body, Description, Genre, RefName, RepositoryName, Username, Uuid

router = APIRouter(tags=["Repositories"])
ROLES = {"read": pb.COLLABORATOR_ROLE_READ, "write": pb.COLLABORATOR_ROLE_WRITE}


class UpdateBody(Body):
    name: RepositoryName | None = None
    description: Description | None = None
    is_public: bool | None = None
    genre: Genre | None = None
    default_branch: RefName | None = None


class CollaboratorBody(Body):
    role: Literal["read", "write"]


@router.patch("/api/repositories/{repo_id:uuid_id}")
async def update_repository(repo_id: Uuid, body: UpdateBody, call: Authorised, services: Services) -> dict:
    """The fields present are the ones changed (the update mask)."""
    changes = body.model_dump(exclude_none=True)
    if not changes:  # nothing to change: the repository as it is
        response = await services.repositories.GetRepository(
            pb.GetRepositoryRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
        )
        return to_json(response.repository)
    response = await services.repositories.UpdateRepository(
        pb.UpdateRepositoryRequest(
            repo_id=repo_id, repository=pb.Repository(**changes), update_mask=FieldMask(paths=sorted(changes))
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.repository)


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
