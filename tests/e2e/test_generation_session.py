"""A musician's session from the terminal against the running stack: generate into a repository,
continue, repaint, redo the bass, loop, export MIDI and re-render (docs/generator.md shows one run)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pretty_midi
import pytest

from tests.e2e.test_cli import Shell

pytestmark = pytest.mark.slow


@pytest.fixture
def shell(stack, tmp_path) -> Shell:
    return Shell(stack.url("gateway"), tmp_path / "config")


def landed(job: dict) -> dict:
    assert job["status"] == "success", job
    return job["result"]["detail"]


def stems(detail: dict) -> dict[str, str]:
    return {s["name"]: s["blob"]["blob_id"] for s in detail["stems"] if s["name"] != "mix"}


def test_a_generation_session_in_the_terminal(shell: Shell, tmp_path: Path):
    name = f"session-{uuid.uuid4().hex[:6]}"
    shell.run("register", name, "--email", f"{name}@example.com", "--password", "a long password")
    repo = shell.run("repo", "create", "Session")["id"]
    on = ("--repo", repo, "--wait")

    first = landed(
        shell.run("generate", "lofi hip-hop with piano", "--bpm", "84", "--key", "A minor", "--duration", "12", *on)
    )
    assert first["branch"] == "main" and first["seed"] != "0"
    longer = landed(shell.run("generate", "--commit", first["commit_id"], "--continue-bars", "4", *on))
    repainted = landed(shell.run("generate", "--commit", longer["commit_id"], "--repaint", "4:8", *on))
    bass = landed(shell.run("generate", "--commit", repainted["commit_id"], "--redo-stem", "bass", *on))
    loop = landed(shell.run("generate", "--commit", bass["commit_id"], "--loop-bars", "4", "--branch", "loop", *on))
    assert loop["branch"] == "loop"

    assert {n for n, blob in stems(bass).items() if stems(repainted)[n] != blob} == {"bass"}
    diff = shell.run("diff", repo, first["commit_id"], longer["commit_id"])
    assert {c["name"] for c in diff["stem_changes"]} == set(stems(first))

    melody = next(m["blob"] for m in bass["midi"] if m["name"] == "melody")
    midi_file = tmp_path / "melody.mid"
    shell.run("download", melody["blob_id"], "-o", str(midi_file))
    notes = pretty_midi.PrettyMIDI(io.BytesIO(midi_file.read_bytes())).instruments[0].notes
    assert notes

    again = landed(shell.run("rerender", repo, bass["commit_id"], "--wait"))
    assert stems(again) == stems(bass) and again["commit_id"] == ""

    seconds = {
        label: next(s["blob"]["audio"]["duration_seconds"] for s in detail["stems"] if s["name"] == "mix")
        for label, detail in (("generated", first), ("continued", longer), ("loop", loop))
    }
    # The figures docs/generator.md quotes ("A musician's session"); shown with `pytest -s`.
    print(
        json.dumps(
            {
                "seconds": seconds,
                "bpm": first["bpm"],
                "seed": first["seed"],
                "repaint": repainted.get("operation_report"),
                "loop": loop.get("operation_report"),
                "melody_notes": len(notes),
            }
        )
    )
