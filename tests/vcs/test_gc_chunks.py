"""Garbage collection in the chunking object store (real vcs service, PostgreSQL, S3 server): when a take that
shares most of its chunks with a committed one is collected, its own pack and chunk-index entries go and the
shared ones stay; the committed take still reads back exactly, and the collected take can be uploaded again."""

from __future__ import annotations

import io

import numpy as np
import soundfile

from beatflow_admin.gc import collect_garbage
from beatflow_platform.db.pool import connect
from beatflow_platform.objectstore import create_object_store
from beatflow_platform.objectstore.chunked import ChunkedAudioStore
from tests.vcs.test_gc import admin_settings, download

RATE = 44100


def wav(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def takes() -> tuple[bytes, bytes]:
    """Eight seconds of stereo noise under a tone (1.4 MB: stored as chunks), and the same with seconds 3-4
    played again differently."""
    rng = np.random.default_rng(7)
    t = np.arange(8 * RATE) / RATE
    first = 0.2 * rng.standard_normal((len(t), 2)) + 0.3 * np.sin(2 * np.pi * 220 * t)[:, None]
    second = first.copy()
    second[3 * RATE : 4 * RATE] = 0.2 * rng.standard_normal((RATE, 2))
    return wav(first.astype(np.float32)), wav(second.astype(np.float32))


async def names(listing) -> set[str]:
    return {info.name async for info in listing}


async def referenced(store: ChunkedAudioStore, blob_id: str) -> tuple[set[str], set[str]]:
    packs = {pack async for pack in store.referenced_packs(blob_id)}
    return packs, {chunk async for chunk in store.referenced_chunks(blob_id)}


async def test_a_collected_takes_own_chunks_go_and_shared_ones_stay(vcs, database_dsn):
    kept_bytes, collected_bytes = takes()
    alice = await vcs.sign_up()
    repo = await alice.create_repo("song")
    kept = (await alice.upload(kept_bytes)).blob_id
    collected = (await alice.upload(collected_bytes)).blob_id
    await alice.commit(repo.repo_id, {"drums": kept})
    store = await create_object_store(vcs.settings.object_store)
    assert isinstance(store, ChunkedAudioStore)
    kept_packs, kept_chunks = await referenced(store, kept)
    collected_packs, collected_chunks = await referenced(store, collected)
    own_packs, own_chunks = collected_packs - kept_packs, collected_chunks - kept_chunks
    # The edit is a few chunks of a new pack; most chunks are shared.
    assert own_packs and own_chunks and len(collected_chunks & kept_chunks) > len(own_chunks)
    async with await connect(database_dsn) as db:
        await db.execute(
            "UPDATE vcs.blobs SET last_uploaded_at = now() - interval '2 days' WHERE id = %s", (collected,)
        )

    settings = admin_settings(vcs, database_dsn, gc_grace_seconds=3600)
    _, reports = await collect_garbage(settings, dry_run=False, store=store)
    by_name = {report.sweeper: report for report in reports}
    assert by_name["vcs.blobs"].swept == 1
    # Packs and index entries are an hour younger than the grace period: nothing goes yet.
    assert (by_name["objects.packs"].swept, by_name["objects.chunk_index"].swept) == (0, 0)

    _, reports = await collect_garbage(
        admin_settings(vcs, database_dsn, gc_grace_seconds=0), dry_run=False, store=store
    )
    by_name = {report.sweeper: report for report in reports}
    assert by_name["objects.packs"].swept == len(own_packs) and by_name["objects.packs"].bytes > 0
    assert by_name["objects.chunk_index"].swept == len(own_chunks)
    assert await names(store.stored_packs()) == kept_packs
    assert await names(store.stored_chunks()) == kept_chunks
    assert await download(alice, kept) == kept_bytes
    # Uploaded again, the collected take is stored again (its chunks re-indexed) and reads back exactly.
    assert (await alice.upload(collected_bytes)).blob_id == collected
    assert await download(alice, collected) == collected_bytes
