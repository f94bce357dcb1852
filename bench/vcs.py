"""vcs figures over real gRPC on 127.0.0.1 with a private PostgreSQL cluster.

- fork cost of a 10,000-commit repository against a 10-commit one (target ratio < 2);
- GetHistory page of 100 from the 10,000-commit repository, first and deep pages (target < 50 ms median);
- CreateCommit throughput on one branch;
- the musical diff on music21 corpus chorales rendered with FluidSynth (held out: not the ones the parameters
  were set on): `diff_range_iou` (mean IoU of reported vs true changed ranges over
  replace / mute / insert / shift / level edits of 2 bars in one stem, with the whole-stem answer of a
  tree-only diff as the baseline), `diff_false_ranges_identical` (ranges reported between the same samples as
  WAV and FLAC, resampled to 48 kHz, or with 16-bit dither: target 0) and the time to decode and compare
  two 3-minute stereo takes;
- listening to a commit through the gateway (in-process ASGI over real gRPC, PostgreSQL and an S3 server):
  `mixdown_first_ms` (median time of the first request of a mix of four 3-minute stereo stems of a
  FluidSynth-rendered chorale: decode, mix, encode WAV, store, stream) and `mixdown_cached_ms` (the same
  request again, served from the cache).
- time-range merges on the same held-out chorales: `merge_auto_resolved_fraction` (pairs of branches editing
  different bars of one stem that merge without conflict; target 1.0, stem-level baseline 0),
  `merge_overlapping_conflict_fraction` (the same bar edited two ways must conflict: target 1.0) and how
  close each splice is to the render of both edits.

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
import httpx
import numpy as np
import pretty_midi
import soxr

from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc, repositories_pb2, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as vc_pb2
from beatflow_audio import codec
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.s3servers import MotoS3
from beatflow_gateway.app import create_app
from beatflow_gateway.backends import Backends
from beatflow_gateway.settings import GatewaySettings
from beatflow_platform.db.pool import connect
from beatflow_platform.logging import configure_logging
from beatflow_platform.settings import ObjectStoreSettings
from beatflow_vcs import range_merge
from beatflow_vcs.audio_diff import Difference, changed_ranges
from beatflow_vcs.commits import CommitContent
from beatflow_vcs.store import load_commit, move_branch, write_commit
from bench._vcs_server import bench_vcs
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
    store = ObjectStoreSettings(root=base / "blobs")
    async with bench_vcs(base, store) as vcs, grpc.aio.insecure_channel(f"127.0.0.1:{vcs.port}") as channel:
        return await _run(channel, vcs.dsn)


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


MIXDOWN_SECONDS = 180.0
MIXDOWN_SAMPLES = 3


def _mixdown_stems() -> dict[str, bytes]:
    """Four voices of a corpus chorale rendered with FluidSynth, looped to 3 minutes, as stereo WAV."""
    stems, _ = _chorale(CHORALES[2])
    frames = int(MIXDOWN_SECONDS * RATE)
    takes = {}
    for name, midi in zip(("soprano", "alto", "tenor", "bass"), stems, strict=True):
        loop = audio_edits.render(midi)
        takes[name] = codec.encode(np.tile(loop, (int(np.ceil(frames / len(loop))), 1))[:frames], RATE, "WAV")
    return takes


async def _mixdown_through_gateway(base: Path, stems: dict[str, bytes]) -> dict[str, float]:
    s3 = MotoS3()
    endpoint = s3.start()
    store = ObjectStoreSettings(
        kind="s3",
        endpoint=endpoint.address,
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        bucket="bench-mixdown",
    )
    try:
        async with bench_vcs(base, store) as vcs:
            down = f"127.0.0.1:{free_port()}"
            gateway_settings = GatewaySettings(
                vcs_address=f"127.0.0.1:{vcs.port}", generator_address=down, separator_address=down, log_level="WARNING"
            )
            gateway = create_app(gateway_settings)
            gateway.state.backends = Backends.connect(gateway_settings)
            transport = httpx.ASGITransport(app=gateway)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=600) as client:
                return await _time_mixdowns(client, stems)
    finally:
        s3.stop()


async def _time_mixdowns(client, stems: dict[str, bytes]) -> dict[str, float]:
    account = {"username": "listener", "email": "listener@example.com", "password": "bench password 123"}
    registered = await client.post("/api/auth/register", json=account)
    headers = {"Authorization": f"Bearer {registered.json()['tokens']['access_token']}"}
    repo = await client.post("/api/repositories/create", json={"name": "Chorale"}, headers=headers)
    entries = []
    for name, data in stems.items():
        uploaded = await client.post("/api/audio/upload", files={"file": (f"{name}.wav", data)}, headers=headers)
        entries.append({"name": name, "blob_id": uploaded.json()["blob_id"]})
    commit = await client.post(
        f"/api/vcs/commit/{repo.json()['id']}", json={"message": "four voices", "stems": entries}, headers=headers
    )
    url = commit.json()["render_url"]

    async def timed_get(params: dict) -> tuple[float, str]:
        started = time.perf_counter()
        response = await client.get(url, params=params, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"render failed: {response.status_code} {response.text[:200]}")
        return elapsed, response.headers["x-render-cache"]

    first, cached = [], []
    for sample in range(MIXDOWN_SAMPLES):  # each sample a new mix (another gain), then the same again
        params = {"gain.bass": str(-1.0 - sample)}
        elapsed, cache = await timed_get(params)
        first.append(elapsed)
        again, cache_again = await timed_get(params)
        cached.append(again)
        if (cache, cache_again) != ("miss", "hit"):
            raise RuntimeError(f"expected a miss then a hit, got {cache}, {cache_again}")
    return {
        "mixdown_first_ms": round(statistics.median(first), 1),
        "mixdown_cached_ms": round(statistics.median(cached), 1),
        "mixdown_stems": len(stems),
        "mixdown_audio_s": MIXDOWN_SECONDS,
    }


def mixdown_speed() -> dict[str, float]:
    base = reachable_tempdir("beatflow-bench-mixdown-")
    try:
        return asyncio.run(_mixdown_through_gateway(base, _mixdown_stems()))
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ----- time-range merges (H4) -----------------------------------------------------------------
MERGE_BAR = 4 * 60.0 / CHORALE_BPM
MERGE_EDITS = ("replace", "mute", "level")


def _on_bar_grid(stems: list[pretty_midi.PrettyMIDI], bars: list[float]) -> list[pretty_midi.PrettyMIDI]:
    """The chorale as a DAW project holds it: its first full measure on a bar line of a 4/4 grid from 0, and
    notes split at the grid's bar lines (re-struck), so that editing a bar changes the audio of that bar only."""
    shift = (MERGE_BAR - bars[1]) % MERGE_BAR if len(bars) > 1 else 0.0
    for midi in stems:
        notes = []
        for note in midi.instruments[0].notes:
            start, end = note.start + shift, note.end + shift
            while (line := (np.floor(start / MERGE_BAR + 1e-9) + 1) * MERGE_BAR) < end - 1e-6:
                notes.append(pretty_midi.Note(note.velocity, note.pitch, start, line - 0.02))
                start = line
            notes.append(pretty_midi.Note(note.velocity, note.pitch, start, end))
        midi.instruments[0].notes = notes
    return stems


def _bar_edit(kind: str, midi: pretty_midi.PrettyMIDI, bar: int):
    """(edited MIDI, or None for a level change of the audio) for an edit of 4/4 bar `bar`."""
    if kind == "level":
        return None
    return getattr(audio_edits, kind)(midi, bar * MERGE_BAR, (bar + 1) * MERGE_BAR)[0]


def _take(base_audio: np.ndarray, midi, edits: list[tuple[str, int, float]]) -> np.ndarray:
    """The stem with every (kind, bar, gain) edit applied, rendered at the base's length."""
    for kind, bar, _ in edits:
        midi = _bar_edit(kind, midi, bar) or midi
    audio = audio_edits.render(midi) if any(kind != "level" for kind, _, _ in edits) else base_audio.copy()
    audio = np.pad(audio, ((0, max(0, len(base_audio) - len(audio))), (0, 0)))[: len(base_audio)]
    for kind, bar, gain in edits:
        if kind == "level":
            audio = audio_edits.level(audio, bar * MERGE_BAR, (bar + 1) * MERGE_BAR, gain)
    return audio


def _merge_accuracy() -> dict[str, float]:
    """Pairs of branches editing one stem of a held-out chorale (replace, mute or level change of a 4/4 bar with
    notes): in different bars (adjacent or up to two apart), which must merge without conflict, and the same bar
    edited two ways, which must conflict. Each clean merge is compared with the render of both edits (what a
    musician would have played). The stem-level merge conflicts on every pair (baseline 0)."""
    rng = np.random.default_rng(16)
    auto, overlapping_caught, residual_s, exact = [], [], [], []
    for name in CHORALES:
        stems, bars = _chorale(name)
        stems = _on_bar_grid(stems, bars)
        for midi in stems:
            base = audio_edits.render(midi)
            sounding = [
                bar
                for bar in range(1, int(len(base) / RATE // MERGE_BAR) - 1)
                if any(bar * MERGE_BAR <= n.start < (bar + 1) * MERGE_BAR for n in midi.instruments[0].notes)
            ]
            first = int(rng.choice(sounding[:-3]))
            second = int(rng.choice([bar for bar in sounding if first < bar <= first + 3]))
            kinds, gains = rng.choice(MERGE_EDITS, 2), rng.choice([-6.0, 4.0], 2)
            ours_edit = (kinds[0], first, gains[0])
            # Theirs: another bar (adjacent or up to two bars apart), or the same bar edited another way.
            apart = (kinds[1], second, gains[1])
            clash = (MERGE_EDITS[(MERGE_EDITS.index(kinds[0]) + 1) % len(MERGE_EDITS)], first, gains[1])
            ours = _take(base, midi, [ours_edit])
            duration = len(base) / RATE
            for theirs_edit in (apart, clash):
                theirs = _take(base, midi, [theirs_edit])
                plan = range_merge.plan(
                    *(
                        range_merge.regions(
                            changed_ranges(base, RATE, side, RATE, base_bpm=CHORALE_BPM, head_bpm=CHORALE_BPM),
                            CHORALE_BPM,
                            duration,
                            Difference(base, side, RATE).rings_out,
                        )
                        for side in (ours, theirs)
                    )
                )
                if theirs_edit is clash:
                    overlapping_caught.append(bool(plan.conflicts))
                    continue
                auto.append(not plan.conflicts)
                if plan.conflicts:
                    continue
                merged = range_merge.splice(base, {"ours": ours, "theirs": theirs}, plan.pieces, RATE)
                truth = _take(base, midi, [ours_edit, theirs_edit])
                left = changed_ranges(truth, RATE, merged, RATE, base_bpm=CHORALE_BPM, head_bpm=CHORALE_BPM)
                residual_s.append(sum(r.head_end - r.head_start for r in left))
                exact.append(not left)
    return {
        "merge_auto_resolved_fraction": round(float(np.mean(auto)), 3),
        "merge_auto_resolved_fraction_stem_level_baseline": 0.0,
        "merge_pairs": len(auto),
        "merge_overlapping_conflict_fraction": round(float(np.mean(overlapping_caught)), 3),
        "merge_overlapping_pairs": len(overlapping_caught),
        "merge_matches_both_edits_fraction": round(float(np.mean(exact)), 3),
        "merge_residual_s_mean": round(float(np.mean(residual_s)), 3),
    }


def run() -> dict[str, float]:
    configure_logging("WARNING", json=True)
    base = reachable_tempdir("beatflow-bench-vcs-")
    try:
        figures = asyncio.run(_measure(base))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return {**figures, **_diff_accuracy(), **_diff_speed(), **mixdown_speed(), **_merge_accuracy()}
