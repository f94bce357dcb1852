"""Storage figures: memory and throughput of streamed uploads, bytes written per uploaded byte, and
the time of a 20-stem commit.

Each measurement runs in a fresh child process, so that its resident set (sampled) and the bytes it
writes (/proc/<pid>/io write_bytes: what it sends to storage, files deleted before the disk sees
them included) belong to that measurement alone. The S3 store talks to a nanio server in another
process: its memory is not counted, its writes are.

- Object store alone: a 50 MiB stream of unknown length (the staging path), and a 200 MiB stream
  announced with its sha256 and size (what vcs's callers send): peak RSS growth over the state just
  before the upload, the tracemalloc peak, throughput.
- Through vcs (gRPC BlobService with its client in the same process, Postgres, the store): a 200 MiB
  WAV streamed with its sha256 and size (bytes written per uploaded byte, peak RSS growth), then
  `commit_20_stems_ms_median` over commits that each put 20 stems on the S3 store, and the part of
  it spent inside the commit's transaction (while the branch head is locked). Both run twice in one
  bench run, on the code at BASELINE_COMMIT ("before") and on this tree ("after").
- The chunked store (lossless audio as shared chunks, docs/storage.md): ten takes of a 4-minute stem
  over one (as WAV and as FLAC), chunked against whole downloads, and a 200 MiB first upload (see the
  comment above TAKES). `python -m bench.storage --downloads` re-measures the download figures alone,
  with the take also stored as the store encoded chunks before Blosc2 (byte planes, zstd or raw) in the same
  process (`_before`), and merges them into bench/results/storage.json.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

MIB = 1024 * 1024
UNKNOWN_LENGTH_MIB = 50
ANNOUNCED_MIB = 200
CHUNK_BYTES = 256 * 1024
WAV_MIB = 200
COMMIT_STEMS = 20
COMMIT_SAMPLES = 15
REPO_ROOT = Path(__file__).resolve().parent.parent
# The last commit before one-write uploads and batched commit checks (issue 16, items 1 and 3).
BASELINE_COMMIT = "6375d923f04fba2aca634a0688da38f7e13b6215"
BASELINE_PATHS = ("libs/beatflow_platform", "libs/beatflow_audio", "services/vcs/beatflow_vcs")


def _wav_header(data_bytes: int, rate: int) -> bytes:
    """The header of a 16-bit stereo PCM WAV holding `data_bytes` of samples."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _wav_chunks(mib: int):
    """A 16-bit stereo 44.1 kHz WAV of a 440 Hz tone, about `mib` MiB, made block by block."""
    import numpy as np

    rate, frames_per_block = 44100, 256 * 1024
    blocks = mib * MIB // (4 * frames_per_block)
    data_bytes = blocks * frames_per_block * 4
    yield _wav_header(data_bytes, rate)
    for index in range(blocks):
        t = (index * frames_per_block + np.arange(frames_per_block)) / rate
        mono = (8000 * np.sin(2 * np.pi * 440.0 * t)).astype("<i2")
        yield np.repeat(mono, 2).tobytes()


class PeakRss:
    """Samples this process's resident set every few milliseconds while in use; `growth_mb` is the
    highest sample above the one taken on entry (ru_maxrss cannot show growth below an earlier peak)."""

    def __init__(self, interval_s: float = 0.005):
        self._interval = interval_s
        self._stop = threading.Event()
        self._start = self._peak = 0

    @staticmethod
    def _rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak = max(self._peak, self._rss())

    def __enter__(self) -> PeakRss:
        self._start = self._peak = self._rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return round((self._peak - self._start) / MIB, 2)


def written_bytes(pid: int | str = "self") -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["write_bytes"])


def _stream(mib: int):
    pattern = bytes(range(256)) * (CHUNK_BYTES // 256)
    for index in range(mib * MIB // CHUNK_BYTES):
        yield index.to_bytes(4, "big") + pattern[4:]


async def _put(store, mib: int, *, announced: bool) -> dict[str, float]:
    sha256 = None
    if announced:  # hashed ahead, as a caller that spooled the upload would have done
        digest = hashlib.sha256()
        for chunk in _stream(mib):
            digest.update(chunk)
        sha256 = digest.hexdigest()

    async def chunks():
        for chunk in _stream(mib):
            yield chunk

    tracemalloc.start()
    started = time.perf_counter()
    with PeakRss() as rss:
        blob = await store.put(chunks(), expected_sha256=sha256, size=mib * MIB if announced else None)
    elapsed = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert blob.size == mib * MIB and blob.created
    return {
        "peak_rss_growth_mb": rss.growth_mb,
        "tracemalloc_peak_mb": round(traced_peak / MIB, 2),
        "throughput_mb_per_s": round(mib / elapsed, 1),
    }


async def _store_child(kind: str, config: dict) -> dict[str, float]:
    from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
    from beatflow_platform.objectstore.s3 import S3ObjectStore
    from beatflow_platform.settings import ObjectStoreSettings

    mib, announced = config.pop("mib"), config.pop("announced")
    if kind == "filesystem":
        store = FilesystemObjectStore(Path(config["root"]))
    else:
        store = S3ObjectStore(ObjectStoreSettings(kind="s3", **config))
        await store.ensure_bucket()
        await store.check()
    return await _put(store, mib, announced=announced)


async def _vcs_child(config: dict) -> dict[str, float]:
    """Runs vcs (whichever version the import path holds) on the given store; uploads, then commits."""
    import grpc

    from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
    from beatflow.vcs.v1 import (
        blobs_pb2,
        blobs_pb2_grpc,
        repositories_pb2,
        repositories_pb2_grpc,
        version_control_pb2_grpc,
    )
    from beatflow.vcs.v1 import version_control_pb2 as vc_pb2
    from beatflow_platform.settings import ObjectStoreSettings
    from beatflow_vcs.versioning import VersionControl
    from bench._vcs_server import bench_vcs
    from tests.audio import tone

    # The commit's transaction (the branch head stays locked throughout) is timed by wrapping the
    # method that holds it; both versions have it.
    transaction_ms: list[float] = []
    in_transaction = VersionControl._commit_once

    async def timed_transaction(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await in_transaction(*args, **kwargs)
        finally:
            transaction_ms.append((time.perf_counter() - started) * 1000)

    VersionControl._commit_once = timed_transaction

    base = Path(config["base"])
    server_pid = config.get("store_pid")
    async with (
        bench_vcs(base, ObjectStoreSettings(**config["store"])) as vcs,
        grpc.aio.insecure_channel(f"127.0.0.1:{vcs.port}") as channel,
    ):
        registered = await auth_pb2_grpc.AuthServiceStub(channel).Register(
            auth_pb2.RegisterRequest(username="bench", email="bench@example.com", password="bench password 123")
        )
        md = (("authorization", f"Bearer {registered.tokens.access_token}"),)
        blobs = blobs_pb2_grpc.BlobServiceStub(channel)

        async def upload(chunks, sha256: str, size: int) -> str:
            async def requests():
                metadata = blobs_pb2.UploadBlobMetadata(filename="take.wav", expected_sha256=sha256, size=size)
                yield blobs_pb2.UploadBlobRequest(metadata=metadata)
                for chunk in chunks:
                    yield blobs_pb2.UploadBlobRequest(chunk=chunk)

            # The baseline tree reads the size from this header (UploadBlobMetadata had no size field then).
            size_header = ("beatflow-upload-size", str(size))
            return (await blobs.UploadBlob(requests(), metadata=(*md, size_header))).blob.blob_id

        async def upload_bytes(data: bytes) -> str:
            return await upload([data], hashlib.sha256(data).hexdigest(), len(data))

        def written() -> int:
            return written_bytes() + (written_bytes(server_pid) if server_pid else 0)

        digest, size = hashlib.sha256(), 0
        for chunk in _wav_chunks(WAV_MIB):  # hashed ahead, as the gateway does while spooling
            digest.update(chunk)
            size += len(chunk)
        before = written()
        with PeakRss() as rss:
            await upload(_wav_chunks(WAV_MIB), digest.hexdigest(), size)
        per_byte = (written() - before) / size

        stems = [await upload_bytes(tone(0.5, frequency=110.0 * (1 + i / 7))) for i in range(COMMIT_STEMS)]
        repo = await repositories_pb2_grpc.RepositoryServiceStub(channel).CreateRepository(
            repositories_pb2.CreateRepositoryRequest(name="stems"), metadata=md
        )
        vc = version_control_pb2_grpc.VersionControlServiceStub(channel)
        head, times = "", []
        for index in range(COMMIT_SAMPLES + 1):
            order = stems[index % COMMIT_STEMS :] + stems[: index % COMMIT_STEMS]  # a new tree each time
            request = vc_pb2.CreateCommitRequest(
                repo_id=repo.repository.repo_id,
                parent_commit_id=head,
                message=f"take {index}",
                stems=[vc_pb2.StemInput(name=f"stem{i}", blob_id=b) for i, b in enumerate(order)],
            )
            started = time.perf_counter()
            head = (await vc.CreateCommit(request, metadata=md)).commit.commit_id
            if index:  # the first commit warms caches and connections
                times.append((time.perf_counter() - started) * 1000)
    return {
        "bytes_written_per_uploaded_byte": round(per_byte, 3),
        "upload_peak_rss_growth_mb": rss.growth_mb,
        "commit_ms_median": statistics.median(times),
        "transaction_ms_median": statistics.median(transaction_ms[1:]),
    }


def _child(args: list[str], config: dict, pythonpath: Sequence[Path] = ()) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env.get("PYTHONPATH", "")])
    output = subprocess.run(
        [sys.executable, "-m", "bench.storage", *args, json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _baseline_tree(target: Path) -> list[Path]:
    """The vcs code as it was at BASELINE_COMMIT, for the "before" figures; returns its import path."""
    target.mkdir(parents=True)
    archive = target / "baseline.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), BASELINE_COMMIT, *BASELINE_PATHS],
        check=True,
        cwd=REPO_ROOT,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return [target / "libs", target / "services" / "vcs"]


def _nanio_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if any(arg.endswith(b"/nanio") for arg in argv[:2]) and str(port).encode() in argv:
            return int(proc.name)
    raise LookupError(f"no nanio process serves port {port}")


# -- Chunked storage of lossless audio (issue 16, item 2) ------------------------------------------
# Ten takes of a 4-minute stereo 16-bit 44.1 kHz stem at 120 bpm (120 bars; tests/platform/audio_takes.py:
# a music21 chorale rendered with FluidSynth over a noise floor), each differing from the first in a
# different 8-bar range. Stored through the chunked store on the filesystem and on nanio: bytes stored
# for ten takes over one, whole-file storage beside it; full downloads of the first take reassembled
# from chunks against the same bytes stored whole, alternated, medians of DOWNLOAD_ROUNDS each, with the
# CPU time each spends (this process's threads plus the S3 server's) per MiB.
# Then a 200 MiB WAV of noise and chords (no stretch repeats, so every chunk is new) uploaded with its
# sha256 and size: bytes written per uploaded byte and peak RSS growth on a first upload.
TAKES = 10
TAKE_BARS = 120
EDIT_BARS = 8
DOWNLOAD_ROUNDS = 9
CHUNKED_UPLOAD_MIB = 200
# `--downloads` runs one child per store this many times, and reports the medians over them.
DOWNLOAD_CHILD_ROUNDS = 2


def _edited_bars(take: int) -> int:
    """The first bar of take `take`'s edit (takes 1..9): bars 12, 24, ..., 108, each a different range."""
    return 12 * take


def _noisy_wav_chunks(mib: int, seed: int = 0):
    """A 16-bit stereo 44.1 kHz WAV of about `mib` MiB: chords over uniform noise (about -40 dBFS), block by block."""
    import numpy as np

    rate, frames_per_block = 44100, 64 * 1024
    blocks = mib * MIB // (4 * frames_per_block)
    data_bytes = blocks * frames_per_block * 4
    yield _wav_header(data_bytes, rate)
    rng = np.random.default_rng(seed)
    for index in range(blocks):
        t = ((index * frames_per_block + np.arange(frames_per_block)) / rate).astype(np.float32)
        root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        chord = np.zeros_like(t)
        for ratio in (1.0, 1.26, 1.5, 2.0):
            chord += np.sin(np.float32(2 * np.pi * root * ratio) * t)
        noise = rng.integers(-600, 600, size=(frames_per_block, 2), dtype=np.int16)
        yield (chord[:, None] * 2000 + noise).astype("<i2").tobytes()


async def _chunked_store(kind: str, config: dict):
    """(the inner store, the chunked store over it), the S3 bucket made if needed."""
    from beatflow_platform.objectstore.chunked import ChunkedAudioStore
    from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
    from beatflow_platform.objectstore.s3 import S3ObjectStore
    from beatflow_platform.settings import ObjectStoreSettings

    if kind == "filesystem":
        inner = FilesystemObjectStore(Path(config["root"]))
    else:
        inner = S3ObjectStore(ObjectStoreSettings(kind="s3", **config))
        await inner.ensure_bucket()
    return inner, ChunkedAudioStore(inner)


async def _stored_bytes(inner) -> int:
    from beatflow_platform.objectstore.named import NAMESPACES

    return sum([info.size for namespace in NAMESPACES async for info in inner.list_objects(namespace)])


def _cpu_seconds(server_pid: int | None) -> float:
    """CPU seconds used so far by this process (all its threads) and by the S3 server, if any."""
    seconds = time.process_time()
    if server_pid is not None:
        fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return seconds


async def _timed_download(read, blob_id: str, size: int, server_pid: int | None) -> tuple[float, float]:
    """(seconds, CPU seconds of this process and of the S3 server) of one full download."""
    started, cpu_started = time.perf_counter(), _cpu_seconds(server_pid)
    received = 0
    async for chunk in read(blob_id):
        received += len(chunk)
    assert received == size
    return time.perf_counter() - started, _cpu_seconds(server_pid) - cpu_started


class _CodecThreadCpu:
    """Counts the CPU seconds that codec threads spend decoding and checking runs of chunks (runs.decode_run,
    timed with time.thread_time in the thread that runs it), for the figures of where a chunked read's CPU goes."""

    def __init__(self):
        from beatflow_platform.objectstore import chunked

        self.seconds = 0.0
        self._lock = threading.Lock()
        decode_run = chunked.decode_run

        def timed(*args):
            started = time.thread_time()
            try:
                return decode_run(*args)
            finally:
                with self._lock:
                    self.seconds += time.thread_time() - started

        chunked.decode_run = timed


async def _download_figures(
    reads: dict[str, Callable], blob_id: str, size: int, server_pid: int | None
) -> dict[str, float]:
    """Full downloads of one blob through each of `reads` ("whole": the blob stored whole; "chunked", and
    optionally "chunked_before": reassembled from chunks), alternated, in turn forwards and backwards: for
    each chunked read, its median speed against the whole read's, and the CPU and wall time each spends (the
    ratio follows the CPU on a loaded machine), and the part of that CPU spent in codec threads. The figures of
    "chunked_before" are named as those of "chunked", with the suffix `_before`."""
    seconds: dict[str, list[float]] = {name: [] for name in reads}
    cpu: dict[str, list[float]] = {name: [] for name in reads}
    codec_cpu: dict[str, list[float]] = {name: [] for name in reads}
    codec = _CodecThreadCpu()
    order = list(reads.items())
    for round_ in range(DOWNLOAD_ROUNDS):
        for name, read in order if round_ % 2 == 0 else reversed(order):  # no read always follows the same one
            codec_started = codec.seconds
            elapsed, used = await _timed_download(read, blob_id, size, server_pid)
            seconds[name].append(elapsed)
            cpu[name].append(used)
            codec_cpu[name].append(codec.seconds - codec_started)
    speed = {name: size / MIB / statistics.median(times) for name, times in seconds.items()}
    megabytes = DOWNLOAD_ROUNDS * size / MIB
    figures: dict[str, float] = {}
    for chunked in (name for name in reads if name != "whole"):
        suffix = chunked.removeprefix("chunked")
        figures[f"chunked_download_mb_per_s{suffix}"] = round(speed[chunked], 1)
        figures[f"whole_download_mb_per_s{suffix}"] = round(speed["whole"], 1)
        figures[f"chunked_over_whole_download_ratio{suffix}"] = round(speed[chunked] / speed["whole"], 3)
        figures[f"download_load_average_1m{suffix}"] = round(os.getloadavg()[0], 2)  # what else the machine ran
        figures[f"chunked_download_codec_thread_cpu_ms_per_take_median{suffix}"] = round(
            1000 * statistics.median(codec_cpu[chunked]), 1
        )
        for kind, name in (("chunked", chunked), ("whole", "whole")):
            figures[f"{kind}_download_cpu_ms_per_mb{suffix}"] = round(1000 * sum(cpu[name]) / megabytes, 2)
            figures[f"{kind}_download_cpu_ms_per_take_median{suffix}"] = round(1000 * statistics.median(cpu[name]), 1)
            figures[f"{kind}_download_wall_ms_per_take_median{suffix}"] = round(
                1000 * statistics.median(seconds[name]), 1
            )
    return figures


@contextmanager
def _codec_of_before() -> Iterator[None]:
    """Uploads inside the block encode their chunks as the store did before Blosc2 (byte planes, zstd or raw)."""
    from beatflow_platform.objectstore import chunk_codec
    from tests.platform.earlier_chunk_codecs import byte_planes_encode

    saved, chunk_codec.encode = chunk_codec.encode, byte_planes_encode
    try:
        yield
    finally:
        chunk_codec.encode = saved


async def _in_pieces(data: bytes):
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def _takes_child(kind: str, config: dict) -> dict[str, float]:
    import soundfile

    from tests.platform import audio_takes

    inner, store = await _chunked_store(kind, config["store"])
    whole_store, _ = await _chunked_store(kind, config["whole_store"])  # the baseline: every take stored whole
    base, _ = soundfile.read(config["base"], dtype="int16")
    other, _ = soundfile.read(config["other"], dtype="int16")

    first = audio_takes.encoded(base)
    blob = await store.put(_in_pieces(first))
    await whole_store.put(_in_pieces(first))
    one, one_whole = await _stored_bytes(inner), await _stored_bytes(whole_store)
    for index in range(1, TAKES):
        take = audio_takes.encoded(audio_takes.take(base, other, _edited_bars(index), EDIT_BARS))
        await store.put(_in_pieces(take))
        await whole_store.put(_in_pieces(take))
    ten, ten_whole = await _stored_bytes(inner), await _stored_bytes(whole_store)
    await inner.put(_in_pieces(first))  # the same bytes stored whole, beside the chunks
    return {
        "ten_takes_over_one_ratio": round(ten / one, 3),
        "ten_takes_over_one_ratio_whole_files": round(ten_whole / one_whole, 3),
        "one_take_stored_over_raw_ratio": round(one / len(first), 3),
        **await _flac_takes_figures(kind, config["flac_store"], base, other),
        **await _download_figures(
            {"chunked": store.read, "whole": inner.read}, blob.blob_id, len(first), config.get("store_pid")
        ),
    }


async def _flac_takes_figures(kind: str, config: dict, base, other) -> dict[str, float]:
    """The same ten takes encoded to FLAC (libsndfile's default settings) in a store of their own: bytes stored
    for ten over one, and how much of a take re-encoded with other settings is new (the limit: all of it)."""
    from tests.platform import audio_takes

    inner, store = await _chunked_store(kind, config)
    first = audio_takes.encoded(base, "FLAC")
    await store.put(_in_pieces(first))
    one = await _stored_bytes(inner)
    for index in range(1, TAKES):
        take = audio_takes.encoded(audio_takes.take(base, other, _edited_bars(index), EDIT_BARS), "FLAC")
        await store.put(_in_pieces(take))
    ten = await _stored_bytes(inner)
    reencoded = audio_takes.encoded(base, "FLAC", compression_level=0.0)
    await store.put(_in_pieces(reencoded))
    return {
        "flac_ten_takes_over_one_ratio": round(ten / one, 3),
        "flac_one_take_stored_over_flac_ratio": round(one / len(first), 3),
        "flac_reencoded_take_stored_over_its_size_ratio": round((await _stored_bytes(inner) - ten) / len(reencoded), 3),
    }


async def _downloads_child(kind: str, config: dict) -> dict[str, float]:
    """The download figures alone: the first take stored as chunks, as chunks again encoded as before Blosc2 (in a
    store of its own), and whole, then downloaded alternately."""
    import soundfile

    from tests.platform import audio_takes

    inner, store = await _chunked_store(kind, config["store"])
    _, before_store = await _chunked_store(kind, config["before_store"])
    base, _ = soundfile.read(config["base"], dtype="int16")
    first = audio_takes.encoded(base)
    blob = await store.put(_in_pieces(first))
    with _codec_of_before():
        await before_store.put(_in_pieces(first))
    await inner.put(_in_pieces(first))
    reads = {"chunked": store.read, "chunked_before": before_store.read, "whole": inner.read}
    return await _download_figures(reads, blob.blob_id, len(first), config.get("store_pid"))


async def _chunked_upload_child(kind: str, config: dict) -> dict[str, float]:
    _, store = await _chunked_store(kind, config["store"])
    server_pid = config.get("store_pid")
    digest, size = hashlib.sha256(), 0
    for chunk in _noisy_wav_chunks(CHUNKED_UPLOAD_MIB):  # hashed ahead, as the gateway does while spooling
        digest.update(chunk)
        size += len(chunk)

    async def chunks():
        for chunk in _noisy_wav_chunks(CHUNKED_UPLOAD_MIB):
            yield chunk

    def written() -> int:
        return written_bytes() + (written_bytes(server_pid) if server_pid else 0)

    before = written()
    started = time.perf_counter()
    with PeakRss() as rss:
        blob = await store.put(chunks(), expected_sha256=digest.hexdigest(), size=size)
    elapsed = time.perf_counter() - started
    assert blob.created and await store.manifest(blob.blob_id) is not None
    return {
        "bytes_written_per_uploaded_byte": round((written() - before) / size, 3),
        "peak_rss_growth_mb": rss.growth_mb,
        "throughput_mb_per_s": round(size / MIB / elapsed, 1),
    }


def _stem_file(path: Path, **variant) -> Path:
    """A stem of TAKE_BARS bars (tests/platform/audio_takes.py; `variant`: its transpose and seed) as a WAV file."""
    import soundfile

    from tests.platform import audio_takes

    soundfile.write(path, audio_takes.stem(TAKE_BARS, **variant), audio_takes.RATE, subtype="PCM_16")
    return path


def _chunked_stores(tmp: Path, s3: dict, nanio_pid: int) -> dict[str, tuple]:
    """For each kind of store, (its config for a given name, the pid of its server or None)."""
    return {
        "filesystem": (lambda name: {"root": str(tmp / f"chunked-{name}")}, None),
        "s3": (lambda name: {**s3, "bucket": f"chunked-{name}"}, nanio_pid),
    }


def _api_download_figures(tmp: Path, s3: dict, base: Path) -> dict[str, float]:
    """The take in `base` downloaded through the API, stored as chunks and whole (bench/_api_downloads.py)."""
    import soundfile

    from bench import _api_downloads
    from tests.platform import audio_takes

    return _api_downloads.run(audio_takes.encoded(soundfile.read(base, dtype="int16")[0]), tmp, s3)


def _download_summary(figures: dict[str, float]) -> dict[str, float]:
    """The headline download figures: speed on S3, and the worse of the two stores' ratios."""
    return {
        "chunked_download_mb_per_s": figures["chunked_download_mb_per_s_s3"],
        "chunked_over_whole_download_ratio": min(
            figures[f"chunked_over_whole_download_ratio_{kind}"] for kind in ("filesystem", "s3")
        ),
    }


def _chunked_figures(tmp: Path, s3: dict, nanio_pid: int, base: Path) -> dict[str, float]:
    """The chunked store's figures on the filesystem and on nanio (see the comment above TAKES); `base`: the take."""
    figures: dict[str, float] = {}
    other = _stem_file(tmp / "take-other.wav", transpose=5, seed=1)  # the edits' material
    stores = _chunked_stores(tmp, s3, nanio_pid)
    for kind, (store, store_pid) in stores.items():
        config = {
            "store": store("takes"),
            "whole_store": store("whole"),
            "flac_store": store("flac"),
            "base": str(base),
            "other": str(other),
            "store_pid": store_pid,
        }
        for name, value in _child(["--takes-child", kind], config).items():
            figures[f"{name}_{kind}"] = value
        upload = _child(["--chunked-upload-child", kind], {"store": store("upload"), "store_pid": store_pid})
        for name, value in upload.items():
            figures[f"chunked_{kind}_upload_{CHUNKED_UPLOAD_MIB}mb_{name}"] = value
    for name in ("ten_takes_over_one_ratio", "flac_ten_takes_over_one_ratio"):
        figures[name] = max(figures[f"{name}_{kind}"] for kind in stores)
    return {**figures, **_download_summary(figures)}


@contextmanager
def _workspace(prefix: str) -> Iterator[tuple[Path, dict, int]]:
    """A temporary folder and a nanio S3 server storing into it, both gone afterwards: (the folder, the
    server's S3 settings, its pid, whose CPU time and writes count with the S3 figures)."""
    from beatflow_devtools.postgres import reachable_tempdir
    from beatflow_devtools.s3servers import NanioS3

    tmp = reachable_tempdir(prefix)
    try:
        server = NanioS3(tmp / "nanio")
        endpoint = server.start()
        try:
            s3 = {"endpoint": endpoint.address, "access_key": endpoint.access_key, "secret_key": endpoint.secret_key}
            yield tmp, s3, _nanio_pid(endpoint.port)
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_downloads() -> dict[str, float]:
    """Only the chunked store's download figures, to re-measure them alone: one child per store, run
    DOWNLOAD_CHILD_ROUNDS times; each reads a take reassembled from chunks, the same take with its chunks encoded as
    the store did before Blosc2 (byte planes, zstd or raw: suffix `_before`) and the take stored whole, alternated.
    Each figure is the median over the children; `downloads_machine_calibration_ms_*` is the machine's speed before
    and after (bench/_calibration.py)."""
    from bench._calibration import calibration_ms

    measured: dict[str, list[float]] = {"downloads_machine_calibration_ms_before": [calibration_ms()]}
    with _workspace("beatflow-bench-downloads-") as (tmp, s3, nanio_pid):
        base = _stem_file(tmp / "take-base.wav")
        for round_ in range(DOWNLOAD_CHILD_ROUNDS):
            for kind, (store, store_pid) in _chunked_stores(tmp, s3, nanio_pid).items():
                config = {
                    "store": store(f"downloads-{round_}"),
                    "before_store": store(f"downloads-before-{round_}"),
                    "base": str(base),
                    "store_pid": store_pid,
                }
                for name, value in _child(["--downloads-child", kind], config).items():
                    before = name.endswith("_before")
                    name = f"{name.removesuffix('_before')}_{kind}{'_before' if before else ''}"
                    measured.setdefault(name, []).append(value)
        figures = {name: round(statistics.median(values), 3) for name, values in measured.items()}
        figures |= _api_download_figures(tmp, s3, base)
    figures["downloads_machine_calibration_ms_after"] = calibration_ms()
    return {**figures, **_download_summary(figures)}


def merge_into_results(figures: dict[str, float]) -> dict:
    """bench/results/storage.json with `figures` replaced, every other figure kept as it was measured."""
    from bench.__main__ import RESULTS_DIR

    path = RESULTS_DIR / "storage.json"
    results = {
        **json.loads(path.read_text()),
        **figures,
        "downloads_measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with _workspace("beatflow-bench-storage-") as (tmp, s3, nanio_pid):
        baseline = _baseline_tree(tmp / "baseline")
        for kind, config in (("filesystem", {"root": str(tmp / "fs")}), ("s3", {**s3, "bucket": "bench"})):
            unknown = _child(["--store-child", kind], {**config, "mib": UNKNOWN_LENGTH_MIB, "announced": False})
            for name, value in unknown.items():
                figures[f"{kind}_upload_{UNKNOWN_LENGTH_MIB}mb_{name}"] = value
            announced = _child(["--store-child", kind], {**config, "mib": ANNOUNCED_MIB, "announced": True})
            for name, value in announced.items():
                figures[f"{kind}_upload_{ANNOUNCED_MIB}mb_announced_{name}"] = value

        stores = {
            "filesystem": ({"root": str(tmp / "vcs-fs")}, None),
            "s3": ({**s3, "kind": "s3", "bucket": "vcs"}, nanio_pid),
        }
        commit_ms: dict[str, float] = {}
        transaction_ms: dict[str, float] = {}
        for version, pythonpath in (("before", baseline), ("after", [])):
            for kind, (store, store_pid) in stores.items():
                store = {**store, "bucket": f"{store['bucket']}-{version}"} if "bucket" in store else store
                config = {
                    "base": str(tmp / f"vcs-{kind}-{version}"),
                    "store": {**store, "root": f"{store['root']}-{version}"} if "root" in store else store,
                    "store_pid": store_pid,
                }
                result = _child(["--vcs-child"], config, pythonpath)
                suffix = "" if version == "after" else "_before"
                per_byte = result["bytes_written_per_uploaded_byte"]
                figures[f"bytes_written_per_uploaded_byte_{kind}{suffix}"] = per_byte
                rss_growth = result["upload_peak_rss_growth_mb"]
                figures[f"vcs_{kind}_upload_{WAV_MIB}mb_peak_rss_growth_mb{suffix}"] = rss_growth
                if kind == "s3":
                    commit_ms[version] = result["commit_ms_median"]
                    transaction_ms[version] = result["transaction_ms_median"]
        base = _stem_file(tmp / "take-base.wav")
        figures.update(_chunked_figures(tmp, s3, nanio_pid, base))
        figures.update(_api_download_figures(tmp, s3, base))
    figures["bytes_written_per_uploaded_byte"] = max(
        figures["bytes_written_per_uploaded_byte_filesystem"],
        figures["bytes_written_per_uploaded_byte_s3"],
        *(
            figures[f"chunked_{kind}_upload_{CHUNKED_UPLOAD_MIB}mb_bytes_written_per_uploaded_byte"]
            for kind in ("filesystem", "s3")
        ),
    )
    figures["commit_20_stems_ms_median"] = round(commit_ms["after"], 2)
    figures["commit_20_stems_ms_median_before"] = round(commit_ms["before"], 2)
    figures["commit_20_stems_before_over_after_ratio"] = round(commit_ms["before"] / commit_ms["after"], 2)
    figures["commit_20_stems_transaction_ms_median"] = round(transaction_ms["after"], 2)
    figures["commit_20_stems_transaction_ms_median_before"] = round(transaction_ms["before"], 2)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--store-child"]:
        print(json.dumps(asyncio.run(_store_child(sys.argv[2], json.loads(sys.argv[3])))))
    elif sys.argv[1:2] == ["--vcs-child"]:
        print(json.dumps(asyncio.run(_vcs_child(json.loads(sys.argv[2])))))
    elif sys.argv[1:2] == ["--takes-child"]:
        print(json.dumps(asyncio.run(_takes_child(sys.argv[2], json.loads(sys.argv[3])))))
    elif sys.argv[1:2] == ["--downloads-child"]:
        print(json.dumps(asyncio.run(_downloads_child(sys.argv[2], json.loads(sys.argv[3])))))
    elif sys.argv[1:2] == ["--downloads"]:  # python -m bench.storage --downloads: re-measures downloads alone
        print(json.dumps(merge_into_results(run_downloads()), indent=2))
    elif sys.argv[1:2] == ["--chunked-upload-child"]:
        print(json.dumps(asyncio.run(_chunked_upload_child(sys.argv[2], json.loads(sys.argv[3])))))
    else:
        print(json.dumps(run(), indent=2))
