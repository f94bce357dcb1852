"""Audio blobs through the real BlobService: streamed uploads, audio checks, ranged downloads, access."""

from __future__ import annotations

import hashlib
import io
import urllib.request

import grpc
import pretty_midi
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import blobs_pb2
from beatflow_platform.objectstore import create_object_store
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error


async def download(caller: Caller, blob_id: str, offset: int = 0, length: int = 0) -> tuple[audio_pb2.BlobRef, bytes]:
    ref, data = None, b""
    async for message in caller.blobs.DownloadBlob(
        blobs_pb2.DownloadBlobRequest(blob_id=blob_id, offset=offset, length=length)
    ):
        if message.HasField("blob"):
            ref = message.blob
        data += message.chunk
    return ref, data


@pytest.mark.parametrize(
    ("audio_format", "content_type", "enum"),
    [
        ("WAV", "audio/wav", audio_pb2.AUDIO_FORMAT_WAV),
        ("FLAC", "audio/flac", audio_pb2.AUDIO_FORMAT_FLAC),
        ("OGG", "audio/ogg", audio_pb2.AUDIO_FORMAT_OGG),
        ("MP3", "audio/mpeg", audio_pb2.AUDIO_FORMAT_MP3),
    ],
)
async def test_upload_describes_audio_and_downloads_verbatim(vcs: VcsUnderTest, audio_format, content_type, enum):
    alice = await vcs.sign_up()
    data = tone(1.5, audio_format=audio_format)
    blob = await alice.upload(data)
    assert blob.blob_id == hashlib.sha256(data).hexdigest()
    assert (blob.size_bytes, blob.content_type, blob.audio.format) == (len(data), content_type, enum)
    assert blob.audio.sample_rate == 44100 and blob.audio.channels == 2
    assert blob.audio.duration_seconds == pytest.approx(1.5, abs=0.1)
    ref, received = await download(alice, blob.blob_id)
    assert received == data and ref == blob


async def test_same_audio_uploaded_twice_is_one_blob(vcs: VcsUnderTest):
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    data = tone(0.5)
    assert (await alice.upload(data)).blob_id == (await bob.upload(data, chunk=1000)).blob_id


async def test_ranged_download(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    data = tone(2.0)
    blob = await alice.upload(data)
    _, part = await download(alice, blob.blob_id, offset=1000, length=5000)
    assert part == data[1000:6000]
    error = await rpc_error(download(alice, blob.blob_id, offset=len(data) + 10))
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, not audio",
        b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 20,
        tone(1.0)[:30],
        tone(1.0, audio_format="FLAC")[:100],
        tone(1.0, audio_format="MP3")[:200],
    ],
    ids=["empty", "text", "bare-riff-header", "wav-cut-in-header", "flac-cut-early", "mp3-cut-early"],
)
async def test_non_audio_is_refused_and_not_stored(vcs: VcsUnderTest, data):
    alice = await vcs.sign_up()
    error = await rpc_error(alice.upload(data))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = await rpc_error(alice.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=hashlib.sha256(data).hexdigest())))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_upload_limits_and_checksums(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    data = tone(1.0)
    error = await rpc_error(alice.upload(data, expected_sha256=hashlib.sha256(b"other").hexdigest()))
    assert error.code() == grpc.StatusCode.DATA_LOSS
    assert (await alice.upload(data, expected_sha256=hashlib.sha256(data).hexdigest())).size_bytes == len(data)


async def test_size_and_duration_limits(vcs_factory):
    small = await vcs_factory(max_blob_bytes=50_000, max_audio_seconds=1.0)
    alice = await small.sign_up()
    error = await rpc_error(alice.upload(tone(1.0)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = await rpc_error(alice.upload(tone(2.0, sample_rate=8000, channels=1)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit is 1 s" in error.details()


async def test_metadata_must_come_first(vcs: VcsUnderTest):
    alice = await vcs.sign_up()

    async def chunk_first():
        yield blobs_pb2.UploadBlobRequest(chunk=b"abc")

    error = await rpc_error(alice.blobs.UploadBlob(chunk_first()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_blobs_are_private_to_their_uploader(vcs: VcsUnderTest):
    alice, mallory = await vcs.sign_up(), await vcs.sign_up()
    blob = await alice.upload(tone(0.7))
    for call in (
        mallory.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=blob.blob_id)),
        download(mallory, blob.blob_id),
        mallory.blobs.GetBlobDownloadUrl(blobs_pb2.GetBlobDownloadUrlRequest(blob_id=blob.blob_id)),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND


async def test_presigned_url_downloads_from_the_object_store(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    data = tone(0.4)
    blob = await alice.upload(data)
    response = await alice.blobs.GetBlobDownloadUrl(
        blobs_pb2.GetBlobDownloadUrlRequest(blob_id=blob.blob_id, expires_in_seconds=120)
    )
    assert response.expires_in_seconds == 120
    with urllib.request.urlopen(response.url, timeout=10) as http:
        assert http.read() == data
    error = await rpc_error(
        alice.blobs.GetBlobDownloadUrl(blobs_pb2.GetBlobDownloadUrlRequest(blob_id=blob.blob_id, expires_in_seconds=5))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_malformed_blob_ids(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    for blob_id in ("", "../../etc/passwd", "Z" * 64):
        error = await rpc_error(alice.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=blob_id)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    next(d for d in rpc_status.from_call(error).details if d.Is(info.DESCRIPTOR)).Unpack(info)
    return info


def midi_file() -> bytes:
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes.append(pretty_midi.Note(velocity=90, pitch=60, start=0.0, end=0.5))
    midi.instruments.append(piano)
    out = io.BytesIO()
    midi.write(out)
    return out.getvalue()


async def test_blobs_a_commit_may_use(vcs: VcsUnderTest):
    """Stems may use the caller's uploads and blobs of repositories they can read, nothing else; one
    commit checks twenty stems at once and names every blob it refuses."""
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    takes = [await bob.upload(tone(0.2, frequency=200.0 + 20 * index)) for index in range(20)]
    repo = await bob.create_repo("twenty")
    commit = await bob.commit(repo.repo_id, {f"take{i}": take.blob_id for i, take in enumerate(takes)})
    assert {stem.name: stem.blob_id for stem in commit.stems} == {
        f"take{i}": take.blob_id for i, take in enumerate(takes)
    }

    shared = await alice.upload(tone(0.3, frequency=500.0))
    hidden = await alice.upload(tone(0.3, frequency=600.0))
    for name, blob, public in (("shared", shared, True), ("hidden", hidden, False)):
        holder = await alice.create_repo(name, is_public=public)
        await alice.commit(holder.repo_id, {"lead": blob.blob_id})
    await bob.commit(repo.repo_id, {"lead": shared.blob_id})  # readable through a public repository

    notes = await bob.upload(midi_file(), filename="notes.mid")
    error = await rpc_error(bob.commit(repo.repo_id, {"notes": notes.blob_id}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "MIDI" in error.details()

    gone = await bob.upload(tone(0.3, frequency=700.0))
    await (await create_object_store(vcs.settings.object_store)).delete(gone.blob_id)
    never = hashlib.sha256(b"never uploaded").hexdigest()
    error = await rpc_error(
        bob.commit(repo.repo_id, {"a": hidden.blob_id, "b": gone.blob_id, "c": never, "d": takes[0].blob_id})
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(error)
    assert info.reason == "BLOB_NOT_FOUND"
    assert info.metadata["blob_ids"] == ",".join(sorted([hidden.blob_id, gone.blob_id, never]))
