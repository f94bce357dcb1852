"""Faults under the vcs service: an object store that goes away, a database that restarts
while clients write."""

from __future__ import annotations

import asyncio
from collections import Counter

import grpc
import psycopg

from beatflow.vcs.v1 import version_control_pb2 as pb
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


async def test_postgres_restart_during_traffic_loses_nothing_and_hangs_nothing(vcs_factory, private_postgres, tmp_path):
    cluster = private_postgres
    vcs = await vcs_factory(
        database=DatabaseSettings(url=cluster.dsn(), acquire_timeout_seconds=1),
        object_store=ObjectStoreSettings(root=tmp_path / "blobs"),
    )
    alice = await vcs.sign_up()
    blob = (await alice.upload(tone(0.3))).blob_id
    repos = [(await alice.create_repo(f"Durable {n}")).repo_id for n in range(4)]
    acknowledged = {repo_id: [] for repo_id in repos}
    outcomes = Counter()
    restarted = asyncio.Event()

    async def writer(repo_id: str) -> None:
        """Commits in a line; retries UNAVAILABLE with the same request id, as the SDK does."""
        head, written_after_restart = "", 0
        while written_after_restart < 3:
            request = pb.CreateCommitRequest(
                repo_id=repo_id,
                parent_commit_id=head,
                message=f"take {len(acknowledged[repo_id])}",
                stems=[pb.StemInput(name="loop", blob_id=blob)],
                request_id=f"{repo_id}-{len(acknowledged[repo_id])}",
            )
            try:
                head = (await alice.vc.CreateCommit(request, timeout=10)).commit.commit_id
            except grpc.aio.AioRpcError as error:
                outcomes[error.code().name] += 1
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
                await asyncio.sleep(0.2)
                continue
            outcomes["OK"] += 1
            acknowledged[repo_id].append(head)
            written_after_restart += restarted.is_set()

    writers = asyncio.gather(*(writer(repo_id) for repo_id in repos))
    await asyncio.sleep(1)
    await asyncio.to_thread(cluster.stop, "fast")
    await asyncio.sleep(2)
    await asyncio.to_thread(cluster.start, fsync=False)
    restarted.set()
    await asyncio.wait_for(writers, 120)

    assert outcomes["UNAVAILABLE"] > 0, "the traffic met the outage"
    assert set(outcomes) == {"OK", "UNAVAILABLE"}, outcomes  # no DEADLINE_EXCEEDED: nothing hung
    for repo_id, heads in acknowledged.items():
        log = await alice.vc.GetLog(pb.GetLogRequest(repo_id=repo_id, page_size=1000))
        assert [c.commit_id for c in log.commits] == heads[::-1], "every acknowledged commit, once, in order"
