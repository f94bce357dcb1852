"""Separator figures against ground truth made by the procedural engine (its stems are rendered
separately, so every mix has known stems, tempo and key), scored with mir_eval.

- analysis: tempo Acc1 (within 4 % of the truth) and Acc2 (also at double, half, triple or a
  third of it), mir_eval key weighted score, warm seconds per minute of audio;
- DSP separation: median SDR per stem (bss_eval on 10 s excerpts; "other" is chords plus
  melody, compared with the estimate's vocals plus other) and real-time factor;
- Demucs: seconds per minute of audio of a random-weight HTDemucs of the released size (speed
  only; no weights can be downloaded here to measure its quality).
"""

from __future__ import annotations

import statistics
import time

import mir_eval
import numpy as np

from beatflow_audio.analysis import analyse
from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import DspSeparator

SECONDS = 30.0
SET = [
    ("boom bap hip-hop", 90, "A minor"),
    ("lofi chill", 82, "E minor"),
    ("deep house", 124, "F major"),
    ("techno", 130, "D minor"),
    ("upbeat pop", 110, "D major"),
    ("rock anthem", 140, "G major"),
    ("trap", 145, "C minor"),
    ("dnb roller", 172, "A minor"),
    ("ambient", 72, "C major"),
    ("house groove", 122, "B minor"),
    ("pop ballad", 96, "Bb major"),
    ("hip hop", 98, "F# minor"),
]


def _acc(estimate: float, truth: float, factors: tuple[float, ...]) -> bool:
    return any(abs(estimate - truth * factor) <= 0.04 * truth * factor for factor in factors)


def _sdr(truth: dict, estimate: dict, rate: int) -> dict[str, float]:
    excerpt = slice(5 * rate, 15 * rate)
    names = ["drums", "bass", "other"]
    reference = {"drums": truth["drums"], "bass": truth["bass"], "other": truth["chords"] + truth["melody"]}
    estimated = {"drums": estimate["drums"], "bass": estimate["bass"], "other": estimate["other"] + estimate["vocals"]}
    sdr, _, _, _ = mir_eval.separation.bss_eval_sources(
        np.stack([reference[n][excerpt].mean(axis=1) for n in names]),
        np.stack([estimated[n][excerpt].mean(axis=1) for n in names]),
        compute_permutation=False,
    )
    return dict(zip(names, sdr.tolist(), strict=True))


def _demucs_speed() -> float:
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
    return (time.perf_counter() - started) * 6


def run() -> dict[str, float]:
    engine, separator = ProceduralEngine(), DspSeparator()
    acc1, acc2, key_scores, analysis_times, separation_times = [], [], [], [], []
    sdrs: dict[str, list[float]] = {"drums": [], "bass": [], "other": []}
    analyse(np.zeros((44100, 2), dtype=np.float32) + 1e-3, 44100)  # warm-up: numba JIT, filter banks
    for index, (prompt, bpm, key) in enumerate(SET):
        spec = GenerationSpec(
            prompt=prompt,
            bpm=bpm,
            mood="",
            duration_seconds=SECONDS,
            key=Key.parse(key),
            engine="procedural",
            seed=index,
        )
        rendering = engine.render(spec, lambda *_: None)
        mix = rendering.stems["mix"]
        started = time.perf_counter()
        found = analyse(mix, rendering.sample_rate)
        analysis_times.append(time.perf_counter() - started)
        acc1.append(_acc(found.bpm, bpm, (1.0,)))
        acc2.append(_acc(found.bpm, bpm, (1.0, 2.0, 0.5, 3.0, 1 / 3)))
        key_scores.append(mir_eval.key.weighted_score(rendering.key.name, found.key.name))
        started = time.perf_counter()
        separation = separator.separate(mix, rendering.sample_rate, SeparationOptions(), lambda *_: None)
        separation_times.append(time.perf_counter() - started)
        for name, value in _sdr(rendering.stems, separation.stems, rendering.sample_rate).items():
            sdrs[name].append(value)
    minutes = SECONDS / 60
    return {
        "pieces": len(SET),
        "tempo_acc1": round(sum(acc1) / len(acc1), 3),
        "tempo_acc2": round(sum(acc2) / len(acc2), 3),
        "key_weighted_score": round(statistics.mean(key_scores), 3),
        "analysis_s_per_audio_min": round(statistics.median(analysis_times) / minutes, 3),
        "dsp_separation_realtime_factor": round(SECONDS / statistics.median(separation_times), 1),
        "dsp_separation_s_per_audio_min": round(statistics.median(separation_times) / minutes, 2),
        **{f"sdr_db_{name}": round(statistics.median(values), 2) for name, values in sdrs.items()},
        "demucs_random_full_size_s_per_audio_min": round(_demucs_speed(), 1),
    }
