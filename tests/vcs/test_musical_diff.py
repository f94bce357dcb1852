"""DiffCommits with changed time ranges and GetDiffPicture, through the real service (PostgreSQL + S3)."""

from __future__ import annotations

import struct

import grpc
import numpy as np
import pytest

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow.vcs.v1 import version_control_pb2_grpc
from beatflow_audio import codec, soundfont
from tests.audio import tone
from tests.fixtures.vcs import VcsUnderTest, rpc_error
from tests.vcs import audio_edits
from tests.vcs.audio_edits import RATE

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth or its soundfont is missing")

BPM = 120.0
BAR = 2.0


@pytest.fixture(scope="module")
def takes() -> dict[str, bytes]:
    """Keys: a rendered take as WAV, the same samples as FLAC, and a take with bars 2-3 6 dB quieter."""
    audio = audio_edits.render(audio_edits.random_part(np.random.default_rng(3), program=4, bars=6, bpm=BPM))
    pcm, _ = codec.decode(codec.encode(audio, RATE, "WAV"))
    return {
        "wav": codec.encode(pcm, RATE, "WAV"),
        "flac": codec.encode(pcm, RATE, "FLAC"),
        "quieter": codec.encode(audio_edits.level(pcm, 2 * BAR, 4 * BAR, -6.0), RATE, "WAV"),
    }


@pytest.fixture
async def song(vcs: VcsUnderTest, takes):
    """A public repository: keys + drums, then quieter keys, then the first keys re-encoded as FLAC."""
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Song", is_public=True)
    blobs = {name: (await owner.upload(data)).blob_id for name, data in takes.items()}
    drums = (await owner.upload(tone(1.0, 80.0))).blob_id
    first = await owner.commit(repo.repo_id, {"keys": blobs["wav"], "drums": drums}, message="idea", bpm=BPM)
    quieter = await owner.commit(repo.repo_id, {"keys": blobs["quieter"]}, message="softer bridge", bpm=126)
    flac = await owner.commit(repo.repo_id, {"keys": blobs["flac"]}, message="as flac", remove_stems=["drums"])
    return owner, repo.repo_id, first.commit_id, quieter.commit_id, flac.commit_id


async def test_a_modified_stem_reports_where_it_changed_and_by_how_much(song):
    owner, repo_id, first, quieter, _ = song
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base=first, head=quieter))
    (keys,) = diff.stem_changes
    assert (keys.name, keys.change, keys.audio_compared) == ("keys", pb.CHANGE_TYPE_MODIFIED, True)
    (changed,) = keys.ranges
    assert changed.kind == pb.RANGE_KIND_MODIFIED
    assert audio_edits.iou([(changed.head_start_seconds, changed.head_end_seconds)], (2 * BAR, 4 * BAR)) >= 0.95
    assert changed.loudness_change_db == pytest.approx(-6.0, abs=0.3)
    assert [(m.field, m.old_value, m.new_value) for m in diff.metadata_changes] == [("bpm", "120", "126")]


async def test_the_same_samples_re_encoded_are_modified_without_ranges(song):
    owner, repo_id, first, _, flac = song
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base=first, head=flac))
    changes = {c.name: c for c in diff.stem_changes}
    assert changes["drums"].change == pb.CHANGE_TYPE_REMOVED and not changes["drums"].audio_compared
    keys = changes["keys"]
    assert keys.change == pb.CHANGE_TYPE_MODIFIED and keys.old_blob_id != keys.new_blob_id
    assert keys.audio_compared and list(keys.ranges) == []

    trees_only = await owner.vc.DiffCommits(
        pb.DiffCommitsRequest(repo_id=repo_id, base=first, head=flac, stems_only=True)
    )
    assert not any(c.audio_compared for c in trees_only.stem_changes)


async def test_a_take_with_samples_that_are_not_numbers_is_diffed_as_silence_there(song, takes):
    owner, repo_id, first, _, _ = song
    pcm, _ = codec.decode(takes["wav"])
    glitched = pcm.copy()
    glitched[int(2 * BAR * RATE) : int(4 * BAR * RATE)] = np.nan  # as a faulty plug-in can write into a float file
    blob = (await owner.upload(codec.encode(glitched, RATE, "WAV", subtype="FLOAT"))).blob_id
    head = await owner.commit(repo_id, {"keys": blob}, message="glitched")
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base=first, head=head.commit_id))
    (keys,) = [change for change in diff.stem_changes if change.name == "keys"]
    assert keys.audio_compared
    heard = [(r.head_start_seconds, r.head_end_seconds) for r in keys.ranges]
    assert audio_edits.iou(heard, (2 * BAR, 4 * BAR)) >= 0.9


async def test_stems_longer_than_the_limit_are_not_compared(vcs_factory, takes):
    limited = await vcs_factory(diff_max_audio_seconds=5.0)
    owner = await limited.sign_up()
    repo = await owner.create_repo("Long")
    first = await owner.commit(repo.repo_id, {"keys": (await owner.upload(takes["wav"])).blob_id})
    second = await owner.commit(repo.repo_id, {"keys": (await owner.upload(takes["quieter"])).blob_id})
    diff = await owner.vc.DiffCommits(
        pb.DiffCommitsRequest(repo_id=repo.repo_id, base=first.commit_id, head=second.commit_id)
    )
    assert [(c.change, c.audio_compared, len(c.ranges)) for c in diff.stem_changes] == [
        (pb.CHANGE_TYPE_MODIFIED, False, 0)
    ]
    picture = await rpc_error(
        owner.vc.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=repo.repo_id, base=first.commit_id, stem="keys"))
    )
    assert picture.code() == grpc.StatusCode.FAILED_PRECONDITION


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


async def test_anyone_gets_the_picture_of_a_public_diff(vcs: VcsUnderTest, song):
    _, repo_id, first, quieter, _ = song
    anonymous = version_control_pb2_grpc.VersionControlServiceStub(vcs.channel)
    picture = await anonymous.GetDiffPicture(
        pb.GetDiffPictureRequest(repo_id=repo_id, base=first, head=quieter, stem="keys", width=800, height=300)
    )
    assert png_size(picture.png) == (800, 300)
    assert (picture.base_commit_id, picture.head_commit_id) == (first, quieter)
    removed = await anonymous.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=repo_id, base=first, stem="drums"))
    assert png_size(removed.png) == (1200, 360)


async def test_picture_requests_are_checked(vcs: VcsUnderTest, song):
    owner, repo_id, first, _, _ = song
    unknown = await rpc_error(
        owner.vc.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=repo_id, base=first, stem="vox"))
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    too_wide = await rpc_error(
        owner.vc.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=repo_id, base=first, stem="keys", width=9000))
    )
    assert too_wide.code() == grpc.StatusCode.INVALID_ARGUMENT

    private = await owner.create_repo("Secret")
    head = await owner.commit(private.repo_id, {"keys": (await owner.upload(tone(0.5))).blob_id})
    stranger = await vcs.sign_up()
    hidden = await rpc_error(
        stranger.vc.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=private.repo_id, base=head.commit_id, stem="keys"))
    )
    assert hidden.code() == grpc.StatusCode.NOT_FOUND
