"""Blob and render garbage collection (`beatflow-admin gc`) against the real vcs service, PostgreSQL and an S3
server: what nothing names goes (row, grants and object) once it is older than the grace period; what a commit,
a fork's history, a job or a render names stays; a dry run changes nothing; and uploads, commits and forks
racing collections with no grace period lose nothing a commit names."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import timedelta

import grpc
import pretty_midi
import pytest
from psycopg.types.json import Jsonb

from beatflow.common.v1 import artifact_pb2, audio_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import blobs_pb2
from beatflow.vcs.v1 import repositories_pb2 as rpb
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_admin.gc import collect_garbage
from beatflow_admin.settings import AdminSettings
from beatflow_platform.db.pool import connect
from beatflow_platform.objectstore import create_object_store
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest

DAY = timedelta(days=1)


def admin_settings(vcs: VcsUnderTest, dsn: str, **overrides) -> AdminSettings:
    return AdminSettings(
        vcs_database_url=dsn, jobs_database_url=dsn, object_store=vcs.settings.object_store, **overrides
    )


def take(seed: int, seconds: float = 0.2) -> bytes:
    """A short WAV that no other seed produces."""
    return tone(seconds, 200.0 + seed)


def midi_file() -> bytes:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.extend(pretty_midi.Note(100, 36, beat * 0.5, beat * 0.5 + 0.1) for beat in range(8))
    midi.instruments.append(drums)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


async def download(caller: Caller, blob_id: str) -> bytes:
    request = blobs_pb2.DownloadBlobRequest(blob_id=blob_id)
    return b"".join([message.chunk async for message in caller.blobs.DownloadBlob(request)])


async def age(db, blob_ids, by: timedelta) -> None:
    await db.execute("UPDATE vcs.blobs SET last_uploaded_at = now() - %s WHERE id = ANY(%s)", (by, sorted(blob_ids)))


async def add_job(db, state: str, payload: dict, *, result: jobs_pb2.JobResult | None = None, ended_ago=None):
    await db.execute(
        "INSERT INTO jobs.jobs (id, kind, owner_id, state, payload, result, ended_at)"
        " VALUES (gen_random_uuid(), 'separator.separate', 'alice', %s, %s, %s, now() - %s::interval)",
        (state, Jsonb(payload), result.SerializeToString() if result else None, ended_ago),
    )


async def blob_rows(db) -> set[str]:
    return {row["id"] for row in await (await db.execute("SELECT id FROM vcs.blobs")).fetchall()}


@pytest.fixture
async def db(database_dsn):
    async with await connect(database_dsn) as conn:
        yield conn


@pytest.fixture
async def world(vcs: VcsUnderTest, db):
    """Blobs named in every way the collector knows, two unreferenced old ones and a young one, all but the
    young one uploaded two days ago. Returns (alice, blobs by role)."""
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    blobs = {}
    for number, role in enumerate(
        ("committed", "forked", "job_input", "job_output", "old_job_output", "garbage", "young", "render_bytes")
    ):
        blobs[role] = (await alice.upload(take(number))).blob_id
    blobs["midi"] = (await alice.upload(midi_file(), filename="drums.mid")).blob_id
    repo = await alice.create_repo("song", is_public=True)
    await alice.commit(
        repo.repo_id, {"drums": blobs["committed"]}, generation_params={"midi": {"drums": blobs["midi"]}}
    )
    # A commit only a fork's history keeps once its source repository is deleted.
    scratch = await alice.create_repo("scratch", is_public=True)
    await alice.commit(scratch.repo_id, {"keys": blobs["forked"]})
    await bob.repos.ForkRepository(rpb.ForkRepositoryRequest(original_repo_id=scratch.repo_id))
    await alice.repos.DeleteRepository(rpb.DeleteRepositoryRequest(repo_id=scratch.repo_id))
    # A queued job's input, a recent job's output (in its serialized result), a long-finished job's output.
    await add_job(db, "queued", {"source_blob_id": blobs["job_input"], "engine": "dsp"})
    for role, ended in (("job_output", timedelta(hours=1)), ("old_job_output", 40 * DAY)):
        result = jobs_pb2.JobResult(
            artifacts=[artifact_pb2.Artifact(name="vocals", blob=audio_pb2.BlobRef(blob_id=blobs[role]))]
        )
        await add_job(db, "succeeded", {"source_blob_id": blobs["committed"]}, result=result, ended_ago=ended)
    # A render whose file holds the same bytes as an uploaded blob: the object is the render's too.
    await db.execute(
        "INSERT INTO vcs.renders (render_key, object_id, size_bytes, audio_format, frames, sample_rate, channels,"
        " headroom_gain_db) VALUES (%s, %s, 1, 'WAV', 1, 44100, 2, 0)",
        ("a" * 64, blobs["render_bytes"]),
    )
    await age(db, [blob for role, blob in blobs.items() if role != "young"], 2 * DAY)
    return alice, blobs


async def test_old_unreferenced_blobs_go_and_everything_named_or_young_stays(
    vcs: VcsUnderTest, db, database_dsn, world
):
    alice, blobs = world
    store = await create_object_store(vcs.settings.object_store)
    settings = admin_settings(vcs, database_dsn, gc_grace_seconds=DAY.total_seconds(), batch_size=2)
    marked, (blob_report, render_report, *_) = await collect_garbage(settings, dry_run=False, store=store)

    gone = {blobs["garbage"], blobs["old_job_output"]}
    assert (blob_report.sweeper, blob_report.swept, blob_report.dry_run) == ("vcs.blobs", 2, False)
    assert blob_report.bytes == len(take(5)) + len(take(4))
    assert marked.from_commit_params == 1 and marked.from_jobs >= 2
    assert render_report.swept == 0
    assert await blob_rows(db) == set(blobs.values()) - gone
    for role, blob_id in blobs.items():
        assert await store.exists(blob_id) == (blob_id not in gone), role
    grants = await (
        await db.execute("SELECT count(*) AS n FROM vcs.blob_grants WHERE blob_id = ANY(%s)", (sorted(gone),))
    ).fetchone()
    assert grants["n"] == 0
    # What stayed still downloads, verified against its id; what went is NOT_FOUND.
    assert await download(alice, blobs["committed"]) == take(0)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await download(alice, blobs["garbage"])
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_dry_run_counts_what_a_real_run_deletes_and_changes_nothing(vcs: VcsUnderTest, db, database_dsn, world):
    _, blobs = world
    store = await create_object_store(vcs.settings.object_store)
    settings = admin_settings(vcs, database_dsn, gc_grace_seconds=DAY.total_seconds())
    _, dry = await collect_garbage(settings, dry_run=True, store=store)
    # Blobs, renders, then the chunk store's packs and index entries (the takes here are stored whole).
    assert [(r.swept, r.batches, r.dry_run) for r in dry] == [(2, 0, True)] + [(0, 0, True)] * 3
    assert await blob_rows(db) == set(blobs.values())
    assert all([await store.exists(blob_id) for blob_id in blobs.values()])
    _, real = await collect_garbage(settings, dry_run=False, store=store)
    assert [(r.swept, r.bytes) for r in real] == [(r.swept, r.bytes) for r in dry]


async def test_uploading_the_same_bytes_again_makes_an_old_blob_young(vcs: VcsUnderTest, db, database_dsn):
    alice = await vcs.sign_up()
    blob_id = (await alice.upload(take(7))).blob_id
    await age(db, {blob_id}, 2 * DAY)
    assert (await alice.upload(take(7))).blob_id == blob_id, "the same bytes again, e.g. a retried upload"
    store = await create_object_store(vcs.settings.object_store)
    settings = admin_settings(vcs, database_dsn, gc_grace_seconds=DAY.total_seconds())
    _, (blob_report, *_) = await collect_garbage(settings, dry_run=False, store=store)
    assert blob_report.swept == 0 and await store.exists(blob_id)
    assert await download(alice, blob_id) == take(7)


async def test_renders_past_their_retention_go_with_their_files(vcs: VcsUnderTest, db, database_dsn):
    alice = await vcs.sign_up()
    repo = await alice.create_repo("song")
    stems = {name: (await alice.upload(take(number, 1.0))).blob_id for number, name in enumerate(("drums", "bass"))}
    commit = await alice.commit(repo.repo_id, stems)

    async def render(**fields) -> str:
        request = pb.RenderCommitRequest(commit_id=commit.commit_id, repo_id=repo.repo_id, **fields)
        return (await alice.vc.RenderCommit(request)).render.render_id

    old, recent = await render(), await render(mute=["bass"])
    await db.execute("UPDATE vcs.renders SET created_at = now() - interval '40 days' WHERE object_id = %s", (old,))
    store = await create_object_store(vcs.settings.object_store)
    settings = admin_settings(vcs, database_dsn, render_retention_seconds=(30 * DAY).total_seconds())
    _, (blob_report, render_report, *_) = await collect_garbage(settings, dry_run=False, store=store)
    assert (blob_report.swept, render_report.swept) == (0, 1)
    assert (await store.exists(old), await store.exists(recent)) == (False, True)
    left = await (await db.execute("SELECT object_id FROM vcs.renders")).fetchall()
    assert [row["object_id"] for row in left] == [recent]
    # The next request renders the mix again.
    assert await render() == old and await store.exists(old)


def run_admin(dsn: str, store_settings, *args: str, **settings: str) -> list[dict]:
    env = {
        **os.environ,
        "BEATFLOW_ADMIN_VCS_DATABASE_URL": dsn,
        "BEATFLOW_ADMIN_JOBS_DATABASE_URL": dsn,
        "BEATFLOW_ADMIN_OBJECT_STORE__KIND": store_settings.kind,
        "BEATFLOW_ADMIN_OBJECT_STORE__ENDPOINT": store_settings.endpoint,
        "BEATFLOW_ADMIN_OBJECT_STORE__BUCKET": store_settings.bucket,
        "BEATFLOW_ADMIN_OBJECT_STORE__ACCESS_KEY": store_settings.access_key.get_secret_value(),
        "BEATFLOW_ADMIN_OBJECT_STORE__SECRET_KEY": store_settings.secret_key.get_secret_value(),
    }
    env.update({f"BEATFLOW_ADMIN_{name.upper()}": value for name, value in settings.items()})
    result = subprocess.run(
        [sys.executable, "-m", "beatflow_admin", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_admin_gc_prints_one_json_line_per_phase(vcs: VcsUnderTest, db, database_dsn, world):
    _, blobs = world
    store_settings = vcs.settings.object_store
    dry = await asyncio.to_thread(run_admin, database_dsn, store_settings, "gc", "--dry-run")
    phases = ["mark", "vcs.blobs", "vcs.renders", "objects.packs", "objects.chunk_index"]
    assert [line.get("phase") or line["sweeper"] for line in dry] == phases
    assert (dry[1]["swept"], dry[1]["dry_run"]) == (2, True)
    assert await blob_rows(db) == set(blobs.values())
    done = await asyncio.to_thread(run_admin, database_dsn, store_settings, "gc", gc_grace_seconds="3600")
    assert (done[1]["swept"], done[1]["dry_run"]) == (2, False)
    assert blobs["garbage"] not in await blob_rows(db)


# ----- racing ---------------------------------------------------------------------------------------


async def test_uploads_commits_and_forks_racing_collections_lose_nothing_a_commit_names(
    vcs: VcsUnderTest, database_dsn
):
    """Collections run back to back with no grace period while writers upload takes (and abandon others),
    commit them and fork. A commit may fail because its blob was collected first (the writer uploads
    again); every commit that landed still has every stem, downloadable and verified."""
    store = await create_object_store(vcs.settings.object_store)
    settings = admin_settings(vcs, database_dsn, gc_grace_seconds=0, batch_size=3)
    uploaded: dict[str, bytes] = {}
    commits: list[tuple[Caller, str, str]] = []  # (caller, repo id, commit id)
    # Made before the service is busy: soundfile on the event loop's thread would wait for the service's
    # probes, which read uploads through that loop.
    takes = {seed: take(seed) for number in range(3) for seed in range(1000 * number, 1000 * number + 80)}
    failures: list[grpc.StatusCode] = []
    writers_done = asyncio.Event()

    async def writer(number: int, rounds: int = 8) -> None:
        caller, fan = await vcs.sign_up(), await vcs.sign_up()
        repo = await caller.create_repo(f"race{number}", is_public=True)
        for round_number in range(rounds):
            seed = 1000 * number + 10 * round_number
            await caller.upload(takes[seed + 1])  # abandoned: never committed
            data = takes[seed]
            for _ in range(10):
                try:
                    blob_id = (await caller.upload(data)).blob_id
                    uploaded[blob_id] = data
                    commit = await caller.commit(repo.repo_id, {f"take{round_number % 3}": blob_id})
                except grpc.aio.AioRpcError as error:
                    failures.append(error.code())
                    continue
                commits.append((caller, repo.repo_id, commit.commit_id))
                break
            else:
                pytest.fail("a commit kept failing")
            if round_number % 3 == 2:
                fork = await fan.repos.ForkRepository(
                    rpb.ForkRepositoryRequest(original_repo_id=repo.repo_id, fork_name=f"fork{round_number}")
                )
                commits.append((fan, fork.repository.repo_id, commit.commit_id))

    async def collector() -> int:
        swept = 0
        while not writers_done.is_set():
            _, (blob_report, *_) = await collect_garbage(settings, dry_run=False, store=store)
            swept += blob_report.swept
        return swept

    collecting = asyncio.create_task(collector())
    try:
        await asyncio.gather(*(writer(number) for number in range(3)))
    finally:
        writers_done.set()
        swept_while_writing = await collecting
    _, (last, *_) = await collect_garbage(settings, dry_run=False, store=store)
    assert swept_while_writing + last.swept >= 3 * 8  # at least every abandoned take went
    # A commit that lost the race for its blob: BLOB_NOT_FOUND; an upload of bytes being collected: BLOB_COLLECTED.
    assert set(failures) <= {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED}, failures
    for caller, repo_id, commit_id in commits:
        commit = (await caller.vc.GetCommit(pb.GetCommitRequest(commit_id=commit_id, repo_id=repo_id))).commit
        for stem in commit.stems:
            assert await download(caller, stem.blob_id) == uploaded[stem.blob_id]
