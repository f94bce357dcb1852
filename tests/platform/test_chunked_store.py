"""Lossless audio stored as content-defined chunks of its samples, on the filesystem store and on a
real S3 server (moto): byte-exact reads, ranges, sharing between takes, damage, and mixed stores."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile
import xxhash
from minio import Minio

from beatflow_platform.errors import DataLoss, Unimplemented
from beatflow_platform.objectstore import chunk_codec, chunked, flac_frames, packing, runs
from beatflow_platform.objectstore.base import BlobCorrupted, ChecksumMismatch
from beatflow_platform.objectstore.chunked import ChunkCorrupted, ChunkedAudioStore, ChunkMissing
from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
from beatflow_platform.objectstore.manifest import Part
from beatflow_platform.objectstore.named import Namespace
from beatflow_platform.objectstore.s3 import S3ObjectStore
from tests.audio import tone
from tests.fixtures.s3 import s3_settings
from tests.platform import audio_takes
from tests.platform.earlier_chunk_codecs import byte_planes_encode, earliest_encode

CHUNK_BYTES = 128 * 1024
BARS = 20
EDIT = (6, 8)  # an 8-bar edit: bars 6 to 13


@dataclass
class Subject:
    store: ChunkedAudioStore
    inner: FilesystemObjectStore | S3ObjectStore
    # Replaces a stored object's bytes behind the store's back.
    overwrite: Callable[[Namespace, str, bytes], None]
    # Bytes written to storage so far, where this process can see them (None on S3).
    written: Callable[[], int] | None = None


@pytest.fixture(params=["filesystem", "s3-moto"])
async def subject(request, tmp_path) -> Subject:
    if request.param == "filesystem":
        inner = FilesystemObjectStore(tmp_path / "store")

        def overwrite(namespace: Namespace, name: str, data: bytes) -> None:
            inner._object_path(namespace, name).write_bytes(data)

        return Subject(ChunkedAudioStore(inner, chunk_bytes=CHUNK_BYTES), inner, overwrite, _written_bytes)
    endpoint = request.getfixturevalue("moto_s3")
    settings = s3_settings(endpoint)
    inner = S3ObjectStore(settings)
    await inner.ensure_bucket()
    client = Minio(endpoint.address, access_key=endpoint.access_key, secret_key=endpoint.secret_key, secure=False)

    def overwrite(namespace: Namespace, name: str, data: bytes) -> None:
        client.put_object(settings.bucket, f"{namespace}/{name}", io.BytesIO(data), len(data))

    return Subject(ChunkedAudioStore(inner, chunk_bytes=CHUNK_BYTES), inner, overwrite)


@pytest.fixture(scope="module")
def stems() -> tuple[np.ndarray, np.ndarray]:
    """A 20-bar stem and another (different key and noise) to take edits from."""
    return audio_takes.stem(BARS), audio_takes.stem(BARS, transpose=5, seed=1)


def _written_bytes() -> int:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["write_bytes"])


async def streamed(data: bytes, piece: int = 200_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def read_all(store, blob_id: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(blob_id, offset, length)])


async def chunk_ids(store: ChunkedAudioStore, blob_id: str) -> list[str]:
    return [chunk_id async for chunk_id in store.referenced_chunks(blob_id)]


@pytest.mark.parametrize(
    ("container", "subtype"), [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAVEX", "PCM_24"), ("AIFF", "PCM_16")]
)
async def test_lossless_audio_is_stored_as_chunks_and_read_back_byte_exact(subject, stems, container, subtype):
    data = audio_takes.encoded(stems[0][: 6 * audio_takes.BAR_FRAMES], container, subtype)
    blob = await subject.store.put(streamed(data), expected_sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert (blob.blob_id, blob.size, blob.created) == (hashlib.sha256(data).hexdigest(), len(data), True)
    manifest = await subject.store.manifest(blob.blob_id)
    assert manifest is not None and not await subject.inner.exists(blob.blob_id)
    assert manifest.checksummed, "a new manifest carries a checksum of itself"
    header = manifest.parts[0].size
    assert manifest.parts[0].inline == data[:header]
    # Every border inside the samples falls on a whole frame (channels x bytes per sample).
    assert manifest.frame_bytes == 2 * int(subtype[-2:]) // 8
    samples_end = header + len(stems[0][: 6 * audio_takes.BAR_FRAMES]) * manifest.frame_bytes
    assert all(
        (offset - header) % manifest.frame_bytes == 0 for offset in manifest.offsets[1:] if offset <= samples_end
    )
    assert len(await chunk_ids(subject.store, blob.blob_id)) >= 10
    assert await read_all(subject.store, blob.blob_id) == data
    assert await subject.store.stat(blob.blob_id) == blob


async def test_ranged_reads_across_chunk_borders_fetch_only_the_chunks_under_them(subject, stems):
    data = audio_takes.encoded(stems[0][: 4 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    manifest = await subject.store.manifest(blob.blob_id)
    offsets, parts = manifest.offsets, manifest.parts
    fetched: list[int] = []  # bytes per request of a pack
    read_pieces = subject.inner.read_pieces

    async def counting_read(namespace, name, offset, sizes):
        fetched.append(0)
        async for piece in read_pieces(namespace, name, offset, sizes):
            fetched[-1] += len(piece)
            yield piece

    def stored_under(start: int, length: int) -> int:
        """Compressed bytes of the chunks holding [start, start + length) (part 0 is the inline header)."""
        ends = [*offsets[1:], len(data)]
        return sum(
            part.place.stored
            for offset, end, part in zip(offsets, ends, parts, strict=True)
            if part.place and offset < start + length and start < end
        )

    subject.inner.read_pieces = counting_read
    for border in offsets[2:5]:  # borders between two chunks
        for start, length in ((border - 1, 2), (border, 1), (border - 5000, 10_000), (offsets[1] + 17, border)):
            fetched.clear()
            assert await read_all(subject.store, blob.blob_id, start, length) == data[start : start + length]
            assert sum(fetched) == stored_under(start, length)
            assert len(fetched) == 1, "neighbouring chunks of a pack are read at once"
    assert await read_all(subject.store, blob.blob_id, len(data) - 3) == data[-3:]


async def test_an_8_bar_edit_shares_every_chunk_but_those_around_it(subject, stems):
    base, other = stems
    first = audio_takes.encoded(base)
    edited = audio_takes.encoded(audio_takes.take(base, other, *EDIT))
    one = await subject.store.put(streamed(first))
    two = await subject.store.put(streamed(edited))
    before = set(await chunk_ids(subject.store, one.blob_id))
    manifest = await subject.store.manifest(two.blob_id)
    header = manifest.parts[0].size
    edit_start = header + EDIT[0] * audio_takes.BAR_FRAMES * manifest.frame_bytes
    edit_end = header + (EDIT[0] + EDIT[1]) * audio_takes.BAR_FRAMES * manifest.frame_bytes
    new = [
        (offset, part)
        for offset, part in zip(manifest.offsets, manifest.parts, strict=True)
        if part.chunk_id not in before | {None}
    ]
    # The new chunks are those under the edit and one or two beside it, where the borders fall back in step.
    margin = 4 * CHUNK_BYTES  # FastCDC's largest chunk
    assert all(edit_start - margin < offset < edit_end + margin for offset, _ in new)
    new_bytes = sum(part.size for _, part in new)
    assert edit_end - edit_start <= new_bytes <= edit_end - edit_start + margin
    stored = [info async for info in subject.store.stored_chunks()]
    assert len(stored) == len(before) + len({part.chunk_id for _, part in new})
    assert await read_all(subject.store, two.blob_id) == edited


async def test_first_upload_writes_each_byte_at_most_once(subject, stems):
    if subject.written is None:
        pytest.skip("S3's writes happen in the server (the storage bench measures them on nanio)")
    data = audio_takes.encoded(stems[0])
    before = subject.written()
    await subject.store.put(streamed(data), expected_sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    assert (subject.written() - before) / len(data) <= 1.1


def _flipped_bit_at(stored: bytes, size: int, *, caught_by_codec: bool) -> int:
    """Where in a stored chunk (of `size` bytes decoded) a flipped bit is refused by its decoder
    (`caught_by_codec`), or decodes to other bytes that only a checksum can tell: the nearest such place to
    the middle."""
    out = np.empty(size, np.uint8)
    chunk_codec.decode_into(memoryview(stored), out)
    original = out.tobytes()
    for at in sorted(range(len(stored)), key=lambda index: abs(index - len(stored) // 2)):
        damaged = bytearray(stored)
        damaged[at] ^= 0x01
        try:
            chunk_codec.decode_into(memoryview(bytes(damaged)), out)
        except chunk_codec.CorruptChunk:
            if caught_by_codec:
                return at
            continue
        if not caught_by_codec and out.tobytes() != original:
            return at
    raise AssertionError("no such place in the chunk")


@pytest.mark.parametrize("caught", ["codec", "checksum"])
async def test_a_damaged_chunk_is_data_loss(subject, stems, caught):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    manifest = await subject.store.manifest(blob.blob_id)
    index = 3
    offset, part = manifest.offsets[index], manifest.parts[index]
    _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, caught)
    with pytest.raises(ChunkCorrupted) as corrupted:
        await read_all(subject.store, blob.blob_id, offset, 10)
    assert corrupted.value.metadata["chunk_id"] == part.chunk_id
    assert await read_all(subject.store, blob.blob_id, 0, offset) == data[:offset], "the chunks before it still read"
    received = bytearray()
    with pytest.raises(DataLoss):
        async for chunk in subject.store.read(blob.blob_id):
            received += chunk
    assert len(received) < len(data), "a damaged blob is never handed over whole"
    await subject.store.delete_pack(part.place.pack)
    with pytest.raises(ChunkMissing):
        await read_all(subject.store, blob.blob_id, offset, 10)


class DecodeWatch:
    """Counts the runs being decoded in codec threads right now, and all that ever started."""

    def __init__(self, monkeypatch):
        self.running = self.started = 0
        self._lock = threading.Lock()
        decode_run = runs.decode_run

        def watched(*args):
            with self._lock:
                self.running += 1
                self.started += 1
            try:
                time.sleep(0.002)  # long enough for a read to stop while some runs are being decoded
                return decode_run(*args)
            finally:
                with self._lock:
                    self.running -= 1

        monkeypatch.setattr(chunked, "decode_run", watched)

    async def assert_nothing_left(self) -> None:
        """No decoding still runs for a read that has ended, none starts later, and no task of it is left."""
        started = self.started
        assert self.running == 0
        await asyncio.sleep(0.05)
        assert (self.running, self.started) == (0, started)
        leftovers = [task for task in asyncio.all_tasks() if "_decoded" in repr(task.get_coro())]
        assert leftovers == []


def _damage(subject: Subject, stored_pack: bytes, part, caught: str) -> None:
    """Flips a bit of a stored chunk behind the store's back: one its decoder refuses (`caught` "codec"), or one
    that decodes to other bytes (`caught` "checksum": LZ4's and raw planes' damage, only a checksum tells)."""
    pack = bytearray(stored_pack)
    stored = bytes(pack[part.place.offset : part.place.offset + part.place.stored])
    at = _flipped_bit_at(stored, part.size, caught_by_codec=caught == "codec")
    pack[part.place.offset + at] ^= 0x01
    subject.overwrite("packs", part.place.pack, bytes(pack))


@pytest.mark.parametrize("caught", [None, "codec", "checksum"])
async def test_a_pipelined_full_read_is_byte_exact_and_stops_at_a_damaged_chunk(subject, stems, monkeypatch, caught):
    monkeypatch.setattr(runs, "RUN_BYTES", 256 * 1024)  # many runs, decoded several at once
    data = audio_takes.encoded(stems[0][: 8 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    manifest = await subject.store.manifest(blob.blob_id)
    planned = runs.plan_runs(manifest.covering(0, manifest.size))
    assert len(planned) > 3 * chunked.PARALLEL_RUNS and all(run.size <= runs.RUN_BYTES for run in planned[1:])
    middle = len(manifest.parts) // 2
    if caught is not None:
        part = manifest.parts[middle]
        _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, caught)
    watch = DecodeWatch(monkeypatch)
    received = bytearray()
    pieces = subject.store.read(blob.blob_id)
    if caught is None:
        async for piece in pieces:
            assert len(piece) <= 1024 * 1024
            received += piece
        assert received == data
    else:
        # Each chunk is checked against its id before its bytes go out: the read stops at the damaged one.
        with pytest.raises(ChunkCorrupted):
            async for piece in pieces:
                received += piece
        assert received == data[: len(received)] and len(received) <= manifest.offsets[middle]
    await watch.assert_nothing_left()


async def test_a_read_stopped_early_leaves_no_decoding_behind(subject, stems, monkeypatch):
    monkeypatch.setattr(runs, "RUN_BYTES", 256 * 1024)
    data = audio_takes.encoded(stems[0][: 8 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    watch = DecodeWatch(monkeypatch)
    for offset in (0, 1000):  # a full read (hashed as it streams) and a ranged one
        pieces = subject.store.read(blob.blob_id, offset)
        first = await anext(pieces)
        second = await anext(pieces)
        assert first + second == data[offset : offset + len(first) + len(second)]
        assert watch.started > 1
        await pieces.aclose()
        await watch.assert_nothing_left()


async def _read_until_error(store: ChunkedAudioStore, blob_id: str) -> tuple[bytes, DataLoss]:
    """A full read that must fail: (the bytes it handed out before failing, the error)."""
    received = bytearray()
    with pytest.raises(DataLoss) as failed:
        async for piece in store.read(blob_id):
            received += piece
    return bytes(received), failed.value


async def test_a_byte_flipped_anywhere_in_a_pack_stops_a_full_read_before_it_goes_out(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    manifest = await subject.store.manifest(blob.blob_id)
    part = manifest.parts[4]
    pack = await subject.inner.get_object("packs", part.place.pack)
    chunk_at = part.place.offset
    assert pack[chunk_at] == 3, "samples are written as Blosc2 chunks"
    # The chunk's tag, a byte of each size in its Blosc2 header (decoded, then stored), its first byte of data,
    # its middle, and the pack's last byte (the end of the last chunk of the upload).
    header = (chunk_at, chunk_at + 1 + 4, chunk_at + 1 + 12)
    inside = (chunk_at + 1 + 32, chunk_at + part.place.stored // 2)
    for at in (*header, *inside, len(pack) - 1):
        damaged = bytearray(pack)
        damaged[at] ^= 0x10
        subject.overwrite("packs", part.place.pack, bytes(damaged))
        received, error = await _read_until_error(subject.store, blob.blob_id)
        assert isinstance(error, ChunkCorrupted)
        assert received == data[: len(received)], "no damaged byte is handed out"
    subject.overwrite("packs", part.place.pack, pack)
    assert await read_all(subject.store, blob.blob_id) == data


def _damaged_manifest(document: dict, damage: str) -> None:
    """Changes one thing in a manifest's JSON document, as a flipped byte or a bad write would (applied twice,
    "order" and "inline" undo themselves)."""
    parts = document["parts"]
    chunks = [index for index, part in enumerate(parts) if "chunk" in part]
    if damage == "order":  # two chunks swapped: each still matches its id, the sizes still add up
        first, second = chunks[1], chunks[2]
        parts[first], parts[second] = parts[second], parts[first]
    elif damage == "inline":  # one bit of the WAV header, kept in the manifest
        header = bytearray(base64.b64decode(parts[0]["inline"]))
        header[30] ^= 0x01
        parts[0]["inline"] = base64.b64encode(header).decode()
    elif damage == "chunk":  # a chunk named by another chunk's id
        parts[chunks[3]]["chunk"] = parts[chunks[4]]["chunk"]
    elif damage == "place":
        parts[chunks[2]]["at"] += 1
    elif damage == "xxh3_128":  # a chunk's fast checksum replaced by another chunk's
        parts[chunks[1]]["xxh3_128"] = parts[chunks[2]]["xxh3_128"]
    elif damage == "checksum":
        document["checksum"] = document["checksum"][:-1] + ("0" if document["checksum"][-1] != "0" else "1")
    else:
        raise AssertionError(damage)


async def _rewrite_manifest(subject: Subject, blob_id: str, damage: str | None = None, *, written: str = "now"):
    """Rewrites the stored manifest behind the store's back: as an earlier store wrote it (`written`:
    "sha256_chunks", a checksum of itself but no XXH3-128 per chunk, as at commit 6220772; "unchecked", neither,
    as before), then damaged (`damage`, _damaged_manifest; its checksum is not updated)."""
    stored = await subject.inner.get_object("manifests", blob_id)
    assert stored is not None
    document = json.loads(stored)
    if written != "now":
        for part in document["parts"]:
            part.pop("xxh3_128", None)
        document.pop("checksum", None)
        if written == "sha256_chunks":  # the sha256 of the compact JSON without it, written last
            document["checksum"] = hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()
    if damage is not None:
        _damaged_manifest(document, damage)
    subject.overwrite("manifests", blob_id, json.dumps(document, separators=(",", ":")).encode())


def _chunk_parts(data: bytes, parts: tuple[Part, ...], offsets: list[int]) -> list[tuple[int, Part, bytes]]:
    """(offset, part, the chunk's bytes) of each chunk of a blob whose bytes are `data`."""
    return [(at, part, data[at : at + part.size]) for at, part in zip(offsets, parts, strict=True) if part.chunk_id]


def _sha256_input_sizes(monkeypatch) -> list[int]:
    """The sizes of the inputs of every sha256 computed in this process from now on (codec threads included)."""
    sizes: list[int] = []
    sha256 = hashlib.sha256

    def counted(data=b"", **kwargs):
        sizes.append(len(data))
        return sha256(data, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", counted)
    return sizes


async def test_reads_check_each_chunk_by_its_xxh3_128_and_compute_no_sha256_of_it(subject, stems, monkeypatch):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    manifest = await subject.store.manifest(blob.blob_id)
    chunks = _chunk_parts(data, manifest.parts, manifest.offsets)
    assert len(chunks) >= 4 and all(part.xxh3_128 == xxhash.xxh3_128_hexdigest(raw) for _, part, raw in chunks)
    chunk_sizes = {part.size for _, part, _ in chunks}
    hashed = _sha256_input_sizes(monkeypatch)
    assert await read_all(subject.store, blob.blob_id) == data
    assert await read_all(subject.store, blob.blob_id, 5000, 300_000) == data[5000:305_000]
    # A flipped bit its decoder misses (LZ4 has no checksum) is caught by the chunk's XXH3-128, before any of
    # the chunk's bytes go out, on full and ranged reads.
    offset, part, _ = chunks[2]
    assert part.place is not None
    _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, "checksum")
    received, error = await _read_until_error(subject.store, blob.blob_id)
    assert (error.reason, error.metadata["chunk_id"]) == ("CHUNK_CORRUPTED", part.chunk_id)
    assert received == data[: len(received)] and len(received) <= offset
    with pytest.raises(ChunkCorrupted):
        await read_all(subject.store, blob.blob_id, offset + 100, 10)
    assert not chunk_sizes & set(hashed), "no chunk was hashed with sha256 on the way"


async def test_a_manifest_without_fast_checksums_still_reads_and_checks_each_chunk_by_its_id(
    subject, stems, monkeypatch
):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    await _rewrite_manifest(subject, blob.blob_id, written="sha256_chunks")
    manifest = await subject.store.manifest(blob.blob_id)
    chunks = _chunk_parts(data, manifest.parts, manifest.offsets)
    assert manifest.checksummed and all(part.xxh3_128 is None for _, part, _ in chunks)
    hashed = _sha256_input_sizes(monkeypatch)
    assert await read_all(subject.store, blob.blob_id) == data
    chunk_sizes = {part.size for _, part, _ in chunks}
    assert sorted(size for size in hashed if size in chunk_sizes) == sorted(part.size for _, part, _ in chunks)
    assert await read_all(subject.store, blob.blob_id, 5000, 300_000) == data[5000:305_000]
    offset, part, _ = chunks[2]
    assert part.place is not None
    _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, "checksum")
    received, error = await _read_until_error(subject.store, blob.blob_id)
    assert isinstance(error, ChunkCorrupted) and error.metadata["chunk_id"] == part.chunk_id
    assert received == data[: len(received)] and len(received) <= offset


@pytest.mark.parametrize("damage", ["order", "inline", "chunk", "place", "xxh3_128", "checksum"])
async def test_a_manifest_that_does_not_match_its_checksum_is_data_loss_before_any_byte(subject, stems, damage):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    await _rewrite_manifest(subject, blob.blob_id, damage)
    received, error = await _read_until_error(subject.store, blob.blob_id)
    assert (received, error.reason) == (b"", "MANIFEST_CORRUPTED")
    with pytest.raises(DataLoss, match="manifest"):
        await read_all(subject.store, blob.blob_id, 1000, 10)


async def test_a_manifest_written_before_checksums_still_reads_and_is_verified_whole(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    await _rewrite_manifest(subject, blob.blob_id, written="unchecked")
    manifest = await subject.store.manifest(blob.blob_id)
    assert not manifest.checksummed and not any(part.xxh3_128 for part in manifest.parts)
    assert await read_all(subject.store, blob.blob_id) == data
    assert await read_all(subject.store, blob.blob_id, 5000, 300_000) == data[5000:305_000]
    # Damage that every chunk's own check misses (two chunks swapped, the inline header) is caught by the blob's
    # hash, the last piece held back; so is a flipped bit its decoder misses (a byte that goes out, not the blob).
    for damage in ("order", "inline"):
        await _rewrite_manifest(subject, blob.blob_id, damage)
        received, error = await _read_until_error(subject.store, blob.blob_id)
        assert isinstance(error, BlobCorrupted) and len(received) < len(data)
        await _rewrite_manifest(subject, blob.blob_id, damage)
    assert await read_all(subject.store, blob.blob_id) == data, "both damages undone"
    part = manifest.parts[3]
    _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, "checksum")
    received, error = await _read_until_error(subject.store, blob.blob_id)
    assert isinstance(error, BlobCorrupted) and len(received) < len(data)
    with pytest.raises(ChunkCorrupted):
        await read_all(subject.store, blob.blob_id, manifest.offsets[3], 10)


def decoded(stored: bytes, size: int) -> bytes:
    out = np.empty(size, np.uint8)
    chunk_codec.decode_into(memoryview(stored), out)
    return out.tobytes()


def _samples_bytes(samples: np.ndarray, subtype: str) -> bytes:
    """The sample bytes alone (no header) of a stereo take, as a WAV file holds them."""
    return audio_takes.encoded(samples, "RAW", subtype)


@pytest.mark.parametrize(("subtype", "sample_bytes"), [("PCM_16", 2), ("PCM_24", 3)])
def test_samples_are_bit_shuffled_and_compressed_and_round_trip(stems, subtype, sample_bytes):
    data = _samples_bytes(stems[0][audio_takes.BAR_FRAMES : audio_takes.BAR_FRAMES + 32_768], subtype)
    stored = chunk_codec.encode(data, sample_bytes)
    assert stored[0] == 3 and stored[1 + 3] == sample_bytes, "a Blosc2 chunk whose type size is the sample's"
    assert len(stored) < 0.9 * len(data)
    assert decoded(stored, len(data)) == data
    size_changed = bytearray(stored)
    size_changed[1 + 4] ^= 0x01  # the decoded size in the Blosc2 header
    for damaged in (stored[:-1], stored + b"\0", bytes(size_changed), stored[:33]):
        with pytest.raises(chunk_codec.CorruptChunk):
            decoded(damaged, len(data))
    with pytest.raises(chunk_codec.CorruptChunk):
        decoded(stored, len(data) - sample_bytes)


def test_samples_that_do_not_compress_are_kept_raw():
    noise = os.urandom(64_000)
    stored = chunk_codec.encode(noise, 2)
    assert (stored[0], stored[1], stored[2]) == (2, 1, 1) and decoded(stored, len(noise)) == noise


def test_bytes_that_are_not_samples_are_one_plane_compressed_or_raw():
    text = b"<rdf:Description xmp:CreatorTool='a DAW'/>\n" * 2000
    noise = os.urandom(50_000)
    for data, method in ((text, 0), (noise, 1)):
        stored = chunk_codec.encode(data, 1)
        assert (stored[1], stored[2]) == (1, method)
        assert decoded(stored, len(data)) == data
    assert len(chunk_codec.encode(text, 1)) < len(text) / 10


def _with_trailing_metadata(wav: bytes, size: int = 20_000) -> bytes:
    """A WAV with a LIST chunk after its samples (stored as chunks that are not samples)."""
    payload = b"INFOICMT" + struct.pack("<I", size - 12) + b"take notes " * ((size - 12) // 11)
    payload = payload.ljust(size, b" ")
    data = bytearray(wav + b"LIST" + struct.pack("<I", len(payload)) + payload)
    data[4:8] = struct.pack("<I", len(data) - 8)
    return bytes(data)


@pytest.mark.parametrize(("earlier_encode", "earlier_tags"), [(earliest_encode, {0, 1}), (byte_planes_encode, {2})])
async def test_chunks_written_by_the_earlier_codecs_still_read(
    subject, stems, monkeypatch, earlier_encode, earlier_tags
):
    base, other = stems
    first = _with_trailing_metadata(audio_takes.encoded(base[: 6 * audio_takes.BAR_FRAMES]))
    monkeypatch.setattr(chunk_codec, "encode", earlier_encode)
    old = await subject.store.put(streamed(first))
    monkeypatch.undo()
    manifest = await subject.store.manifest(old.blob_id)
    tags = set()
    for part in (part for part in manifest.parts if part.place):
        stored = await subject.inner.get_object("packs", part.place.pack, part.place.offset, 1)
        tags.add(stored[0])
    assert tags == earlier_tags, "the blob holds the earlier encodings"
    assert await read_all(subject.store, old.blob_id) == first
    border = manifest.offsets[3]
    assert await read_all(subject.store, old.blob_id, border - 100, 200) == first[border - 100 : border + 100]
    # A new take shares the earlier chunks away from its edit and stores its own with the current codec.
    edited = _with_trailing_metadata(
        audio_takes.encoded(audio_takes.take(base, other, 2, 1)[: 6 * audio_takes.BAR_FRAMES])
    )
    new = await subject.store.put(streamed(edited))
    shared = set(await chunk_ids(subject.store, old.blob_id)) & set(await chunk_ids(subject.store, new.blob_id))
    assert shared
    assert await read_all(subject.store, new.blob_id) == edited


async def test_a_collector_spares_a_pack_modified_since_it_listed_it(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    (pack,) = {pack async for pack in subject.store.referenced_packs(blob.blob_id)}
    listed_at = datetime.now(UTC) - timedelta(minutes=5)  # as if listed before an upload touched the pack
    assert await subject.store.delete_pack(pack, unless_modified_since=listed_at) is False
    assert await read_all(subject.store, blob.blob_id) == data
    assert await subject.store.delete_pack(pack, unless_modified_since=datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(ChunkMissing):
        await read_all(subject.store, blob.blob_id)


@pytest.mark.parametrize("audio_format", ["MP3", "OGG"])
async def test_lossy_formats_keep_their_original_bytes_whole(subject, audio_format):
    data = tone(8.0, audio_format=audio_format)
    blob = await subject.store.put(streamed(data))
    assert await subject.store.manifest(blob.blob_id) is None and await subject.inner.exists(blob.blob_id)
    assert await read_all(subject.store, blob.blob_id) == data


async def test_short_wavs_and_other_bytes_are_stored_whole(subject):
    for data in (tone(0.5), tone(0.5, audio_format="FLAC"), b"RIFF" + os.urandom(3_000_000), os.urandom(2_000_000)):
        blob = await subject.store.put(streamed(data))
        assert await subject.store.manifest(blob.blob_id) is None
        assert await read_all(subject.store, blob.blob_id) == data


async def test_concurrent_uploads_of_overlapping_takes(subject, stems):
    base, other = stems
    takes = [audio_takes.encoded(base)] + [
        audio_takes.encoded(audio_takes.take(base, other, first_bar, 4)) for first_bar in (2, 9, 15)
    ]
    blobs = await asyncio.gather(*(subject.store.put(streamed(data, 65_536)) for data in takes * 2))
    assert [blob.blob_id for blob in blobs] == [hashlib.sha256(data).hexdigest() for data in takes * 2]
    referenced = set()
    for blob, data in zip(blobs, takes, strict=False):
        assert await read_all(subject.store, blob.blob_id) == data
        referenced |= set(await chunk_ids(subject.store, blob.blob_id))
    assert {info.name async for info in subject.store.stored_chunks()} == referenced
    packs = {pack for blob in blobs async for pack in subject.store.referenced_packs(blob.blob_id)}
    assert packs <= {info.name async for info in subject.store.stored_packs()}
    assert {info.name async for info in subject.store.stored_blobs()} == {blob.blob_id for blob in blobs}


async def test_blobs_stored_whole_before_chunking_stay_readable(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    old = await subject.inner.put(streamed(data))  # as the store wrote it before chunking
    assert await subject.store.exists(old.blob_id) and await subject.store.stat(old.blob_id) == old
    assert await read_all(subject.store, old.blob_id) == data
    assert await read_all(subject.store, old.blob_id, 1000, 5000) == data[1000:6000]
    again = await subject.store.put(streamed(data), expected_sha256=old.blob_id, size=len(data))
    assert not again.created and await subject.store.manifest(old.blob_id) is None
    await subject.store.delete(old.blob_id)
    assert not await subject.store.exists(old.blob_id)


async def test_a_wrong_upload_leaves_no_blob(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ChecksumMismatch):
        await subject.store.put(streamed(data), expected_sha256=wrong, size=len(data))
    assert not await subject.store.exists(wrong)
    assert not await subject.store.exists(hashlib.sha256(data).hexdigest())


async def test_chunked_blobs_have_no_presigned_url(subject, stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES])
    blob = await subject.store.put(streamed(data))
    with pytest.raises(Unimplemented):
        await subject.store.presigned_get_url(blob.blob_id, timedelta(minutes=5))
    await subject.store.delete(blob.blob_id)
    assert not await subject.store.exists(blob.blob_id)
    assert [chunk async for chunk in subject.store.referenced_chunks(blob.blob_id)] == []


async def test_an_upload_reusing_an_old_pack_refreshes_it_for_garbage_collection(subject, stems, monkeypatch):
    base, other = stems
    first = await subject.store.put(streamed(audio_takes.encoded(base[: 6 * audio_takes.BAR_FRAMES])))
    packs = {info.name: info.modified_at async for info in subject.store.stored_packs()}
    await asyncio.sleep(1.1)  # S3 keeps modification times to the second
    monkeypatch.setattr(packing, "REFRESH_REUSED_AFTER", timedelta(0))
    edited = audio_takes.take(base, other, 2, 1)[: 6 * audio_takes.BAR_FRAMES]
    await subject.store.put(streamed(audio_takes.encoded(edited)))
    reused = {pack async for pack in subject.store.referenced_packs(first.blob_id)}
    after = {info.name: info.modified_at async for info in subject.store.stored_packs()}
    assert reused and all(after[pack] > packs[pack] for pack in reused)


# -- FLAC: chunks of its coded frames, kept as they came ---------------------------------------------


def _flac_frame_starts(data: bytes) -> list[int]:
    """Every offset where `frame_header_at` sees a frame header, trying each position (slow, thorough)."""
    return [position for position in range(len(data) - 1) if flac_frames.frame_header_at(data, position)]


def test_flac_frame_headers_are_found_exactly_where_frames_start(stems):
    data = audio_takes.encoded(stems[0][: 3 * audio_takes.BAR_FRAMES], "FLAC")
    info = soundfile.info(io.BytesIO(data))
    (block_size,) = struct.unpack(">H", data[8:10])  # STREAMINFO's minimum (= fixed) block size
    starts = _flac_frame_starts(data)
    assert len(starts) == -(-info.frames // block_size), "one header per frame, none inside coded samples"
    assert flac_frames.last_frame_start(data, 0, len(data)) == starts[-1]
    assert flac_frames.last_frame_start(data, starts[5] + 1, starts[6] - 1) is None
    assert flac_frames.last_frame_start(data, starts[5], starts[6] - 1) == starts[5]


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
async def test_flac_is_stored_as_raw_chunks_of_whole_frames_and_read_back_byte_exact(subject, stems, subtype):
    data = audio_takes.encoded(stems[0][: 8 * audio_takes.BAR_FRAMES], "FLAC", subtype)
    blob = await subject.store.put(streamed(data), expected_sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    manifest = await subject.store.manifest(blob.blob_id)
    assert manifest is not None and manifest.container == "flac" and not await subject.inner.exists(blob.blob_id)
    starts = set(_flac_frame_starts(data))
    assert manifest.parts[0].size == min(starts), "the metadata blocks are the inline header"
    assert len(manifest.parts) >= 6 and set(manifest.offsets[1:]) <= starts, "every border is a frame start"
    for part in (part for part in manifest.parts if part.place):
        stored = await subject.inner.get_object("packs", part.place.pack, part.place.offset, part.place.stored)
        assert (stored[0], stored[1], stored[2]) == (2, 1, 1), "coded frames are one raw plane, not compressed again"
    assert await read_all(subject.store, blob.blob_id) == data
    for start, length in ((manifest.offsets[2] - 3, 6), (manifest.offsets[1] + 17, 200_000), (len(data) - 5, 5)):
        assert await read_all(subject.store, blob.blob_id, start, length) == data[start : start + length]
    part = manifest.parts[3]
    _damage(subject, await subject.inner.get_object("packs", part.place.pack), part, "checksum")
    with pytest.raises(ChunkCorrupted):
        await read_all(subject.store, blob.blob_id, manifest.offsets[3], 10)
    with pytest.raises(ChunkCorrupted):
        await read_all(subject.store, blob.blob_id)


async def test_flac_takes_share_their_unchanged_frames_but_not_across_encoder_settings(subject, stems):
    base, other = stems
    first = audio_takes.encoded(base, "FLAC")
    edited = audio_takes.encoded(audio_takes.take(base, other, *EDIT), "FLAC")
    one = await subject.store.put(streamed(first))
    two = await subject.store.put(streamed(edited))
    before = set(await chunk_ids(subject.store, one.blob_id))
    manifest = await subject.store.manifest(two.blob_id)
    new_bytes = sum(part.size for part in manifest.parts if part.chunk_id not in before | {None})
    edit_share = EDIT[1] / BARS
    assert edit_share * len(edited) * 0.8 <= new_bytes <= edit_share * len(edited) + 2 * 4 * CHUNK_BYTES
    assert await read_all(subject.store, two.blob_id) == edited
    # The limit: another encoder setting codes every frame differently, so nothing is shared.
    recoded = await subject.store.put(streamed(audio_takes.encoded(base, "FLAC", compression_level=0.0)))
    assert not before & set(await chunk_ids(subject.store, recoded.blob_id))
    assert await read_all(subject.store, recoded.blob_id) == audio_takes.encoded(base, "FLAC", compression_level=0.0)
