"""From a mixture file to stem files plus quality figures, as the job and `beatflow separate --offline` run it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
import torch

from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_separator import pipeline
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.demucs_engine import DemucsSeparator
from beatflow_separator.offline import separate_file
from beatflow_separator.quality import RESIDUAL_FLOOR_DB, QualityMeter
from tests.separator import tiny_demucs


def tones(seconds: float, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Two orthogonal sines (whole periods), mono [n, 1]: energies 0.25 and 0.0225 per sample pair."""
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 100 * t) * 0.5)[:, None], (np.sin(2 * np.pi * 1000 * t) * 0.15)[:, None]


def test_quality_is_each_stems_share_of_the_energy_and_the_residual_relative_to_the_mixture():
    low, high = tones(1.0, 8000)
    mixture = low + high
    exact = QualityMeter(("low", "high"))
    exact.add(mixture, {"low": low, "high": high})
    result = exact.result()
    assert result.energy_share["low"] == pytest.approx(0.25 / 0.2725, rel=1e-6)
    assert result.energy_share["high"] == pytest.approx(0.0225 / 0.2725, rel=1e-6)
    assert result.residual_db == RESIDUAL_FLOOR_DB

    half = QualityMeter(("low", "high"))  # the high tone is missing from the stems, fed in blocks
    for start in range(0, len(mixture), 3000):
        block = slice(start, start + 3000)
        half.add(mixture[block], {"low": low[block], "high": np.zeros_like(high[block])})
    assert half.result().residual_db == pytest.approx(10 * np.log10(0.0225 / 0.2725), abs=1e-6)
    assert half.result().energy_share["low"] == pytest.approx(result.energy_share["low"], rel=1e-9)


def test_silence_reports_no_shares_and_the_floor():
    meter = QualityMeter(("a",))
    meter.add(np.zeros((100, 2)), {"a": np.zeros((100, 2))})
    assert meter.result().energy_share == {"a": 0.0} and meter.result().residual_db == RESIDUAL_FLOOR_DB


def test_dsp_offline_writes_stems_that_sum_back_at_the_source_rate(tmp_path):
    low, high = tones(3.0, 22050)
    clicks = np.zeros_like(low)
    clicks[:: 22050 // 4] = 0.8
    mixture = (low + high + clicks).astype(np.float32) * 0.5
    soundfile.write(tmp_path / "mix.flac", mixture, 22050)
    outcome = separate_file(tmp_path / "mix.flac", tmp_path / "stems")
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    stems = {name: soundfile.read(path, always_2d=True) for name, path in outcome.stems.items()}
    assert all(rate == 22050 and samples.shape == mixture.shape for samples, rate in stems.values())
    written, _ = soundfile.read(tmp_path / "mix.flac", always_2d=True)
    assert np.abs(sum(s for s, _ in stems.values()) - written).max() < 1e-5  # float stems
    assert outcome.quality.residual_db < -100
    assert outcome.quality.energy_share["bass"] > 0.3 and 0 < sum(outcome.quality.energy_share.values()) < 1.5


def _residual_db(mixture: np.ndarray, stems: dict[str, Path]) -> float:
    """The residual of the stem files as written, relative to the mixture, in dB."""
    total = sum(soundfile.read(path, always_2d=True, dtype="float64")[0] for path in stems.values())
    return float(10 * np.log10(np.square(mixture - total).sum() / np.square(mixture).sum()))


def test_stems_of_a_float_mix_above_full_scale_keep_its_level_in_wav_and_report_what_flac_clips(tmp_path):
    """A float bounce mastered 12 dB over full scale: WAV stems (float) sum back to it; FLAC stems (16-bit) are
    clipped at full scale, and the reported residual is the written files' own, not the engine's exact sum."""
    low, high = tones(3.0, 22050)
    hot = np.repeat(low + high, 2, axis=1).astype(np.float32) * 4
    soundfile.write(tmp_path / "hot.wav", hot, 22050, subtype="FLOAT")
    wav = separate_file(tmp_path / "hot.wav", tmp_path / "wav")
    assert max(np.abs(soundfile.read(path)[0]).max() for path in wav.stems.values()) > 1.5
    assert _residual_db(hot, wav.stems) < -100 and wav.quality.residual_db < -100

    flac = separate_file(tmp_path / "hot.wav", tmp_path / "flac", audio_format="FLAC")
    assert soundfile.info(flac.stems["bass"]).subtype == "PCM_16"
    clipped = _residual_db(hot, flac.stems)
    assert clipped > -20  # the clipping is not hidden...
    assert flac.quality.residual_db == pytest.approx(clipped, abs=0.05)  # ...it is what the job reports

    soundfile.write(tmp_path / "fits.wav", hot / 8, 22050, subtype="FLOAT")
    fits = separate_file(tmp_path / "fits.wav", tmp_path / "fits", audio_format="FLAC")
    assert _residual_db(hot / 8, fits.stems) < -70 and fits.quality.residual_db < -70  # under full scale: no clipping


def test_demucs_offline_converts_to_the_models_format_and_measures_what_it_wrote(tmp_path):
    weights = tiny_demucs.build(tmp_path / "weights")
    low, high = tones(1.5, 16000)
    mixture = (low + high).astype(np.float32)
    soundfile.write(tmp_path / "mix.flac", mixture, 16000, subtype="PCM_24")
    outcome = separate_file(tmp_path / "mix.flac", tmp_path / "out", engine="demucs", weights_dir=weights)
    assert outcome.sample_rate == 44100 and list(outcome.stems) == list(tiny_demucs.SOURCES)
    converted = np.repeat(soxr.resample(mixture, 16000, 44100, quality="HQ"), 2, axis=1)
    stems = {name: soundfile.read(path, always_2d=True)[0] for name, path in outcome.stems.items()}
    assert all(s.shape == converted.shape for s in stems.values())
    energy = float(np.square(converted).sum())
    for name, samples in stems.items():
        assert outcome.quality.energy_share[name] == pytest.approx(np.square(samples).sum() / energy, rel=0.02)
    assert outcome.quality.residual_db == pytest.approx(_residual_db(converted, outcome.stems), abs=0.2)


def test_a_separation_gives_the_same_bits_on_any_worker_thread(tmp_path):
    """torch's thread count is per thread: a worker thread whose count differs from the engine's must
    still give the same samples, or the same request would give other stem blobs."""
    engine = DemucsSeparator(tiny_demucs.build(tmp_path / "weights"))
    low, high = tones(2.0, 44100)
    soundfile.write(tmp_path / "mix.wav", np.repeat(low + high, 2, axis=1), 44100, subtype="FLOAT")

    def separated(folder: str) -> dict[str, bytes]:
        (tmp_path / folder).mkdir()
        outcome = pipeline.separate(
            engine, tmp_path / "mix.wav", tmp_path / folder, SeparationOptions(), lambda *_: None, audio_format="WAV"
        )
        return {name: path.read_bytes() for name, path in outcome.stems.items()}

    def on_a_thread_with_two_torch_threads() -> dict[str, bytes]:
        torch.set_num_threads(2)
        return separated("worker")

    here = separated("here")
    with ThreadPoolExecutor(1) as worker:
        assert worker.submit(on_a_thread_with_two_torch_threads).result() == here
    # Nor does the time of writing enter the file: libsndfile's PEAK chunk of a float WAV holds it.
    assert all(b"PEAK" not in stem for stem in here.values())


def test_offline_refuses_unknown_engines_and_models_and_missing_weights(tmp_path):
    low, _ = tones(0.5, 8000)
    soundfile.write(tmp_path / "mix.wav", low, 8000)
    with pytest.raises(InvalidArgument):
        separate_file(tmp_path / "mix.wav", tmp_path / "out", engine="spleeter")
    with pytest.raises(FailedPrecondition):
        separate_file(tmp_path / "mix.wav", tmp_path / "out", engine="demucs", weights_dir=tmp_path / "none")
    weights = tiny_demucs.build(tmp_path / "weights")
    with pytest.raises(InvalidArgument):
        separate_file(tmp_path / "mix.wav", tmp_path / "out", engine="demucs", model="umx", weights_dir=weights)
    (tmp_path / "noise.wav").write_bytes(b"not audio at all" * 100)
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 2)), 8000)
    for unusable in ("noise.wav", "empty.wav"):
        with pytest.raises(InvalidArgument):
            separate_file(tmp_path / unusable, tmp_path / "out", engine="demucs", weights_dir=weights)
