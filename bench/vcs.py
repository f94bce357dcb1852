"""vcs figures over real gRPC on 127.0.0.1 with a private PostgreSQL cluster.

- fork cost of a 10,000-commit repository against a 10-commit one (target ratio < 2);
- GetHistory page of 100 from the 10,000-commit repository, first and deep pages (target < 50 ms median);
- CreateCommit throughput on one branch;
- the musical diff on music21 corpus chorales rendered with FluidSynth (held out: not the ones the parameters
  were set on): `diff_range_iou` (mean IoU of reported vs true changed ranges over
  replace / mute / insert / shift / level edits of 2 bars in one stem, with the whole-stem answer of a
  tree-only diff as the baseline), `diff_false_ranges_identical` (ranges reported between the same samples as
  WAV and FLAC, resampled to 48 kHz, or with 16-bit dither: target 0) and the time to decode and compare
  two 3-minute stereo takes.

The 10,000 commits are written with the service's own storage functions in one transaction
(the same rows CreateCommit writes); the small repository and the throughput run go through gRPC.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import numpy as np
import pretty_midi
import soxr

from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc, repositories_pb2, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as vc_pb2
from beatflow_audio import codec
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres, reachable_tempdir
from beatflow_platform.db.pool import connect
from beatflow_platform.logging import configure_logging
from beatflow_platform.settings import AuthSettings, DatabaseSettings, ObjectStoreSettings
from beatflow_vcs.app import build_app
from beatflow_vcs.audio_diff import changed_ranges
from beatflow_vcs.commits import CommitContent
from beatflow_vcs.settings import VcsSettings
from beatflow_vcs.store import load_commit, move_branch, write_commit
from tests.audio import tone
from tests.vcs import audio_edits
from tests.vcs.audio_edits import RATE

BIG = 10_000
SMALL = 10
FORK_SAMPLES = 25
HISTORY_SAMPLES = 40
THROUGHPUT_COMMITS = 200
# The diff's parameters were set on random note lines and on bwv66.6, 7.7, 347, 153.1, 86.6 and 38.6;
# the figures come from these, looked at only in this bench.
CHORALES = ["bach/bwv40.8", "bach/bwv269", "bach/bwv10.7", "bach/bwv101.7", "bach/bwv108.6", "bach/bwv11.6"]
# Soprano, alto, tenor, bass as piano, nylon guitar, strings and acoustic bass.
PROGRAMS = (0, 24, 48, 32)
CHORALE_BPM = 90.0
EDITS = ("replace", "mute", "insert", "shift", "level")
DIFF_SPEED_SECONDS = 180.0


async def _timed(call) -> float:
    started = time.perf_counter()
    await call
    return (time.perf_counter() - started) * 1000


async def _populate(dsn: str, repo_id: str, author_id: str, first_commit_id: str, count: int) -> None:
    """Extends the default branch by `count` commits built like CreateCommit builds them."""
    async with await connect(dsn) as conn, conn.transaction():
        first = await load_commit(conn, first_commit_id)
        head = first_commit_id
        start = datetime.now(UTC)
        for index in range(count):
            content = CommitContent(
                parents=(head,),
                author_id=author_id,
                message=f"idea {index}",
                bpm=90 + index % 40,
                key_signature="A minor",
                generation_params={"seed": index},
                tree=first.tree,
                created_at=start + timedelta(milliseconds=index),
            )
            head = await write_commit(conn, repo_id, content)
        await move_branch(conn, repo_id, "main", first_commit_id, head, author_id)


async def _measure(base: Path) -> dict[str, float]:
    cluster = LocalPostgres(base / "pg", free_port())
    cluster.init()
    cluster.start(fsync=False)
    try:
        settings = VcsSettings(
            grpc_port=0,
            database=DatabaseSettings(url=cluster.dsn()),
            object_store=ObjectStoreSettings(root=base / "blobs"),
            auth=AuthSettings(jwt_secret="bench-secret-that-is-long-enough-0123456789"),
            shutdown_grace_seconds=1,
            log_level="WARNING",
        )
        app = await build_app(settings)
        port = await app.host.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            return await _run(channel, cluster.dsn())
    finally:
        if "app" in locals():
            await app.host.stop()
        cluster.stop(mode="immediate")


async def _run(channel, dsn: str) -> dict[str, float]:
    auth = auth_pb2_grpc.AuthServiceStub(channel)
    registered = await auth.Register(
        auth_pb2.RegisterRequest(username="bench", email="bench@example.com", password="bench password 123")
    )
    md = (("authorization", f"Bearer {registered.tokens.access_token}"),)
    repos = repositories_pb2_grpc.RepositoryServiceStub(channel)
    vc = version_control_pb2_grpc.VersionControlServiceStub(channel)

    async def upload_requests():
        yield blobs_pb2.UploadBlobRequest(metadata=blobs_pb2.UploadBlobMetadata(filename="loop.wav"))
        yield blobs_pb2.UploadBlobRequest(chunk=tone(1.0))

    blob = (await blobs_pb2_grpc.BlobServiceStub(channel).UploadBlob(upload_requests(), metadata=md)).blob

    async def new_repo(name: str) -> str:
        request = repositories_pb2.CreateRepositoryRequest(name=name)
        return (await repos.CreateRepository(request, metadata=md)).repository.repo_id

    async def commit(repo_id: str, parent: str, message: str) -> str:
        request = vc_pb2.CreateCommitRequest(
            repo_id=repo_id,
            parent_commit_id=parent,
            message=message,
            stems=[vc_pb2.StemInput(name="loop", blob_id=blob.blob_id)],
        )
        return (await vc.CreateCommit(request, metadata=md)).commit.commit_id

    small, big = await new_repo("small"), await new_repo("big")
    head = ""
    for index in range(SMALL):
        head = await commit(small, head, f"small {index}")
    big_root = await commit(big, "", "root")
    await _populate(dsn, big, registered.user.user_id, big_root, BIG - 1)

    throughput_repo = await new_repo("throughput")
    head = ""
    started = time.perf_counter()
    for index in range(THROUGHPUT_COMMITS):
        head = await commit(throughput_repo, head, f"take {index}")
    commits_per_s = THROUGHPUT_COMMITS / (time.perf_counter() - started)

    async def fork(source: str, index: int):
        request = repositories_pb2.ForkRepositoryRequest(original_repo_id=source, fork_name=f"fork {index}")
        await repos.ForkRepository(request, metadata=md)

    fork_small, fork_big = [], []
    for index in range(FORK_SAMPLES):  # interleaved so that noise hits both alike
        fork_small.append(await _timed(fork(small, 2 * index)))
        fork_big.append(await _timed(fork(big, 2 * index + 1)))

    first_page, deep_page = [], []
    deep_token = ""
    for _ in range(50):
        response = await vc.GetHistory(
            vc_pb2.GetHistoryRequest(repo_id=big, page_size=100, page_token=deep_token), metadata=md
        )
        deep_token = response.next_page_token
    for _ in range(HISTORY_SAMPLES):
        first_page.append(
            await _timed(vc.GetHistory(vc_pb2.GetHistoryRequest(repo_id=big, page_size=100), metadata=md))
        )
        request = vc_pb2.GetHistoryRequest(repo_id=big, page_size=100, page_token=deep_token)
        deep_page.append(await _timed(vc.GetHistory(request, metadata=md)))

    small_ms, big_ms = statistics.median(fork_small), statistics.median(fork_big)
    return {
        "fork_10_commits_ms_median": round(small_ms, 2),
        "fork_10k_commits_ms_median": round(big_ms, 2),
        "fork_10k_over_10_ratio": round(big_ms / small_ms, 3),
        "history_page_ms_median": round(statistics.median(first_page), 2),
        "history_page_ms_p90": round(statistics.quantiles(first_page, n=10)[-1], 2),
        "history_deep_page_ms_median": round(statistics.median(deep_page), 2),
        "commit_throughput_per_s": round(commits_per_s, 1),
        "history_commits": BIG,
    }


def _chorale(name: str) -> tuple[list[pretty_midi.PrettyMIDI], list[float]]:
    """One stem per voice of a corpus chorale at CHORALE_BPM, and its bar starts in seconds."""
    from music21 import corpus

    score = corpus.parse(name)
    quarter = 60.0 / CHORALE_BPM
    stems = []
    for part, program in zip(score.parts, PROGRAMS, strict=False):
        midi = pretty_midi.PrettyMIDI(initial_tempo=CHORALE_BPM)
        instrument = pretty_midi.Instrument(program=program)
        for element in part.flatten().notes:
            start, end = float(element.offset) * quarter, float(element.offset + element.quarterLength) * quarter
            for pitch in element.pitches:
                instrument.notes.append(pretty_midi.Note(90, pitch.midi, start, end - 0.02))
        midi.instruments.append(instrument)
        stems.append(midi)
    bars = [float(m.offset) * quarter for m in score.parts[0].getElementsByClass("Measure")]
    return stems, bars


def _edited(kind: str, midi, audio, bars: list[float], other: pretty_midi.PrettyMIDI, rng) -> tuple:
    """(head audio, true changed range) for one edit of two bars."""
    first = int(rng.integers(2, len(bars) - 4))
    start, end = bars[first], bars[first + 2]
    if kind == "level":
        return audio_edits.level(audio, start, end, float(rng.choice([-6.0, -3.0, 4.0]))), (start, end)
    if kind == "insert":
        edited, truth = audio_edits.insert(midi, start, other, end - start)
    elif kind == "shift":
        edited, truth = audio_edits.shift(midi, start, end, by=30.0 / CHORALE_BPM)  # an eighth note later
    else:
        edited, truth = getattr(audio_edits, kind)(midi, start, end)
    return audio_edits.render(edited), truth


def _reencodings(audio: np.ndarray, rng) -> list[tuple[np.ndarray, int]]:
    pcm, _ = codec.decode(codec.encode(audio, RATE, "WAV"))
    lsb = 1 / 32768
    dither = (rng.uniform(-lsb, lsb, pcm.shape) + rng.uniform(-lsb, lsb, pcm.shape)).astype(np.float32)
    return [
        codec.decode(codec.encode(pcm, RATE, "FLAC")),
        (soxr.resample(pcm, RATE, 48000), 48000),
        (pcm + dither, RATE),
    ]


def _diff_accuracy() -> dict[str, float]:
    rng = np.random.default_rng(15)
    scores: dict[str, list[float]] = {kind: [] for kind in EDITS}
    baseline, false_ranges, identical_pairs = [], 0, 0
    chorales = [_chorale(name) for name in CHORALES]
    for index, (stems, bars) in enumerate(chorales):
        renders = [audio_edits.render(midi) for midi in stems]
        for audio in renders:
            pcm, _ = codec.decode(codec.encode(audio, RATE, "WAV"))
            for other, rate in _reencodings(audio, rng):
                false_ranges += len(changed_ranges(pcm, RATE, other, rate, base_bpm=CHORALE_BPM, head_bpm=CHORALE_BPM))
                identical_pairs += 1
        for number, kind in enumerate(EDITS):
            voice = (index + number) % len(stems)
            donor = chorales[(index + 1) % len(chorales)][0][voice]
            head, truth = _edited(kind, stems[voice], renders[voice], bars, donor, rng)
            ranges = changed_ranges(renders[voice], RATE, head, RATE, base_bpm=CHORALE_BPM, head_bpm=CHORALE_BPM)
            scores[kind].append(audio_edits.iou([(r.head_start, r.head_end) for r in ranges], truth))
            baseline.append(audio_edits.iou([(0.0, len(head) / RATE)], truth))
    every = [score for kind in EDITS for score in scores[kind]]
    return {
        "diff_range_iou": round(float(np.mean(every)), 3),
        **{f"diff_range_iou_{kind}": round(float(np.mean(scores[kind])), 3) for kind in EDITS},
        "diff_range_iou_whole_stem_baseline": round(float(np.mean(baseline)), 3),
        "diff_range_cases": len(every),
        "diff_false_ranges_identical": false_ranges,
        "diff_identical_pairs": identical_pairs,
    }


def _diff_speed() -> dict[str, float]:
    """Decoding two 3-minute stereo WAV takes and comparing them (a level change in one bar range)."""
    stems, _ = _chorale(CHORALES[1])
    loop = audio_edits.render(stems[0])
    take = np.tile(loop, (int(np.ceil(DIFF_SPEED_SECONDS * RATE / len(loop))), 1))[: int(DIFF_SPEED_SECONDS * RATE)]
    base = codec.encode(take, RATE, "WAV")
    head = codec.encode(audio_edits.level(take, 60.0, 64.0, -6.0), RATE, "WAV")
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        (base_audio, base_rate), (head_audio, head_rate) = codec.decode(base), codec.decode(head)
        changed_ranges(base_audio, base_rate, head_audio, head_rate, base_bpm=CHORALE_BPM, head_bpm=CHORALE_BPM)
        timings.append(time.perf_counter() - started)
    return {"diff_3min_stem_s_median": round(statistics.median(timings), 2)}


def run() -> dict[str, float]:
    configure_logging("WARNING", json=True)
    base = reachable_tempdir("beatflow-bench-vcs-")
    try:
        figures = asyncio.run(_measure(base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {**figures, **_diff_accuracy(), **_diff_speed()}
