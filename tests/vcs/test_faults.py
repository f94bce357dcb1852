"""Faults under the vcs service: an object store that goes away, a database that restarts."""

from __future__ import annotations

import asyncio
import shutil

import grpc
import psycopg
import pytest

from beatflow.vcs.v1 import repositories_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres, reachable_tempdir
from beatflow_devtools.s3servers import MotoS3
from beatflow_platform.settings import DatabaseSettings, ObjectStoreSettings
from tests.audio import tone
from tests.fixtures.s3 import s3_settings
from tests.fixtures.vcs import rpc_error


def commit_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM vcs.commits").fetchone()[0]


async def test_object_store_outage_is_unavailable_and_writes_nothing(vcs_factory, database_dsn):
    server = MotoS3()
    endpoint = server.start()
    try:
        vcs = await vcs_factory(object_store=s3_settings(endpoint))
        alice = await vcs.sign_up()
        repo = await alice.create_repo("Outage")
        blob = await alice.upload(tone(0.3))
        first = await alice.commit(repo.repo_id, {"loop": blob.blob_id})
    finally:
        server.stop()
    before = commit_count(database_dsn)
    error = await rpc_error(alice.upload(tone(0.4)))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    error = await rpc_error(alice.commit(repo.repo_id, {"loop": blob.blob_id}, parent=first.commit_id))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert commit_count(database_dsn) == before, "no half-written commit"
    branches = await alice.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo.repo_id))
    assert branches.branches[0].commit_id == first.commit_id
    # Reads that need only the database keep working.
    assert (await alice.vc.GetCommit(pb.GetCommitRequest(commit_id=first.commit_id))).commit.stems


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test's own, so that stopping it disturbs no other test."""
    base = reachable_tempdir("beatflow-pg-fault-")
    cluster = LocalPostgres(base / "data", free_port())
    cluster.init()
    cluster.start(fsync=False)
    yield cluster
    cluster.stop(mode="immediate")
    shutil.rmtree(base, ignore_errors=True)


async def test_postgres_restart_is_unavailable_then_recovers(vcs_factory, own_cluster, tmp_path):
    cluster = own_cluster
    vcs = await vcs_factory(
        database=DatabaseSettings(url=cluster.dsn(), acquire_timeout_seconds=1),
        object_store=ObjectStoreSettings(root=tmp_path / "blobs"),
    )
    alice = await vcs.sign_up()
    repo = await alice.create_repo("Durable")
    cluster.stop(mode="fast")
    error = await rpc_error(alice.create_repo("While down", timeout=10))
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # quickly, well inside the deadline
    cluster.start(fsync=False)
    # The pool reconnects on its own; callers retry UNAVAILABLE (the SDK does) until it has.
    for _ in range(60):
        try:
            fetched = await alice.repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=repo.repo_id))
            break
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            await asyncio.sleep(0.5)
    assert fetched.repository.name == "Durable", "committed data survived the restart"
    assert (await alice.create_repo("After")).name == "After"
