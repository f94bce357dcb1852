"""Time-range merges: the pure range arithmetic and splicing on synthetic notes, and Merge through the real
service (PostgreSQL + S3), where stems both branches changed in different bars are spliced instead of conflicting."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
import soundfile

from beatflow.vcs.v1 import blobs_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_vcs import range_merge
from beatflow_vcs.audio_diff import ChangedRange, changed_ranges
from beatflow_vcs.range_merge import Piece, Span
from tests.fixtures.vcs import VcsUnderTest, rpc_error
from tests.vcs.synthetic_notes import BAR, BARS, BPM, ONSET, RATE, edited, flac, melody, pitches


def ranges(base: np.ndarray, head: np.ndarray, bpm: float = BPM) -> list[ChangedRange]:
    return changed_ranges(base, RATE, head, RATE, base_bpm=bpm, head_bpm=bpm)


def changed(start: float, end: float) -> ChangedRange:
    return ChangedRange(start, end, start, end, -20.0, -20.0)


# ----- pure: regions, plans, splicing ------------------------------------------------------------


def test_regions_move_to_bar_lines_with_guards():
    # Starts a little after a bar line snap back onto it, ends ringing past one stay before it.
    assert range_merge.regions([changed(2.03, 4.2)], BPM, 12.0) == [Span(2.0, 4.0)]
    # Otherwise outward to whole bars; neighbouring regions join.
    assert range_merge.regions([changed(2.5, 3.0), changed(4.5, 5.0)], BPM, 12.0) == [Span(2.0, 6.0)]
    # Without a tempo, the changed range widened by the diff's resolution, within the stem.
    assert range_merge.regions([changed(0.02, 3.0)], 0.0, 12.0) == [Span(0.0, 3.05)]


def test_plan_takes_each_sides_own_regions_and_reports_overlaps():
    ours, theirs = [Span(0.0, 2.0), Span(6.0, 8.0)], [Span(2.0, 4.0), Span(7.0, 10.0)]
    merge_plan = range_merge.plan(ours, theirs)
    # Touching at a bar line is no overlap; overlapping regions conflict over their hull.
    assert merge_plan.pieces == [Piece(Span(0.0, 2.0), "ours"), Piece(Span(2.0, 4.0), "theirs")]
    assert merge_plan.conflicts == [Span(6.0, 10.0)]
    pieces, unresolved = range_merge.resolve(merge_plan, [Piece(Span(6.0, 9.0), "theirs")])
    assert unresolved == [Span(6.0, 10.0)]
    pieces, unresolved = range_merge.resolve(merge_plan, [Piece(Span(6.0, 10.0), "theirs")])
    assert unresolved == [] and pieces[-1] == Piece(Span(6.0, 10.0), "theirs")


def test_splice_keeps_the_base_outside_and_fades_with_equal_power():
    rng = np.random.default_rng(0)
    base, ours, theirs = (rng.uniform(-0.5, 0.5, (4 * RATE, 2)).astype(np.float32) for _ in range(3))
    pieces = [Piece(Span(1.0, 2.0), "ours"), Piece(Span(2.0, 3.0), "theirs")]
    out = range_merge.splice(base, {"ours": ours, "theirs": theirs}, pieces, RATE)
    fade = round(range_merge.FADE_SECONDS * RATE)
    one, two, three = RATE, 2 * RATE, 3 * RATE
    np.testing.assert_array_equal(out[:one], base[:one])
    np.testing.assert_array_equal(out[three:], base[three:])
    np.testing.assert_array_equal(out[one + fade : two - fade], ours[one + fade : two - fade])
    np.testing.assert_array_equal(out[two + fade : three - fade], theirs[two + fade : three - fade])
    # Into ours inside its region, ours to theirs centred on their boundary, back to the base inside theirs.
    for first, a, b in ((one, base, ours), (two - fade // 2, ours, theirs), (three - fade, theirs, base)):
        t = (np.arange(fade) + 0.5) / fade * np.pi / 2
        expected = np.cos(t)[:, None] * a[first : first + fade] + np.sin(t)[:, None] * b[first : first + fade]
        np.testing.assert_allclose(out[first : first + fade], expected, atol=1e-6)


def test_edits_of_different_bars_splice_into_the_audio_of_both_edits():
    notes = pitches()
    base, ours, theirs = melody(notes), melody(edited(notes, 1)), melody(edited(notes, 4, shift=3))
    truth = melody(edited(edited(notes, 1), 4, shift=3))
    duration = len(base) / RATE
    regions_ours = range_merge.regions(ranges(base, ours), BPM, duration)
    regions_theirs = range_merge.regions(ranges(base, theirs), BPM, duration)
    assert (regions_ours, regions_theirs) == ([Span(BAR, 2 * BAR)], [Span(4 * BAR, 5 * BAR)])
    merge_plan = range_merge.plan(regions_ours, regions_theirs)
    assert merge_plan.conflicts == []
    out = range_merge.splice(base, {"ours": ours, "theirs": theirs}, merge_plan.pieces, RATE)
    np.testing.assert_allclose(out, truth, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_overlapping_edits_always_conflict(seed):
    rng = np.random.default_rng(seed)
    notes = pitches(seed)
    first = int(rng.integers(0, BARS - 1))
    # Ours changes one or two bars from `first`; theirs changes a bar among them, differently.
    ours_notes = edited(notes, first)
    if rng.random() < 0.5:
        ours_notes = edited(ours_notes, first + 1)
    theirs_bar = first + int(rng.integers(0, 2)) if ours_notes[4 * (first + 1)] != notes[4 * (first + 1)] else first
    base, ours, theirs = melody(notes), melody(ours_notes), melody(edited(notes, theirs_bar, shift=5))
    bpm = float(rng.choice([BPM, 0.0]))
    duration = len(base) / RATE
    merge_plan = range_merge.plan(
        range_merge.regions(ranges(base, ours, bpm), bpm, duration),
        range_merge.regions(ranges(base, theirs, bpm), bpm, duration),
    )
    assert len(merge_plan.conflicts) == 1
    conflict = merge_plan.conflicts[0]
    assert conflict.start <= theirs_bar * BAR + ONSET and conflict.end >= (theirs_bar + 1) * BAR - 0.1


# ----- the service --------------------------------------------------------------------------------


async def download(caller, blob_id: str) -> bytes:
    return b"".join([m.chunk async for m in caller.blobs.DownloadBlob(blobs_pb2.DownloadBlobRequest(blob_id=blob_id))])


def merge_request(repo_id: str, *resolutions: pb.RangeResolution, **fields) -> pb.MergeRequest:
    return pb.MergeRequest(repo_id=repo_id, source="feature", range_resolutions=resolutions, **fields)


def keys_range(start: float, end: float, **choice) -> pb.RangeResolution:
    return pb.RangeResolution(stem="keys", start_seconds=start, end_seconds=end, **choice)


async def two_branches(caller, repo_id: str, base: bytes, ours: bytes, theirs: bytes, **commit_fields) -> None:
    """main: drums + keys(base), then keys(ours); branch "feature" from the first commit: keys(theirs)."""
    drums = (await caller.upload(flac(melody([110.0] * (BARS * 4))))).blob_id
    blobs = [(await caller.upload(data)).blob_id for data in (base, ours, theirs)]
    first = await caller.commit(repo_id, {"drums": drums, "keys": blobs[0]}, message="idea", bpm=BPM, **commit_fields)
    await caller.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo_id, name="feature", start_point=first.commit_id))
    await caller.commit(repo_id, {"keys": blobs[1]}, message="ours")
    await caller.vc.CreateCommit(
        pb.CreateCommitRequest(
            repo_id=repo_id,
            branch="feature",
            message="theirs",
            stems=[pb.StemInput(name="keys", blob_id=blobs[2])],
        )
    )


async def test_a_merge_splices_edits_of_different_bars_of_one_stem(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Splice")
    notes = pitches()
    base, ours, theirs = melody(notes), melody(edited(notes, 4)), melody(edited(notes, 1, shift=3))
    # 24-bit sources give a 24-bit merge.
    await two_branches(owner, repo.repo_id, *(flac(x, "PCM_24") for x in (base, ours, theirs)))

    merged = await owner.vc.Merge(merge_request(repo.repo_id))

    assert merged.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT
    (splice,) = merged.splices
    assert splice.stem == "keys"
    assert [(r.source, r.start_seconds, r.end_seconds) for r in splice.ranges] == [
        ("theirs", BAR, 2 * BAR),
        ("ours", 4 * BAR, 5 * BAR),
    ]
    keys = {s.name: s for s in merged.commit.stems}["keys"]
    assert keys.blob_id == splice.blob_id and len(merged.commit.parent_ids) == 2
    data = await download(owner, splice.blob_id)
    info = soundfile.info(io.BytesIO(data))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_24", RATE, 2)
    audio, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    np.testing.assert_allclose(audio, melody(edited(edited(notes, 4), 1, shift=3)), atol=1e-4)


async def test_overlapping_edits_conflict_per_range_and_resolve_per_range(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Clash")
    notes = pitches(1)
    base = melody(notes)
    ours, theirs = melody(edited(edited(notes, 2), 4)), melody(edited(notes, 2, shift=3))
    await two_branches(owner, repo.repo_id, *(flac(x) for x in (base, ours, theirs)))
    head_before = (await owner.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo.repo_id))).branches

    clash = await owner.vc.Merge(merge_request(repo.repo_id))

    assert clash.outcome == pb.MERGE_OUTCOME_CONFLICT and not clash.HasField("commit")
    (conflict,) = clash.range_conflicts
    assert (conflict.stem, conflict.start_seconds, conflict.end_seconds) == ("keys", 2 * BAR, 3 * BAR)
    main = next(b for b in head_before if b.name == "main")
    head = await owner.vc.GetCommit(pb.GetCommitRequest(commit_id=main.commit_id))
    assert conflict.ours_blob_id == {s.name: s.blob_id for s in head.commit.stems}["keys"]
    assert len({conflict.base_blob_id, conflict.ours_blob_id, conflict.theirs_blob_id}) == 3
    (whole,) = clash.conflicts  # the stem is listed too, for whole-stem resolutions
    assert whole.name == "keys" and "overlapping" in whole.reason
    assert (await owner.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo.repo_id))).branches == head_before

    # A new take settles the range: its bar 2 is spliced in, ours' bar 4 stays.
    take_notes = edited(notes, 2, shift=6)
    take = (await owner.upload(flac(melody(take_notes)))).blob_id
    resolved = await owner.vc.Merge(
        merge_request(repo.repo_id, keys_range(conflict.start_seconds, conflict.end_seconds, take_blob_id=take))
    )
    assert resolved.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT
    (splice,) = resolved.splices
    assert sorted((r.source, r.start_seconds) for r in splice.ranges) == [(take, 2 * BAR), ("ours", 4 * BAR)]
    audio, _ = soundfile.read(io.BytesIO(await download(owner, splice.blob_id)), dtype="float32")
    np.testing.assert_allclose(audio, melody(edited(take_notes, 4)), atol=1e-4)


async def test_a_resolution_must_cover_the_conflict_and_name_a_side(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Partial")
    notes = pitches(2)
    await two_branches(
        owner, repo.repo_id, *(flac(melody(x)) for x in (notes, edited(notes, 3), edited(notes, 3, shift=1)))
    )
    partial = pb.RangeResolution(
        stem="keys", start_seconds=3 * BAR, end_seconds=3.5 * BAR, resolution=pb.CONFLICT_RESOLUTION_THEIRS
    )
    still = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, source="feature", range_resolutions=[partial]))
    assert still.outcome == pb.MERGE_OUTCOME_CONFLICT and len(still.range_conflicts) == 1
    nameless = pb.RangeResolution(stem="keys", start_seconds=3 * BAR, end_seconds=4 * BAR)
    error = await rpc_error(
        owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, source="feature", range_resolutions=[nameless]))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    outside = pb.RangeResolution(
        stem="keys", start_seconds=3 * BAR, end_seconds=40 * BAR, resolution=pb.CONFLICT_RESOLUTION_OURS
    )
    error = await rpc_error(
        owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, source="feature", range_resolutions=[outside]))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_edit_that_changes_the_length_is_a_stem_conflict(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Longer")
    notes = pitches(3)
    longer = notes[:8] + notes[4:8] + notes[8:]  # bar 1 repeated: everything after it moves a bar later
    await two_branches(owner, repo.repo_id, *(flac(melody(x)) for x in (notes, edited(notes, 4), longer)))
    clash = await owner.vc.Merge(merge_request(repo.repo_id))
    assert clash.outcome == pb.MERGE_OUTCOME_CONFLICT and list(clash.range_conflicts) == []
    (conflict,) = clash.conflicts
    assert conflict.name == "keys" and "length" in conflict.reason
    whole = pb.StemResolution(name="keys", resolution=pb.CONFLICT_RESOLUTION_THEIRS)
    resolved = await owner.vc.Merge(merge_request(repo.repo_id, resolutions=[whole]))
    assert resolved.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT and list(resolved.splices) == []
    assert {s.name: s.blob_id for s in resolved.commit.stems}["keys"] == conflict.theirs_blob_id
