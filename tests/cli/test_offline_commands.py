"""`beatflow ... --offline`: the services' code run in the user's process, as a shell runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pretty_midi
import soundfile

from tests.analysis.music import RATE, render, triad

BEATFLOW = str(Path(sys.executable).with_name("beatflow"))


def beatflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BEATFLOW, *args], capture_output=True, text=True, timeout=300)


def test_generate_offline_writes_stems_midi_and_how_the_prompt_was_read(tmp_path: Path):
    prompt = "dark reggae skank with organ, no drums, wobbly"
    first, again = tmp_path / "first", tmp_path / "again"
    for out in (first, again):
        ran = beatflow(
            "--json", "generate", "--offline", "--prompt", prompt, "--key", "D dorian", "--duration", "6",
            "--seed", "7", "--out", str(out),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    document = json.loads((first / "generation.json").read_text())
    assert document == json.loads(ran.stdout)
    assert document["key"] == "D dorian" and document["seed"] == 7 and document["engine"] == "procedural"
    reading = document["prompt_reading"]
    assert reading["style"] == "reggae" and "wobbly" in reading["unknown_words"]
    assert "drums" not in document["stems"] and "organ" in document["stems"]
    for stem in document["stems"]:
        assert (first / f"{stem}.wav").read_bytes() == (again / f"{stem}.wav").read_bytes()
        assert pretty_midi.PrettyMIDI(str(first / f"{stem}.mid")).instruments[0].notes
    mix, rate = soundfile.read(first / "mix.wav")
    assert rate == 44100 and abs(len(mix) / rate - 6) < 0.01


def test_generate_offline_draws_and_reports_a_seed_and_refuses_bad_requests(tmp_path: Path):
    ran = beatflow("--json", "generate", "--offline", "ambient", "--duration", "5", "--out", str(tmp_path / "a"))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["seed"] > 0
    bad = beatflow("generate", "--offline", "ambient", "--bpm", "5", "--out", str(tmp_path / "b"))
    assert bad.returncode == 6 and "bpm" in bad.stderr and not (tmp_path / "b").exists()
    no_out = beatflow("generate", "--offline", "ambient")
    assert no_out.returncode == 6 and "--out" in no_out.stderr


def test_generate_offline_continues_repaints_redoes_and_loops_an_earlier_folder(tmp_path: Path):
    first = tmp_path / "first"
    ran = beatflow(
        "--json", "generate", "--offline", "lofi hip hop with piano", "--bpm", "160", "--key", "A minor",
        "--duration", "6", "--seed", "3", "--out", str(first),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    source, source_rate = soundfile.read(first / "mix.wav", dtype="int16")

    def operation(name: str, *options: str, source: Path = first) -> tuple[dict, object]:
        done = beatflow(
            "--json", "generate", "--offline", "--from", str(source), *options, "--out", str(tmp_path / name)
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), soundfile.read(tmp_path / name / "mix.wav", dtype="int16")[0]

    continued, mix = operation("continued", "--continue-bars", "2", "--seed", "9")
    assert continued["duration_seconds"] == 9.0 and continued["report"]["join_seconds"] == 6.0
    assert continued["spec"]["source"] == json.loads((first / "generation.json").read_text())["spec"]
    fade = round(0.05 * source_rate)
    assert (mix[: len(source) - fade] == source[: len(source) - fade]).all()
    repainted, mix = operation("repainted", "--repaint", "1.6:2.9", "--seed", "9")
    assert (repainted["report"]["start_seconds"], repainted["report"]["end_seconds"]) == (1.5, 3.0)
    assert (mix[: round(1.5 * source_rate)] == source[: round(1.5 * source_rate)]).all()
    assert (mix[round(3.0 * source_rate) :] == source[round(3.0 * source_rate) :]).all()
    redone, _ = operation("redone", "--redo-stem", "bass")
    assert redone["report"]["stem"] == "bass" and redone["seed"] > 0
    for stem in ("drums", "chords", "melody"):
        assert (tmp_path / "redone" / f"{stem}.wav").read_bytes() == (first / f"{stem}.wav").read_bytes()
    looped, mix = operation("looped", "--loop-bars", "2")
    assert len(mix) == round(3.0 * source_rate) and looped["report"]["seam_discontinuity"]["sample_step_ratio"] < 3
    chained, mix = operation("chained", "--repaint", "7:8", source=tmp_path / "continued")  # on a result
    assert (chained["report"]["start_seconds"], chained["report"]["end_seconds"]) == (6.0, 9.0)
    continued_mix = soundfile.read(tmp_path / "continued" / "mix.wav", dtype="int16")[0]
    assert (mix[: round(6.0 * source_rate)] == continued_mix[: round(6.0 * source_rate)]).all()
    missing = beatflow(
        "generate", "--offline", "--from", str(tmp_path), "--continue-bars", "2", "--out", str(tmp_path / "y")
    )
    assert missing.returncode == 6 and "generation.json" in missing.stderr


def test_separate_offline_writes_stems_that_sum_to_the_mixture(tmp_path: Path):
    audio, _ = render([triad(57, minor=True), triad(53), triad(48), triad(55)], [69, 72, 76, 74] * 4, bpm=120)
    mixture = tmp_path / "song.wav"
    soundfile.write(mixture, audio, RATE, subtype="FLOAT")
    ran = beatflow("--json", "separate", "--offline", str(mixture), "--out", str(tmp_path / "stems"))
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert set(document["stems"]) == {"vocals", "drums", "bass", "other"} and document["model_name"] == "dsp"
    total = sum(soundfile.read(path, always_2d=True)[0] for path in document["stems"].values())
    assert abs(total[:, 0] - audio).max() < 1e-3, "the stems sum back to the mixture"
    assert sum(document["energy_share"].values()) > 0.5 and document["residual_db"] < -40

    unknown = beatflow("separate", "--offline", str(mixture), "--out", str(tmp_path / "x"), "--engine", "magic")
    assert unknown.returncode == 6 and "dsp" in unknown.stderr
