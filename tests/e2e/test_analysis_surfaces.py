"""One analysis everywhere: the REST call, the analysis job and `beatflow analyze --offline` return
the same document for the same file (rendered with FluidSynth, not by the project's generator)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
from pathlib import Path

import pretty_midi
import pytest
import soundfile

from beatflow_audio import soundfont
from tests.cli.test_offline_commands import beatflow
from tests.e2e.conftest import Api

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup"),
]


def waltz(path: Path) -> Path:
    """Twelve bars of a D minor waltz at 150 bpm: bass on one, chords on two and three."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=150)
    piano = pretty_midi.Instrument(program=0)
    beat = 60 / 150
    progression = [(50, (53, 57, 62)), (43, (55, 58, 62)), (45, (52, 57, 61)), (50, (53, 57, 62))]
    for bar in range(12):
        root, chord = progression[bar % 4]
        start = bar * 3 * beat
        piano.notes.append(pretty_midi.Note(velocity=100, pitch=root - 12, start=start, end=start + beat * 0.9))
        for offset in (1, 2):
            piano.notes += [
                pretty_midi.Note(velocity=70, pitch=p, start=start + offset * beat, end=start + (offset + 0.8) * beat)
                for p in chord
            ]
    midi.instruments.append(piano)
    soundfile.write(path, soundfont.render(midi), 44100)
    return path


def offline(*args: str) -> subprocess.CompletedProcess:
    return beatflow("analyze", "--offline", *args)


async def test_rest_job_and_offline_command_return_the_same_analysis(api: Api, tmp_path: Path):
    alice = await api.user("alice")
    piece = waltz(tmp_path / "waltz.wav")
    upload = await api.client.post(
        "/api/audio/upload", files={"file": ("waltz.wav", piece.read_bytes(), "audio/wav")}, headers=alice.headers
    )
    blob_id = upload.json()["blob_id"]

    rest = (
        await api.client.post(
            "/api/ai/analyze-audio", params={"blob_id": blob_id, "waveform_points": 100}, headers=alice.headers
        )
    ).json()
    assert rest["key_signature"] == "D minor" and rest["beats_per_bar"] == 3
    assert abs(rest["bpm_exact"] - 150) / 150 < 0.04
    assert rest["chords"] and rest["downbeat_times_seconds"]

    queued = await api.client.post(
        "/api/ai/analysis-jobs", json={"blob_id": blob_id, "waveform_points": 100}, headers=alice.headers
    )
    assert queued.status_code == 202, queued.text
    for _ in range(120):
        job = (await api.client.get(f"/api/ai/status/{queued.json()['task_id']}", headers=alice.headers)).json()
        if job["status"] in ("success", "failure"):
            break
        await asyncio.sleep(0.5)
    assert job["status"] == "success", job
    detail = {k: v for k, v in job["result"]["detail"].items() if k != "@type"}
    assert detail == {k: v for k, v in rest.items() if k in detail} and len(detail) >= 18

    ran = offline(str(piece), "--format", "json")
    assert ran.returncode == 0, ran.stderr
    (document,) = json.loads(ran.stdout)
    assert document == {"file": "waltz.wav", **rest}


def test_offline_csv_tags_a_library_and_names_files_it_cannot_read(tmp_path: Path):
    piece = waltz(tmp_path / "waltz.wav")
    broken = tmp_path / "notes.wav"
    broken.write_text("not audio")
    ran = offline(str(piece), str(broken), "--format", "csv")
    assert ran.returncode == 6 and "notes.wav" in ran.stderr
    rows = list(csv.reader(io.StringIO(ran.stdout)))
    assert rows[0][:3] == ["file", "bpm", "key"]
    assert rows[1][0] == "waltz.wav" and rows[1][2] == "D minor" and len(rows) == 2
