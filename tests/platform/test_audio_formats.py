"""Audio as musicians export it, and a corpus of broken files: what the upload probe accepts and refuses.

A short piano phrase rendered with FluidSynth is written in every container and sample format
libsndfile writes (and as ffmpeg and sox write them); each is described and decoded. Then each
is cut at several points, and its header, frames and bytes are broken in the ways real files
break: every one of those must be refused as NOT_AUDIO.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from beatflow_audio import codec, probe, soundfont
from beatflow_platform.errors import InvalidArgument, ResourceExhausted

RATE = 48000  # Opus takes 48 kHz only; every other format takes it too


def phrase() -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for index, pitch in enumerate((60, 64, 67, 72)):
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=0.4 * index, end=0.4 * index + 0.6))
    midi.instruments.append(piano)
    return midi


@pytest.fixture(scope="module")
def take() -> np.ndarray:
    if not soundfont.available():
        pytest.skip("FluidSynth or the General MIDI soundfont is not installed")
    return soundfont.render(phrase(), RATE)


def written(samples: np.ndarray, container: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format=container, subtype=subtype)
    return buffer.getvalue()


def refusal(data: bytes, describe=probe.describe) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        describe(io.BytesIO(data), max_seconds=math.inf)
    return caught.value


# (container, subtype, format name stored, largest sample error: a quantisation step, None when lossy)
EXPORTS = [
    ("WAV", "PCM_16", "WAV", 2**-15),
    ("WAV", "PCM_U8", "WAV", 2**-7),
    ("WAV", "FLOAT", "WAV", 1e-7),
    ("WAVEX", "PCM_16", "WAV", 2**-15),
    ("WAVEX", "PCM_24", "WAV", 2**-23),
    ("WAVEX", "PCM_32", "WAV", 2**-31),
    ("WAVEX", "FLOAT", "WAV", 1e-7),
    ("WAVEX", "DOUBLE", "WAV", 1e-7),
    ("AIFF", "PCM_16", "AIFF", 2**-15),
    ("AIFF", "PCM_24", "AIFF", 2**-23),
    ("AIFF", "FLOAT", "AIFF", 1e-7),  # written as AIFC
    ("FLAC", "PCM_16", "FLAC", 2**-15),
    ("FLAC", "PCM_24", "FLAC", 2**-23),
    ("OGG", "VORBIS", "OGG", None),
    ("OGG", "OPUS", "OGG", None),
    ("MP3", "MPEG_LAYER_III", "MP3", None),
]


@pytest.mark.parametrize(("container", "subtype", "name", "step"), EXPORTS, ids=[f"{c}-{s}" for c, s, *_ in EXPORTS])
def test_every_exported_format_is_described_and_decodes_to_the_take(take, container, subtype, name, step):
    data = written(take, container, subtype)
    described = probe.describe(io.BytesIO(data), max_seconds=math.inf)
    assert (described.format, described.content_type) == (name, codec.CONTENT_TYPES[name])
    assert (described.sample_rate, described.channels) == (RATE, 2)
    assert described.duration_seconds == pytest.approx(len(take) / RATE, abs=1e-6 if step else 0.06)
    samples, rate = codec.decode(data)
    assert rate == RATE and samples.shape[1] == 2
    if step:
        assert np.max(np.abs(samples - take)) <= step
    else:  # lossy: the same loudness and the same spectrum, give or take the codec
        level = 20 * np.log10(np.sqrt(np.mean(samples**2)) / np.sqrt(np.mean(take**2)))
        assert abs(level) < 1.0
        assert _spectral_similarity(samples[:, 0], take[:, 0]) > 0.95


def _spectral_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine similarity of the long-term magnitude spectra (blind to a codec's delay)."""
    size = min(len(first), len(second))
    spectra = [np.abs(np.fft.rfft(signal[:size])) for signal in (first, second)]
    return float(spectra[0] @ spectra[1] / (np.linalg.norm(spectra[0]) * np.linalg.norm(spectra[1])))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def test_files_as_ffmpeg_and_sox_write_them(take, tmp_path: Path):
    source = tmp_path / "take.wav"
    soundfile.write(source, take, RATE)
    ffmpeg, sox = _tool("ffmpeg"), _tool("sox")
    commands = {
        "ffmpeg-24.wav": [ffmpeg, "-loglevel", "error", "-i", source, "-c:a", "pcm_s24le"],
        "ffmpeg-float.wav": [ffmpeg, "-loglevel", "error", "-i", source, "-c:a", "pcm_f32le"],
        "ffmpeg-24.aiff": [ffmpeg, "-loglevel", "error", "-i", source, "-c:a", "pcm_s24be"],
        "ffmpeg-24.flac": [ffmpeg, "-loglevel", "error", "-i", source, "-sample_fmt", "s32"],
        "ffmpeg.mp3": [ffmpeg, "-loglevel", "error", "-i", source],
        "sox-24.wav": [sox, source, "-b", "24"],
    }
    for filename, command in commands.items():
        subprocess.run([*command, tmp_path / filename], check=True, capture_output=True, timeout=60)
        described = probe.describe(io.BytesIO((tmp_path / filename).read_bytes()), max_seconds=math.inf)
        assert described.format == filename.rsplit(".", 1)[1].upper(), filename
        assert (described.sample_rate, described.channels) == (RATE, 2), filename
        assert described.duration_seconds == pytest.approx(len(take) / RATE, abs=0.06), filename


def test_a_wav_streamed_through_a_pipe_is_accepted_whole_and_cut(take, tmp_path: Path):
    """ffmpeg writing to a pipe cannot go back to fill in the data size: the header says "unknown",
    so a cut file is indistinguishable from a complete one and is described by what decodes."""
    source = tmp_path / "take.wav"
    soundfile.write(source, take, RATE)
    command = [_tool("ffmpeg"), "-loglevel", "error", "-i", source, "-c:a", "pcm_s24le", "-f", "wav", "-"]
    streamed = subprocess.run(command, check=True, capture_output=True, timeout=60).stdout
    data_chunk = streamed.index(b"data")
    assert streamed[data_chunk + 4 : data_chunk + 8] == b"\xff" * 4, "ffmpeg marked the data size unknown"
    whole = probe.describe(io.BytesIO(streamed), max_seconds=math.inf)
    assert whole.duration_seconds == pytest.approx(len(take) / RATE, abs=1e-6)
    cut = probe.describe(io.BytesIO(streamed[: len(streamed) // 2]), max_seconds=math.inf)
    assert cut.duration_seconds == pytest.approx(whole.duration_seconds / 2, abs=0.01)


TRUNCATED = [("WAV", "PCM_16"), ("WAVEX", "PCM_24"), ("AIFF", "PCM_24"), ("FLAC", "PCM_24")]
TRUNCATED += [("OGG", "VORBIS"), ("OGG", "OPUS"), ("MP3", "MPEG_LAYER_III")]


@pytest.mark.parametrize(("container", "subtype"), TRUNCATED, ids=[f"{c}-{s}" for c, s in TRUNCATED])
@pytest.mark.parametrize("kept", [0.01, 0.3, 0.7, 0.99, 0.9995])
def test_truncated_files_are_refused(take, container, subtype, kept):
    data = written(take, container, subtype)
    error = refusal(data[: int(len(data) * kept)])
    assert error.reason == "NOT_AUDIO"


def test_each_refusal_says_why(take):
    wav = written(take, "WAVEX", "PCM_24")
    assert "truncated" in refusal(wav[: len(wav) // 2]).message
    assert "truncated" in refusal(written(take, "MP3", "MPEG_LAYER_III")[:-2000]).message
    assert "no audio samples" in refusal(written(take[:0], "WAV", "PCM_16")).message
    flac = written(take, "FLAC", "PCM_24")
    assert "decoder" in refusal(flac[: len(flac) // 2]).metadata


def _random(size: int) -> bytes:
    return np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()


def test_broken_headers_and_non_audio_are_refused(take):
    wav, flac = written(take, "WAV", "PCM_16"), written(take, "FLAC", "PCM_16")
    broken = {
        "empty": b"",
        "text named .wav": b"Verse 1: la la la\nChorus: oh oh oh\n" * 20,
        "wrong magic": b"JUNK" + wav[4:],
        "flac with a wav header": wav[:44] + flac,
        "flac with a broken magic": b"fLaX" + flac[4:],
        "random bytes after a RIFF/WAVE header": wav[:12] + _random(50_000),
        "random bytes after a FLAC magic": b"fLaC" + _random(50_000),
        "random bytes": _random(50_000),
        "zero frames (WAV)": written(take[:0], "WAV", "PCM_16"),
        "zero frames (FLAC)": written(take[:0], "FLAC", "PCM_16"),
        "a MIDI file": _midi_bytes(phrase()),
    }
    reasons = {name: refusal(data).reason for name, data in broken.items()}
    assert reasons == dict.fromkeys(broken, "NOT_AUDIO")


def test_audio_longer_than_the_limit_is_refused_before_it_is_decoded(take):
    with pytest.raises(InvalidArgument) as caught:
        probe.describe(io.BytesIO(written(take, "FLAC", "PCM_16")), max_seconds=1.0)
    error = caught.value
    assert error.reason == "AUDIO_TOO_LONG" and error.metadata["limit_seconds"] == "1"


def test_memory_stays_bounded_while_a_200_mb_file_is_decoded(tmp_path: Path):
    path = tmp_path / "long.wav"
    block = (0.1 * np.random.default_rng(1).standard_normal((RATE * 10, 2))).astype(np.float32)
    with soundfile.SoundFile(path, "w", RATE, 2, format="WAV", subtype="PCM_16") as sound:
        while sound.frames * 4 < 200_000_000:
            sound.write(block)
    del block
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            described = probe.describe(handle, max_seconds=math.inf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert described.duration_seconds == pytest.approx((path.stat().st_size - 44) / 4 / RATE)
    assert peak < 64 * 1024 * 1024, f"decoding took {peak / 1e6:.0f} MB at its peak"


def _midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def test_midi_files_are_blobs_but_not_audio():
    data = _midi_bytes(phrase())
    described = probe.describe_blob(io.BytesIO(data), max_seconds=math.inf)
    assert (described.format, described.content_type) == ("MID", "audio/midi")
    assert described.duration_seconds == pytest.approx(phrase().get_end_time())
    assert (described.sample_rate, described.channels) == (0, 0)
    assert refusal(data[: len(data) // 2], probe.describe_blob).reason == "NOT_AUDIO"
    assert refusal(b"MThd" + _random(500), probe.describe_blob).reason == "NOT_AUDIO"
    with pytest.raises(ResourceExhausted) as too_large:
        probe.describe_blob(io.BytesIO(data + bytes(probe.MAX_MIDI_BYTES)), max_seconds=math.inf)
    assert too_large.value.reason == "MIDI_TOO_LARGE"


def test_blobs_that_are_audio_are_described_as_audio(take):
    data = written(take, "WAVEX", "PCM_24")
    assert probe.describe_blob(io.BytesIO(data), max_seconds=math.inf) == probe.describe(
        io.BytesIO(data), max_seconds=math.inf
    )


def test_a_long_take_encodes_as_ogg_without_crashing_the_process():
    """libsndfile's Vorbis encoder dies (SIGSEGV) on about a minute of audio in one write; encode
    writes in blocks. Run apart, so a crash is this test's failure and not the whole session's."""
    script = (
        "import numpy as np; from beatflow_audio import codec\n"
        "t = np.arange(44100 * 70) / 44100\n"
        "take = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t))[:, None], 2, axis=1)\n"
        "samples, rate = codec.decode(codec.encode(take, 44100, 'OGG'))\n"
        "print(samples.shape[0] / rate)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert float(done.stdout) == pytest.approx(70.0, abs=0.01)


@pytest.mark.parametrize(
    ("audio_format", "channels", "rate", "holds"),
    [
        ("MP3", 2, 48000, True),
        ("MP3", 1, 22050, True),
        ("MP3", 6, 48000, False),  # 5.1
        ("MP3", 2, 96000, False),  # a studio rate
        ("FLAC", 8, 96000, True),
        ("FLAC", 9, 48000, False),
        ("OGG", 9, 96000, True),
        ("WAV", 12, 192000, True),
    ],
)
def test_a_format_that_cannot_hold_the_audio_is_refused_in_words(audio_format, channels, rate, holds):
    t = np.arange(rate // 10) / rate
    samples = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t))[:, None], channels, axis=1)
    if holds:
        decoded, decoded_rate = codec.decode(codec.encode(samples, rate, audio_format))
        assert decoded.shape[1] == channels and decoded_rate == rate
        return
    with pytest.raises(InvalidArgument) as refused:
        codec.encode(samples, rate, audio_format)
    assert refused.value.reason == "FORMAT_CANNOT_HOLD" and audio_format in str(refused.value)
    assert (str(channels) if channels > 2 else str(rate)) in str(refused.value)


def test_samples_that_are_not_finite_are_refused_and_loud_floats_are_not():
    t = np.arange(4410) / 44100
    take = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t))[:, None], 2, axis=1)
    for bad in (np.nan, np.inf, -np.inf):
        glitched = take.copy()
        glitched[100, 1] = bad
        buffer = io.BytesIO()
        soundfile.write(buffer, glitched, 44100, format="WAV", subtype="FLOAT")
        with pytest.raises(InvalidArgument) as refused:
            codec.decode(buffer.getvalue())
        assert refused.value.reason == "NOT_FINITE"
    buffer = io.BytesIO()
    soundfile.write(buffer, take * 4, 44100, format="WAV", subtype="FLOAT")  # over full scale, but numbers
    samples, _ = codec.decode(buffer.getvalue())
    assert np.abs(samples).max() == pytest.approx(1.2, abs=1e-6)


@pytest.mark.parametrize(
    ("audio_format", "rate", "held"),
    [("MP3", 44100, 44100), ("MP3", 37800, 44100), ("MP3", 96000, 48000), ("MP3", 7000, 8000), ("FLAC", 96000, 96000)],
)
def test_the_rate_a_format_holds_loses_no_band_it_can_keep(audio_format, rate, held):
    assert codec.rate_held(audio_format, rate) == held
    t = np.arange(held // 10) / held
    samples, decoded_rate = codec.decode(codec.encode(0.3 * np.sin(2 * np.pi * 440 * t), held, audio_format))
    assert decoded_rate == held and len(samples) > 0
