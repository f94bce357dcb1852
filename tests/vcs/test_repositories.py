"""Repositories, their visibility to others, collaborators and pagination."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from beatflow.vcs.v1 import repositories_pb2 as pb
from tests.fixtures.vcs import VcsUnderTest, rpc_error


async def test_create_get_update_delete(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    created = await alice.create_repo("Night Drive", description="synthwave sketch", genre="synthwave")
    assert created.owner_id == alice.user.user_id
    assert created.default_branch == "main"
    assert not created.is_public
    fetched = (await alice.repos.GetRepository(pb.GetRepositoryRequest(repo_id=created.repo_id))).repository
    assert fetched == created

    updated = (
        await alice.repos.UpdateRepository(
            pb.UpdateRepositoryRequest(
                repo_id=created.repo_id,
                repository=pb.Repository(description="finished", is_public=True, name="ignored"),
                update_mask=FieldMask(paths=["description", "is_public"]),
            )
        )
    ).repository
    assert (updated.description, updated.is_public, updated.name) == ("finished", True, "Night Drive")

    await alice.repos.DeleteRepository(pb.DeleteRepositoryRequest(repo_id=created.repo_id))
    error = await rpc_error(alice.repos.GetRepository(pb.GetRepositoryRequest(repo_id=created.repo_id)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # The name is free again.
    assert (await alice.create_repo("Night Drive")).repo_id != created.repo_id


async def test_names_are_unique_per_owner_ignoring_case(vcs: VcsUnderTest):
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    await alice.create_repo("Beats")
    error = await rpc_error(alice.create_repo("beats"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await bob.create_repo("Beats")).name == "Beats"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "../etc/passwd"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "description": "d" * 2001}, "description"),
        ({"name": "ok", "default_branch": "bad..branch"}, "default_branch"),
        ({"name": "ok", "request_id": "r" * 200}, "request_id"),
    ],
)
async def test_bad_fields_are_invalid_argument(vcs: VcsUnderTest, fields, field):
    alice = await vcs.sign_up()
    error = await rpc_error(alice.repos.CreateRepository(pb.CreateRepositoryRequest(**fields)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)


async def test_private_repositories_are_invisible_to_strangers(vcs: VcsUnderTest):
    owner, stranger = await vcs.sign_up(), await vcs.sign_up()
    private = await owner.create_repo("secret")
    public = await owner.create_repo("shared", is_public=True)
    for call in (
        stranger.repos.GetRepository(pb.GetRepositoryRequest(repo_id=private.repo_id)),
        stranger.repos.DeleteRepository(pb.DeleteRepositoryRequest(repo_id=private.repo_id)),
        stranger.repos.ListCollaborators(pb.ListCollaboratorsRequest(repo_id=private.repo_id)),
        stranger.repos.ForkRepository(pb.ForkRepositoryRequest(original_repo_id=private.repo_id)),
        stranger.repos.GetRepository(pb.GetRepositoryRequest(repo_id=str(uuid.uuid4()))),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    # Public: readable, but not changeable.
    assert (await stranger.repos.GetRepository(pb.GetRepositoryRequest(repo_id=public.repo_id))).repository.name
    error = await rpc_error(stranger.repos.DeleteRepository(pb.DeleteRepositoryRequest(repo_id=public.repo_id)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = (await stranger.repos.ListRepositories(pb.ListRepositoriesRequest())).repositories
    assert [r.name for r in listed] == ["shared"]


async def test_anonymous_calls_are_unauthenticated(vcs: VcsUnderTest):
    from beatflow.vcs.v1 import repositories_pb2_grpc

    stub = repositories_pb2_grpc.RepositoryServiceStub(vcs.channel)
    error = await rpc_error(stub.ListRepositories(pb.ListRepositoriesRequest()))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_collaborator_roles(vcs: VcsUnderTest):
    owner, reader, writer = await vcs.sign_up(), await vcs.sign_up(), await vcs.sign_up()
    repo = await owner.create_repo("band")
    await owner.repos.PutCollaborator(
        pb.PutCollaboratorRequest(repo_id=repo.repo_id, username=reader.user.username, role=pb.COLLABORATOR_ROLE_READ)
    )
    await owner.repos.PutCollaborator(
        pb.PutCollaboratorRequest(repo_id=repo.repo_id, username=writer.user.username, role=pb.COLLABORATOR_ROLE_WRITE)
    )
    listed = (await reader.repos.ListCollaborators(pb.ListCollaboratorsRequest(repo_id=repo.repo_id))).collaborators
    assert {(c.username, c.role) for c in listed} == {
        (reader.user.username, pb.COLLABORATOR_ROLE_READ),
        (writer.user.username, pb.COLLABORATOR_ROLE_WRITE),
    }
    # Only the owner administers, even a writer cannot.
    error = await rpc_error(
        writer.repos.PutCollaborator(
            pb.PutCollaboratorRequest(
                repo_id=repo.repo_id, username=reader.user.username, role=pb.COLLABORATOR_ROLE_WRITE
            )
        )
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [r.name for r in (await reader.repos.ListRepositories(pb.ListRepositoriesRequest())).repositories] == [
        "band"
    ]

    await owner.repos.RemoveCollaborator(
        pb.RemoveCollaboratorRequest(repo_id=repo.repo_id, username=reader.user.username)
    )
    error = await rpc_error(reader.repos.GetRepository(pb.GetRepositoryRequest(repo_id=repo.repo_id)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await rpc_error(
        owner.repos.PutCollaborator(
            pb.PutCollaboratorRequest(
                repo_id=repo.repo_id, username=owner.user.username, role=pb.COLLABORATOR_ROLE_READ
            )
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    error = await rpc_error(
        owner.repos.PutCollaborator(
            pb.PutCollaboratorRequest(repo_id=repo.repo_id, username="nobody-here", role=pb.COLLABORATOR_ROLE_READ)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_list_paginates_without_gaps_or_repeats(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    names = {f"track {i:02d}" for i in range(7)}
    for name in names:
        await alice.create_repo(name)
    seen, token, pages = [], "", 0
    while True:
        page = await alice.repos.ListRepositories(pb.ListRepositoriesRequest(page_size=3, page_token=token))
        seen += [r.name for r in page.repositories]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(names) and pages == 3
    error = await rpc_error(alice.repos.ListRepositories(pb.ListRepositoriesRequest(page_token="forged")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_request_id_makes_create_idempotent(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    first = await alice.create_repo("once", request_id="req-1")
    again = await alice.create_repo("once", request_id="req-1")
    assert again.repo_id == first.repo_id
    error = await rpc_error(alice.create_repo("once", request_id="req-2"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_update_mask_is_checked(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    repo = await alice.create_repo("masked")
    for paths in ([], ["owner_id"], ["name; DROP TABLE vcs.users"]):
        error = await rpc_error(
            alice.repos.UpdateRepository(
                pb.UpdateRepositoryRequest(repo_id=repo.repo_id, update_mask=FieldMask(paths=paths))
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_fork_of_an_empty_repository_records_provenance(vcs: VcsUnderTest):
    owner, fan = await vcs.sign_up(), await vcs.sign_up()
    original = await owner.create_repo("Original", is_public=True, genre="lofi")
    fork = (
        await fan.repos.ForkRepository(pb.ForkRepositoryRequest(original_repo_id=original.repo_id, fork_name="Remix"))
    ).repository
    assert fork.owner_id == fan.user.user_id
    assert (fork.name, fork.genre, fork.is_public) == ("Remix", "lofi", True)
    assert fork.forked_from.repo_id == original.repo_id
    assert fork.forked_from.owner_username == owner.user.username
    unnamed = (await fan.repos.ForkRepository(pb.ForkRepositoryRequest(original_repo_id=original.repo_id))).repository
    assert unnamed.name == "Original"
