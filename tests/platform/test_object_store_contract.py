"""One contract, every object store: the filesystem store and the S3 store against moto and nanio."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

import pytest
import urllib3
from minio import Minio

from beatflow_platform.errors import InvalidArgument, OutOfRange, Unimplemented
from beatflow_platform.objectstore import BlobCorrupted, BlobNotFound, ObjectStore
from beatflow_platform.objectstore.base import ChecksumMismatch, SizeMismatch, single_chunk
from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
from beatflow_platform.objectstore.named import NamedObjects, ObjectMissing
from beatflow_platform.objectstore.s3 import S3ObjectStore
from tests.fixtures.s3 import s3_settings

MIB = 1024 * 1024


@dataclass
class StoreUnderTest:
    store: ObjectStore
    # Overwrites a stored blob's bytes behind the store's back.
    corrupt: Callable[[str, bytes], None]
    # Names of temporary upload objects/files currently present.
    temporaries: Callable[[], list[str]]


def _filesystem(tmp_path) -> StoreUnderTest:
    store = FilesystemObjectStore(tmp_path / "blobs")

    def corrupt(blob_id: str, data: bytes) -> None:
        store._path(blob_id).write_bytes(data)

    return StoreUnderTest(store, corrupt, lambda: os.listdir(tmp_path / "blobs" / "tmp"))


async def _s3(endpoint) -> StoreUnderTest:
    settings = s3_settings(endpoint, part_size_bytes=5 * MIB)
    store = S3ObjectStore(settings)
    await store.ensure_bucket()
    client = Minio(endpoint.address, access_key=endpoint.access_key, secret_key=endpoint.secret_key, secure=False)

    def corrupt(blob_id: str, data: bytes) -> None:
        client.put_object(settings.bucket, f"blobs/{blob_id}", io.BytesIO(data), len(data))

    def temporaries() -> list[str]:
        return [o.object_name for o in client.list_objects(settings.bucket, prefix="tmp/", recursive=True)]

    return StoreUnderTest(store, corrupt, temporaries)


@pytest.fixture(params=["filesystem", "s3-moto", "s3-nanio"])
async def subject(request, tmp_path) -> StoreUnderTest:
    if request.param == "filesystem":
        return _filesystem(tmp_path)
    endpoint = request.getfixturevalue("moto_s3" if request.param == "s3-moto" else "nanio_s3")
    return await _s3(endpoint)


async def chunked(data: bytes, chunk_size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


async def read_all(store: ObjectStore, blob_id: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(blob_id, offset, length)])


async def test_put_addresses_blob_by_sha256_and_reads_back(subject: StoreUnderTest):
    data = os.urandom(300_000)
    blob = await subject.store.put(chunked(data, 65_536))
    assert blob.blob_id == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert await subject.store.exists(blob.blob_id)
    assert (await subject.store.stat(blob.blob_id)).size == len(data)
    assert await read_all(subject.store, blob.blob_id) == data
    assert subject.temporaries() == []


async def test_same_bytes_are_stored_once(subject: StoreUnderTest):
    data = os.urandom(10_000)
    first = await subject.store.put(single_chunk(data))
    second = await subject.store.put(chunked(data, 999))
    assert first == second
    assert (first.created, second.created) == (True, False)
    await subject.store.delete(first.blob_id)
    assert not await subject.store.exists(second.blob_id)


async def test_empty_blob(subject: StoreUnderTest):
    blob = await subject.store.put(chunked(b"", 1))
    assert blob.blob_id == hashlib.sha256(b"").hexdigest()
    assert blob.size == 0
    assert await read_all(subject.store, blob.blob_id) == b""


async def test_multipart_stream_of_unknown_length(subject: StoreUnderTest):
    data = os.urandom(12 * MIB + 123)  # more than two 5 MiB parts
    blob = await subject.store.put(chunked(data, 256 * 1024))
    assert blob.blob_id == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(await read_all(subject.store, blob.blob_id)).hexdigest() == blob.blob_id
    assert subject.temporaries() == []


@pytest.mark.slow
async def test_streamed_upload_of_50_mb(subject: StoreUnderTest):
    pattern = os.urandom(MIB)
    digest = hashlib.sha256()

    async def fifty_mib() -> AsyncIterator[bytes]:
        for index in range(50):
            chunk = bytes([index]) + pattern[1:]
            digest.update(chunk)
            yield chunk

    blob = await subject.store.put(fifty_mib())
    assert blob == (await subject.store.stat(digest.hexdigest()))
    assert blob.size == 50 * MIB


async def test_ranged_reads(subject: StoreUnderTest):
    data = bytes(range(256)) * 40
    blob = await subject.store.put(single_chunk(data))
    assert await read_all(subject.store, blob.blob_id, 100, 50) == data[100:150]
    assert await read_all(subject.store, blob.blob_id, 10_000) == data[10_000:]
    assert await read_all(subject.store, blob.blob_id, 10_000, 10_000) == data[10_000:]
    with pytest.raises(OutOfRange):
        await read_all(subject.store, blob.blob_id, len(data))
    with pytest.raises(InvalidArgument):
        await read_all(subject.store, blob.blob_id, -1)


async def test_unknown_and_malformed_ids(subject: StoreUnderTest):
    unknown = hashlib.sha256(b"never stored").hexdigest()
    assert not await subject.store.exists(unknown)
    with pytest.raises(BlobNotFound):
        await subject.store.stat(unknown)
    with pytest.raises(BlobNotFound):
        await read_all(subject.store, unknown)
    for bad in ["", "../../etc/passwd", "A" * 64, unknown[:-1]]:
        with pytest.raises(InvalidArgument):
            await subject.store.stat(bad)


async def test_expected_checksum_mismatch_stores_nothing(subject: StoreUnderTest):
    data = b"the real bytes"
    with pytest.raises(ChecksumMismatch):
        await subject.store.put(single_chunk(data), expected_sha256=hashlib.sha256(b"other").hexdigest())
    assert not await subject.store.exists(hashlib.sha256(data).hexdigest())
    assert subject.temporaries() == []
    matching = await subject.store.put(single_chunk(data), expected_sha256=hashlib.sha256(data).hexdigest())
    assert matching.size == len(data)


async def test_announced_upload_is_written_in_place_once(subject: StoreUnderTest):
    data = os.urandom(7 * MIB + 5)
    blob_id = hashlib.sha256(data).hexdigest()
    first = await subject.store.put(chunked(data, MIB), expected_sha256=blob_id, size=len(data))
    assert (first.blob_id, first.size, first.created) == (blob_id, len(data), True)
    assert await read_all(subject.store, blob_id) == data
    again = await subject.store.put(chunked(data, 4096), expected_sha256=blob_id, size=len(data))
    assert (again.size, again.created) == (len(data), False)
    assert subject.temporaries() == []


async def test_stored_bytes_are_verified_before_a_caller_is_told_they_are_there(subject: StoreUnderTest):
    data = os.urandom(100_000)
    blob_id = (await subject.store.put(single_chunk(data))).blob_id
    with pytest.raises(ChecksumMismatch):  # knowing a blob's id is not holding its bytes
        await subject.store.put(single_chunk(b"not those bytes"), expected_sha256=blob_id, size=len(data))
    assert await read_all(subject.store, blob_id) == data


@pytest.mark.parametrize("wrong", ["hash", "shorter", "longer"])
async def test_announced_upload_that_does_not_match_stores_nothing(subject: StoreUnderTest, wrong: str):
    data = os.urandom(3 * MIB)
    announced = {"hash": data[:-1] + bytes([data[-1] ^ 1]), "shorter": data + b"x", "longer": data[:-1]}[wrong]
    blob_id = hashlib.sha256(announced).hexdigest()
    with pytest.raises(ChecksumMismatch if wrong == "hash" else SizeMismatch):
        await subject.store.put(chunked(data, MIB), expected_sha256=blob_id, size=len(announced))
    assert not await subject.store.exists(blob_id)
    assert not await subject.store.exists(hashlib.sha256(data).hexdigest())
    assert subject.temporaries() == []


async def test_announced_upload_whose_source_fails_stores_nothing(subject: StoreUnderTest):
    data = os.urandom(4 * MIB)

    async def breaks_before_the_end() -> AsyncIterator[bytes]:
        yield data[:MIB]
        yield data[MIB : 3 * MIB]
        raise ConnectionResetError("client went away")

    blob_id = hashlib.sha256(data).hexdigest()
    with pytest.raises(ConnectionResetError):
        await subject.store.put(breaks_before_the_end(), expected_sha256=blob_id, size=len(data))
    assert not await subject.store.exists(blob_id)
    assert subject.temporaries() == []


async def test_failing_source_stores_nothing(subject: StoreUnderTest):
    data = os.urandom(6 * MIB)

    async def breaks_midway() -> AsyncIterator[bytes]:
        yield data[: 3 * MIB]
        yield data[3 * MIB :]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await subject.store.put(breaks_midway())
    assert not await subject.store.exists(hashlib.sha256(data).hexdigest())
    assert subject.temporaries() == []


async def test_corrupted_blob_fails_verification_on_read(subject: StoreUnderTest):
    data = os.urandom(3 * MIB)
    blob = await subject.store.put(single_chunk(data))
    tampered = bytearray(data)
    tampered[-1] ^= 0xFF
    subject.corrupt(blob.blob_id, bytes(tampered))
    received = bytearray()
    with pytest.raises(BlobCorrupted):
        async for chunk in subject.store.read(blob.blob_id):
            received += chunk
    assert len(received) < len(data), "the whole corrupted blob must never reach the reader"


async def test_presigned_get(subject: StoreUnderTest):
    data = os.urandom(4096)
    blob = await subject.store.put(single_chunk(data))
    if not subject.store.supports_presigned_urls:
        with pytest.raises(Unimplemented):
            await subject.store.presigned_get_url(blob.blob_id, timedelta(minutes=5))
        return
    url = await subject.store.presigned_get_url(blob.blob_id, timedelta(minutes=5))
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data


async def test_readiness_check(subject: StoreUnderTest):
    await subject.store.check()


async def test_named_objects_are_written_once_unless_replaced(subject: StoreUnderTest):
    """What the chunked store keeps beside the blobs (packs, index entries, manifests): one PUT of bytes held in
    memory (a bytearray, as packs are), read back whole or in part, written again only when asked to replace."""
    objects = cast(NamedObjects, subject.store)  # both stores keep named objects (chunked.InnerStore)
    name = hashlib.sha256(b"pack").hexdigest()
    pack = bytearray(os.urandom(3 * MIB + 17))

    assert await objects.put_object("packs", name, pack) is True
    assert await objects.get_object("packs", name) == pack
    assert await objects.get_object("packs", name, MIB, 1000) == pack[MIB : MIB + 1000]
    info = await objects.object_info("packs", name)
    assert info is not None and info.size == len(pack)

    assert await objects.put_object("packs", name, b"other bytes") is False
    assert await objects.get_object("packs", name) == pack
    assert await objects.put_object("packs", name, b"other bytes", replace=True) is True
    assert await objects.get_object("packs", name) == b"other bytes"
    assert [listed.name async for listed in objects.list_objects("packs")] == [name]

    await objects.delete_object("packs", name)
    assert await objects.get_object("packs", name) is None
    assert await objects.object_info("packs", name) is None


async def test_named_objects_are_read_in_pieces_over_one_request(subject: StoreUnderTest):
    objects = cast(NamedObjects, subject.store)
    name = hashlib.sha256(b"pieces").hexdigest()
    pack = os.urandom(2 * MIB + 5)
    await objects.put_object("packs", name, pack)
    sizes = [MIB, 7, MIB - 200]
    pieces = [piece async for piece in objects.read_pieces("packs", name, 100, sizes)]
    assert [len(piece) for piece in pieces] == sizes and b"".join(pieces) == pack[100 : 100 + sum(sizes)]
    with pytest.raises(ObjectMissing):
        await anext(objects.read_pieces("packs", hashlib.sha256(b"none").hexdigest(), 0, [1]))


class _DroppedAfterOnePiece:
    """A ranged GET's response whose connection drops after its first read (a server closing an idle one)."""

    def __init__(self, response):
        self._response, self._reads = response, 0

    def read(self, amount: int) -> bytes:
        self._reads += 1
        if self._reads > 1:
            raise urllib3.exceptions.ProtocolError("Connection broken: connection reset by peer")
        return self._response.read(amount)

    def close(self) -> None:
        self._response.close()

    def release_conn(self) -> None:
        self._response.release_conn()


async def test_a_piece_read_after_the_connection_dropped_comes_from_a_new_request(subject: StoreUnderTest):
    if not isinstance(subject.store, S3ObjectStore):
        pytest.skip("a file has no connection to lose")
    store = subject.store
    name = hashlib.sha256(b"dropped").hexdigest()
    pack = os.urandom(3 * MIB)
    await store.put_object("packs", name, pack)
    opened: list[tuple[int, int]] = []
    get_object = store._client.get_object

    def dropping_get(bucket, key, offset=0, length=0, **kwargs):
        opened.append((offset, length))
        response = get_object(bucket, key, offset=offset, length=length, **kwargs)
        return _DroppedAfterOnePiece(response) if len(opened) == 1 else response

    store._client.get_object = dropping_get  # pyright: ignore[reportAttributeAccessIssue]
    pieces = [piece async for piece in store.read_pieces("packs", name, 10, [MIB, MIB, 5])]
    assert b"".join(pieces) == pack[10 : 10 + 2 * MIB + 5]
    # The second request starts where the first stopped, up to the same end.
    assert opened == [(10, 2 * MIB + 5), (10 + MIB, MIB + 5)]
