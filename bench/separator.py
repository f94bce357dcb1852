"""Separator figures: SDR on multitracks the project did not make, with the naive anchors in the
same run, and speed.

- Rendered multitracks (`bench.corpus.multitrack`: music21 scores and bench-written drums, every
  stem rendered on its own with FluidSynth): the test half, scored with museval (BSS Eval v4, 1 s
  frames; median over frames, then median over excerpts per stem). Anchors: the mixture as every
  stem (`mixture_sdr_db_<stem>`, doing nothing) and plain librosa HPSS with its defaults, its
  percussive part as drums (`hpss_sdr_db_drums`).
- Real voices: the test half of `multitrack.real_voice_excerpts` (recorded speakers from Debian's
  `ktuberling-data` over rendered accompaniments), same scores, named `real_voice_*`.
- The one real multitrack that ships in a PyPI package: stempeg's MUSDB18 excerpt (The Easton
  Ellises - Falcon 69, 6 s, AAC), same scores, named `musdb_sample_*` (one excerpt: a sanity check
  on real music, not a figure to tune on).
- Before: the DSP engine as it was at BEFORE_REVISION (its modules read with `git show`, imported from a
  scratch package) on the same three sets, named `before_*`, so a gain is measured in the same run; and
  the engine issue 13 was filed against (FILED_REVISION, whose figures on held-out recordings the issue
  quotes), named `filed_*`.
- Speed: DSP real-time factor on a 30 s excerpt; Demucs seconds per minute of audio for a
  random-weight HTDemucs of the released size (no weights can be downloaded here to score it).
- Memory: peak RSS of a DSP separation through the service's pipeline
  (`beatflow_separator.offline.separate_file`: the mixture streamed block by block from a scratch
  file, stems written as they come) on a 10-minute over a 1-minute synthesised mixture, each in its
  own process (`dsp_peak_rss_*`).
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import librosa
import museval
import numpy as np
import stempeg

from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import DspSeparator
from bench._memory import peak_rss_mb
from bench.corpus import multitrack

STEMS = multitrack.STEMS
# Scoring runs in this many processes (museval spends seconds per stem and excerpt).
SCORING_WORKERS = 2
SPEED_SECONDS = 30.0
# The engine before the lead voice's cues were weighed as evidence (issue 13, third round).
BEFORE_REVISION = "e765750ccdaa9e1e7d706165959f9687f7f973dc"
# The engine issue 13 was filed against: its targets are "every stem at least 1 dB above" that engine's figures.
FILED_REVISION = "ca552ccba620f1553b1846f6ab26f5f2bf9ece52"
ENGINE_MODULES = ("dsp", "dsp_blocks", "dsp_masks")
ENGINE_PACKAGE = "services/separator/beatflow_separator/engines"

Separate = Callable[[np.ndarray, int], dict[str, np.ndarray]]


def _sdr(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """museval's BSS Eval v4 SDR of one stereo stem, median over 1 s frames (silent frames skipped).
    SDR v4 depends on the stem's own reference only, so stems are scored one at a time."""
    sdr, _, _, _ = museval.evaluate(reference[None], estimate[None], win=rate, hop=rate)
    return float(np.nanmedian(sdr))


def _dsp(mixture: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    return DspSeparator().separate(mixture, rate, SeparationOptions(), lambda *_: None).stems


def engine_at(revision: str, scratch: Path) -> Separate:
    """The DSP engine's separation as of a git revision: its modules written under `scratch` as a
    package of their own (the rest, `base`, from the working tree)."""
    package = f"beatflow_dsp_{revision}"
    (scratch / package).mkdir(parents=True, exist_ok=True)
    (scratch / package / "__init__.py").write_text("")
    for module in ENGINE_MODULES:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{ENGINE_PACKAGE}/{module}.py"], capture_output=True, text=True
        )
        if shown.returncode != 0:  # an earlier engine held fewer modules
            continue
        source = shown.stdout.replace("from beatflow_separator.engines import dsp", f"from {package} import dsp")
        (scratch / package / f"{module}.py").write_text(source)
    sys.path.insert(0, str(scratch))
    engine = importlib.import_module(f"{package}.dsp")
    return lambda mixture, rate: (
        engine.DspSeparator().separate(mixture, rate, SeparationOptions(), lambda *_: None).stems
    )


def _hpss_drums(mixture: np.ndarray) -> np.ndarray:
    return np.stack([librosa.effects.percussive(mixture[:, c]) for c in range(mixture.shape[1])], axis=1)


Example = tuple[int, dict[str, np.ndarray], np.ndarray]  # (rate, reference stems, mixture)


def _score(examples: list[Example], prefix: str, earlier: dict[str, Separate]) -> dict[str, float]:
    """Figures for the examples: the DSP engine, the earlier engines (by figure prefix), plain HPSS and doing
    nothing, each the median over the examples."""
    jobs: list[tuple[str, np.ndarray, np.ndarray, int]] = []  # (figure, reference, estimate, rate)
    for rate, stems, mixture in examples:
        separated = _dsp(mixture, rate)
        jobs += [(f"{prefix}sdr_db_{stem}", stems[stem], separated[stem], rate) for stem in STEMS]
        for name, separate in earlier.items():
            theirs = separate(mixture, rate)
            jobs += [(f"{name}_{prefix}sdr_db_{stem}", stems[stem], theirs[stem], rate) for stem in STEMS]
        jobs.append((f"{prefix}hpss_sdr_db_drums", stems["drums"], _hpss_drums(mixture), rate))
        jobs += [(f"{prefix}mixture_sdr_db_{stem}", stems[stem], mixture, rate) for stem in STEMS]
    figures, references, estimates, rates = zip(*jobs, strict=True)
    with ProcessPoolExecutor(SCORING_WORKERS) as pool:
        scores = list(pool.map(_sdr, references, estimates, rates))
    values: dict[str, list[float]] = {}
    for figure, score in zip(figures, scores, strict=True):
        values.setdefault(figure, []).append(score)
    return {figure: round(statistics.median(found), 2) for figure, found in values.items()}


def rendered_quality(earlier: dict[str, Separate]) -> dict[str, float]:
    excerpts = multitrack.excerpts("test")
    examples = [(e.rate, e.stems, e.mixture) for e in excerpts]
    return {"rendered_excerpts": len(excerpts), **_score(examples, "", earlier)}


def real_voice_quality(earlier: dict[str, Separate]) -> dict[str, float]:
    excerpts = multitrack.real_voice_excerpts("test")
    examples = [(e.rate, e.stems, e.mixture) for e in excerpts]
    return {"real_voice_excerpts": len(excerpts), **_score(examples, "real_voice_", earlier)}


def musdb_sample_quality(earlier: dict[str, Separate]) -> dict[str, float]:
    """stempeg's sample (installed with museval -> musdb -> stempeg): drums, bass, other, vocals
    streams; the mixture is their sum (the shipped mix stream is mastered separately)."""
    streams, rate = stempeg.read_stems(stempeg.example_stem_path())
    stems = {
        name: streams[index].astype(np.float32) for index, name in enumerate(("drums", "bass", "other", "vocals"), 1)
    }
    mixture = sum(stems.values())
    return _score([(int(rate), stems, mixture)], "musdb_sample_", earlier)


def dsp_speed() -> dict[str, float]:
    """Real-time factor of the DSP engine on the first SPEED_SECONDS of the test excerpts joined,
    median of three runs, with the machine's 1-minute load average at the end (noisy on shared
    machines: compare within one run)."""
    excerpts = multitrack.excerpts("test")
    rate = excerpts[0].rate
    audio = np.concatenate([e.mixture for e in excerpts])[: int(SPEED_SECONDS * rate)]
    _dsp(audio[: rate * 2], rate)  # warm-up
    times = []
    for _ in range(3):
        started = time.perf_counter()
        _dsp(audio, rate)
        times.append(time.perf_counter() - started)
    return {
        "dsp_separation_realtime_factor": round(SPEED_SECONDS / statistics.median(times), 1),
        "dsp_speed_load_average_1min": round(os.getloadavg()[0], 2),
    }


def demucs_speed() -> dict[str, float]:
    import torch
    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"]).eval()
    mix = torch.randn(1, 2, 44100 * 10) * 0.1
    with torch.inference_mode():
        apply_model(model, mix[..., : 44100 * 8], split=True, overlap=0.25)  # warm-up
        started = time.perf_counter()
        apply_model(model, mix, split=True, overlap=0.25)
    return {"demucs_random_full_size_s_per_audio_min": round((time.perf_counter() - started) * 6, 1)}


def _child_peak_rss(mixture: Path, out_dir: Path) -> None:
    """Runs in its own process: separates `mixture` into `out_dir` as the service does, then prints its peak RSS."""
    from beatflow_separator.offline import separate_file

    out_dir.mkdir(parents=True, exist_ok=True)
    separate_file(mixture, out_dir, engine="dsp")
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def dsp_memory() -> dict[str, float]:
    from bench.demucs import write_mixture  # the Demucs bench's synthesised mixture (it imports the service stack)

    figures = {}
    with tempfile.TemporaryDirectory(prefix="beatflow-bench-dsp-") as scratch:
        work = Path(scratch)
        for minutes in (1, 10):
            write_mixture(work / f"mix_{minutes}min.flac", 60.0 * minutes)
        peaks = {}
        for minutes in (1, 10):
            command = [sys.executable, "-m", "bench.separator", "peak-rss", str(work / f"mix_{minutes}min.flac")]
            output = subprocess.run([*command, str(work / f"stems_{minutes}")], check=True, capture_output=True)
            peaks[minutes] = json.loads(output.stdout.decode().strip().splitlines()[-1])["peak_rss_mb"]
        figures |= {
            "dsp_peak_rss_mb_1min": round(peaks[1], 1),
            "dsp_peak_rss_mb_10min": round(peaks[10], 1),
            "dsp_peak_rss_10min_over_1min": round(peaks[10] / peaks[1], 3),
        }
    return figures


def quality() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="beatflow-bench-before-") as scratch:
        earlier = {
            "before": engine_at(BEFORE_REVISION, Path(scratch)),
            "filed": engine_at(FILED_REVISION, Path(scratch)),
        }
        return {**rendered_quality(earlier), **real_voice_quality(earlier), **musdb_sample_quality(earlier)}


def run() -> dict[str, float]:
    return {**dsp_speed(), **quality(), **dsp_memory(), **demucs_speed()}


if __name__ == "__main__":
    if sys.argv[1:2] == ["peak-rss"]:
        _child_peak_rss(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit("run the area with: python -m bench separator")
