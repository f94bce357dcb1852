"""The render cache's index lives in PostgreSQL (vcs.renders): another replica, or the process after a restart,
serves a render made before with the same id (OGG too), a render whose object vanished from the store is made
again and its record replaced, and concurrent first renders on two replicas agree on one file."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import psycopg
import pytest

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_platform.db.pool import open_pool
from beatflow_platform.objectstore import create_object_store
from beatflow_platform.settings import DatabaseSettings
from beatflow_vcs.mixdown import MixedAudio
from beatflow_vcs.render_index import RenderedFile, RenderIndex
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

WAV, OGG = audio_pb2.AUDIO_FORMAT_WAV, audio_pb2.AUDIO_FORMAT_OGG


@pytest.fixture
async def replicas(vcs_factory) -> tuple[VcsUnderTest, VcsUnderTest]:
    """Two vcs processes on one database and one object store, sharing no memory."""
    first = await vcs_factory()
    second = await vcs_factory(object_store=first.settings.object_store)
    return first, second


async def band(vcs: VcsUnderTest) -> tuple[Caller, str]:
    """A signed-in owner and their commit of two stems: 1 s of stereo drums, 1.5 s of mono keys."""
    owner = await vcs.sign_up()
    repo = await owner.create_repo("listen")
    drums = await owner.upload(tone(1.0, 110.0))
    keys = await owner.upload(tone(1.5, 440.0, channels=1))
    commit = await owner.commit(repo.repo_id, {"drums": drums.blob_id, "keys": keys.blob_id})
    return owner, commit.commit_id


def on(caller: Caller, vcs: VcsUnderTest) -> Caller:
    """The same signed-in user talking to another replica."""
    return Caller(caller.user, caller.tokens, vcs.channel)


async def download(caller: Caller, request: pb.RenderCommitRequest, render_id: str) -> bytes:
    call = caller.vc.DownloadRender(pb.DownloadRenderRequest(render=request, render_id=render_id))
    return b"".join([message.chunk async for message in call])


def recorded_objects(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT object_id FROM vcs.renders ORDER BY created_at")]


async def test_another_replica_serves_a_render_made_before_with_the_same_id(replicas, database_dsn):
    first, second = replicas
    owner, commit_id = await band(first)
    requests = [
        pb.RenderCommitRequest(commit_id=commit_id, format=WAV, mute=["drums"]),
        pb.RenderCommitRequest(commit_id=commit_id, format=OGG),
        # Loud enough to be turned down: the headroom gain is part of the record.
        pb.RenderCommitRequest(commit_id=commit_id, format=OGG, gain_db={"drums": 12.0, "keys": 12.0}),
    ]
    for request in requests:
        made = (await owner.vc.RenderCommit(request)).render
        served = (await on(owner, second).vc.RenderCommit(request)).render
        assert not made.cached and served.cached, request
        assert (served.render_id, served.size_bytes, served.content_type) == (
            made.render_id,
            made.size_bytes,
            made.content_type,
        )
        assert served.audio == made.audio and served.headroom_gain_db == made.headroom_gain_db
        # The second replica streams the first one's file, under the id the first one handed out.
        data = await download(on(owner, second), request, made.render_id)
        assert hashlib.sha256(data).hexdigest() == made.render_id and len(data) == made.size_bytes
    assert served.headroom_gain_db < -1.0
    assert made.audio.channels == 2 and made.audio.duration_seconds == pytest.approx(1.5)
    assert len(recorded_objects(database_dsn)) == len(requests)


async def test_a_render_whose_object_vanished_is_made_again_and_its_record_replaced(replicas, database_dsn):
    first, second = replicas
    owner, commit_id = await band(first)
    store = await create_object_store(first.settings.object_store)
    for audio_format in (WAV, OGG):
        request = pb.RenderCommitRequest(commit_id=commit_id, format=audio_format, gain_db={"keys": -6.0})
        made = (await owner.vc.RenderCommit(request)).render
        await store.delete(made.render_id)

        remade = (await on(owner, second).vc.RenderCommit(request)).render
        assert not remade.cached and await store.exists(remade.render_id)
        assert remade.audio == made.audio and remade.headroom_gain_db == made.headroom_gain_db
        # The first replica now serves the new file from the record.
        again = (await owner.vc.RenderCommit(request)).render
        assert again.cached and again.render_id == remade.render_id
        assert hashlib.sha256(await download(owner, request, remade.render_id)).hexdigest() == remade.render_id
    # One record per mix, naming the files made last.
    assert len(recorded_objects(database_dsn)) == 2 and recorded_objects(database_dsn)[-1] == remade.render_id


async def test_concurrent_first_renders_on_two_replicas_agree_on_one_file(replicas, database_dsn):
    first, second = replicas
    owner, commit_id = await band(first)
    # OGG: each rendering writes its own stream serial number, so two renders are two different files.
    request = pb.RenderCommitRequest(commit_id=commit_id, format=OGG, solo=["keys"])
    answers = await asyncio.gather(owner.vc.RenderCommit(request), on(owner, second).vc.RenderCommit(request))
    (render_id,) = {answer.render.render_id for answer in answers}
    assert recorded_objects(database_dsn) == [render_id]
    for replica in (first, second):
        data = await download(on(owner, replica), request, render_id)
        assert hashlib.sha256(data).hexdigest() == render_id


async def test_renders_have_their_own_length_limit(replicas, vcs_factory):
    first, _ = replicas
    owner, commit_id = await band(first)
    request = pb.RenderCommitRequest(commit_id=commit_id)
    assert not (await owner.vc.RenderCommit(request)).render.cached
    limited = await vcs_factory(object_store=first.settings.object_store, render_max_audio_seconds=1.0)
    # Refused before the cache is consulted; diffs keep their own (default) limit.
    error = await rpc_error(on(owner, limited).vc.RenderCommit(request))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "limited to 1 s" in error.details()
    assert limited.settings.diff_max_audio_seconds == first.settings.diff_max_audio_seconds


async def test_the_first_record_of_a_key_stays_until_its_object_is_reported_lost(database_dsn):
    pool = await open_pool(DatabaseSettings(url=database_dsn), application_name="render-index-test")
    index = RenderIndex(pool)
    key = hashlib.sha256(b"a mix").hexdigest()

    def rendered(name: str, headroom_gain_db: float) -> RenderedFile:
        return RenderedFile(
            hashlib.sha256(name.encode()).hexdigest(), 1000, "OGG", MixedAudio(66150, 44100, 2, headroom_gain_db)
        )

    try:
        assert await index.find(key) is None
        first, later, repair, late_repair = (rendered(n, -1.25) for n in ("first", "later", "repair", "late"))
        assert await index.record(key, first) == first
        # Another replica's render of the same key: the first record stays and is handed back.
        assert await index.record(key, later) == first
        # A render made because the first file vanished replaces it, once: a concurrent repair gets its file.
        assert await index.record(key, repair, replacing=first.render_id) == repair
        assert await index.record(key, late_repair, replacing=first.render_id) == repair
        assert await index.find(key) == repair
    finally:
        await pool.close()
