"""One write per uploaded byte: an upload announced with its sha256 and size goes straight to its
content address, and a failed upload leaves nothing there.

Bytes written are read from /proc/<pid>/io `write_bytes` (what a process sends to storage, files
deleted before they reach the disk included) of this process, which runs vcs and the filesystem
store, and of the nanio S3 server process.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import grpc
import pytest

from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.objectstore import create_object_store
from beatflow_platform.settings import ObjectStoreSettings
from tests.audio import tone
from tests.fixtures.keys import service_tokens
from tests.fixtures.s3 import s3_settings
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

CHUNK = 256 * 1024


def written_bytes(pid: int | str = "self") -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["write_bytes"])


def nanio_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"/nanio") for arg in argv[:2]) and str(port).encode() in argv:
            return int(proc.name)
    raise LookupError(f"no nanio process serves port {port}")


@pytest.fixture(params=["filesystem", "s3-nanio"])
async def subject(request, vcs_factory, tmp_path):
    """vcs on each store, and a function reading the bytes written so far by vcs plus the store. Whole blobs:
    the chunked path's writes are measured by tests/platform/test_chunked_store.py and the storage bench."""
    if request.param == "filesystem":
        whole = ObjectStoreSettings(root=tmp_path / "store", chunk_lossless_audio=False)
        vcs = await vcs_factory(object_store=whole)
        return vcs, written_bytes
    endpoint = request.getfixturevalue("nanio_s3")
    server = nanio_pid(endpoint.port)
    vcs = await vcs_factory(object_store=s3_settings(endpoint, chunk_lossless_audio=False))
    return vcs, lambda: written_bytes() + written_bytes(server)


def announced(caller: Caller, channel, data: bytes, *, sha256: str | None = None, size: int | None = None, parts=None):
    """An UploadBlob call carrying the sha256 and size of `data` (or the given ones) ahead of its bytes."""

    async def requests():
        yield blobs_pb2.UploadBlobRequest(
            metadata=blobs_pb2.UploadBlobMetadata(
                filename="take.wav",
                expected_sha256=sha256 or hashlib.sha256(data).hexdigest(),
                size=len(data) if size is None else size,
            )
        )
        for part in parts if parts is not None else [data]:
            for start in range(0, len(part), CHUNK):
                yield blobs_pb2.UploadBlobRequest(chunk=part[start : start + CHUNK])

    return blobs_pb2_grpc.BlobServiceStub(channel).UploadBlob(requests(), metadata=caller.metadata)


async def stored(vcs: VcsUnderTest, blob_id: str) -> bool:
    return await (await create_object_store(vcs.settings.object_store)).exists(blob_id)


async def test_announced_upload_is_written_once_and_a_repeat_not_at_all(subject):
    vcs, written = subject
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    data = tone(60.0)  # 10.6 MB of WAV, more than any in-memory spool would hold
    before = written()
    blob = (await announced(alice, vcs.channel, data)).blob
    first = (written() - before) / len(data)
    assert blob.blob_id == hashlib.sha256(data).hexdigest() and blob.audio.duration_seconds == pytest.approx(60.0)
    assert 0.95 <= first <= 1.1, f"{first:.2f} bytes written per uploaded byte"

    before = written()
    again = (await announced(bob, vcs.channel, data)).blob
    assert again == blob
    assert (written() - before) / len(data) < 0.05, "bytes already stored are verified, not written again"


async def test_refused_audio_leaves_nothing_at_its_address(subject):
    vcs, _ = subject
    alice = await vcs.sign_up()
    text = b"not audio at all " * 10_000
    error = await rpc_error(announced(alice, vcs.channel, text))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not await stored(vcs, hashlib.sha256(text).hexdigest())


@pytest.mark.parametrize("failure", ["wrong-hash", "fewer-bytes", "more-bytes", "client-gone"])
async def test_failed_upload_leaves_no_object_at_the_final_address(subject, failure):
    vcs, _ = subject
    alice = await vcs.sign_up()
    data = tone(12.0)
    real_id = hashlib.sha256(data).hexdigest()
    if failure == "wrong-hash":
        other_id = hashlib.sha256(data[:-1]).hexdigest()
        error = await rpc_error(announced(alice, vcs.channel, data, sha256=other_id))
        assert error.code() == grpc.StatusCode.DATA_LOSS
        assert not await stored(vcs, other_id)
    elif failure in ("fewer-bytes", "more-bytes"):
        size = len(data) + (100 if failure == "fewer-bytes" else -100)
        error = await rpc_error(announced(alice, vcs.channel, data, size=size))
        assert error.code() == grpc.StatusCode.DATA_LOSS
    else:

        class ClientGone(Exception):
            pass

        def vanishing_parts():
            yield data[: len(data) // 2]
            raise ClientGone

        # The client library reports its own iterator's failure as a cancelled call.
        with pytest.raises((ClientGone, grpc.aio.AioRpcError, asyncio.CancelledError)):
            await announced(alice, vcs.channel, data, parts=vanishing_parts())
    assert not await stored(vcs, real_id)
    assert (await announced(alice, vcs.channel, data)).blob.blob_id == real_id  # the retry succeeds


async def test_service_uploads_announce_themselves_and_are_written_once(subject):
    vcs, written = subject
    owner = await vcs.sign_up()
    client = BlobClient(vcs.channel, service_tokens("generator"))
    data = tone(60.0, frequency=330.0)
    before = written()
    blob = await client.upload(data, filename="stem.wav", owner_id=owner.user.user_id)
    assert blob.blob_id == hashlib.sha256(data).hexdigest()
    assert 0.95 <= (written() - before) / len(data) <= 1.1
    assert await client.download(blob.blob_id, owner_id=owner.user.user_id, max_bytes=len(data)) == data
