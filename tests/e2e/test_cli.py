"""The `beatflow` command against the running stack, as a user's shell runs it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import soundfile

from tests.e2e.test_musicians_day import track

pytestmark = pytest.mark.slow
BEATFLOW = str(Path(sys.executable).with_name("beatflow"))


class Shell:
    def __init__(self, api: str, config_dir: Path):
        self.api, self.config_dir = api, config_dir

    def run(self, *args: str, expect: int = 0) -> dict | list | str:
        env = {**os.environ, "BEATFLOW_CONFIG_DIR": str(self.config_dir), "COLUMNS": "200"}
        result = subprocess.run(
            [BEATFLOW, "--json", "--api", self.api, *args], capture_output=True, text=True, env=env, timeout=180
        )
        assert result.returncode == expect, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        return json.loads(result.stdout) if expect == 0 and result.stdout.strip() else result.stderr

    def human(self, *args: str) -> str:
        env = {**os.environ, "BEATFLOW_CONFIG_DIR": str(self.config_dir), "COLUMNS": "200"}
        result = subprocess.run(
            [BEATFLOW, "--api", self.api, *args], capture_output=True, text=True, env=env, timeout=180
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def shell(stack, tmp_path) -> Shell:
    return Shell(stack.url("gateway"), tmp_path / "config")


def test_a_session_in_the_terminal(shell: Shell, tmp_path: Path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    shell.run("register", name, "--email", f"{name}@example.com", "--password", "a long password")
    credentials = shell.config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert shell.run("whoami")["username"] == name

    repo = shell.run("repo", "create", "Terminal Tunes", "--genre", "house")
    job = shell.run("generate", "deep house", "--bpm", "124", "--key", "F major", "--duration", "6", "--wait")
    assert job["status"] == "success"
    stems = {a["name"] for a in job["result"]["artifacts"]}
    assert stems == {"drums", "bass", "chords", "melody", "mix"}

    first = shell.run("commit", repo["id"], "-m", "first groove", "--from-job", job["task_id"], "--bpm", "124")
    assert first["branch"] == "main" and {s["name"] for s in first["stems"]} == stems - {"mix"}
    shell.run("branch", repo["id"], "vocals")
    take = tmp_path / "take.wav"
    take.write_bytes(track(seconds=4))
    second = shell.run("commit", repo["id"], "-m", "add a take", "--branch", "vocals", "--stem", f"take={take}")
    assert second["parent_ids"] == [first["id"]]

    diff = shell.run("diff", repo["id"], "main", "vocals")
    assert [(c["name"], c["change"]) for c in diff["stem_changes"]] == [("take", "CHANGE_TYPE_ADDED")]
    merged = shell.run("merge", repo["id"], "vocals")
    assert merged["outcome"] == "MERGE_OUTCOME_FAST_FORWARD"
    graph = shell.human("log", repo["id"])
    assert "* " in graph and "(main, vocals)" in graph and "first groove" in graph

    # Mute the take's last second: the diff names that range and draws it.
    samples, rate = soundfile.read(take)
    samples[-rate:] = 0
    soundfile.write(take, samples, rate)
    third = shell.run("commit", repo["id"], "-m", "end the take early", "--stem", f"take={take}")
    lines = shell.human("diff", repo["id"], second["id"], third["id"], "--picture", str(tmp_path / "take.png"))
    changed = re.search(r"~ take\n +modified ([\d.]+)-([\d.]+) s", lines)
    assert changed and abs(float(changed[1]) - 3) < 0.05 and abs(float(changed[2]) - 4) < 0.05, lines
    assert (tmp_path / "take.png").read_bytes().startswith(b"\x89PNG")

    analysis = shell.run("analyze", str(take))
    assert abs(analysis["bpm"] - 100) <= 2 and analysis["key_signature"] == "E minor"
    table = shell.human("analyze", str(take))
    assert "E minor" in table and "LUFS" in table

    # A download that was cut short resumes with a Range request.
    bass = next(a["blob"] for a in job["result"]["artifacts"] if a["name"] == "bass")
    target = tmp_path / "bass.flac"
    target.write_bytes(b"")
    full = shell.run("download", bass["blob_id"], "-o", str(target))
    content = target.read_bytes()
    assert full["bytes"] == int(bass["size_bytes"]) == len(content)  # int64 is a string in proto JSON
    target.write_bytes(content[:1000])
    resumed = shell.run("download", bass["blob_id"], "-o", str(target))
    assert resumed["bytes"] == len(content) and target.read_bytes() == content

    listed = shell.run("repo", "list", "--owner", name)  # without --owner: public ones of others too
    assert [r["id"] for r in listed] == [repo["id"]]


def test_commits_are_edits_from_the_terminal(shell: Shell, tmp_path: Path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    shell.run("register", name, "--email", f"{name}@example.com", "--password", "a long password")
    repo = shell.run("repo", "create", "Edits", "--public")
    takes = {}
    for index, stem in enumerate(("drums", "bass", "keys")):
        takes[stem] = tmp_path / f"{stem}.wav"
        takes[stem].write_bytes(track(seconds=1 + index))
    first = shell.run(
        "commit", repo["id"], "-m", "groove", "--stem", f"drums={takes['drums']}", "--stem", f"bass={takes['bass']}",
        "--bpm", "90", "--key", "A minor",
    )  # fmt: skip
    keys = shell.run("commit", repo["id"], "-m", "keys", "--stem", f"keys={takes['keys']}")
    assert keys["parent_ids"] == [first["id"]] and {s["name"] for s in keys["stems"]} == {"drums", "bass", "keys"}
    assert (keys["bpm"], keys["key_signature"]) == (90, "A minor"), "inherited, not sent again"
    no_bass = shell.run("commit", repo["id"], "-m", "no bass", "--remove", "bass")
    assert {s["name"] for s in no_bass["stems"]} == {"drums", "keys"}
    assert "'bass'" in shell.run("commit", repo["id"], "-m", "again", "--remove", "bass", expect=6)
    stale = shell.run("commit", repo["id"], "-m", "late", "--parent", first["id"], expect=5)
    assert no_bass["id"] in stale, "the conflict names the head to build on"
    # Someone who never logged in reads the public repository, and nothing private.
    nobody = Shell(shell.api, tmp_path / "nobody")
    assert [c["id"] for c in nobody.run("log", repo["id"])][:2] == [no_bass["id"], keys["id"]]
    private = shell.run("repo", "create", "Secret")
    assert "NOT_FOUND" in nobody.run("log", private["id"], expect=3)


def test_exit_codes_scripts_can_trust(shell: Shell):
    assert "UNAUTHENTICATED" in shell.run("repo", "list", expect=4)
    name = f"cli-{uuid.uuid4().hex[:6]}"
    shell.run("register", name, "--email", f"{name}@example.com", "--password", "a long password")
    assert "NOT_FOUND" in shell.run("repo", "show", str(uuid.uuid4()), expect=3)
    shell.run("repo", "create", "Twice")
    assert "ALREADY_EXISTS" in shell.run("repo", "create", "Twice", expect=5)
    assert "INVALID_ARGUMENT" in shell.run("generate", "x", "--bpm", "999", expect=6)
    assert "neither a blob id nor a file" in shell.run("analyze", "/no/such/file.wav", expect=6)
    unreachable = Shell("http://127.0.0.1:9", shell.config_dir)
    assert "cannot reach" in unreachable.run("whoami", expect=7)


def test_hum_separate_and_fork_from_the_terminal(shell: Shell, tmp_path: Path):
    from tests.generator.test_hum import TUNE, sung

    owner = f"cli-{uuid.uuid4().hex[:6]}"
    shell.run("register", owner, "--email", f"{owner}@example.com", "--password", "a long password")
    hum = tmp_path / "hum.wav"
    hum.write_bytes(sung(TUNE, 0.5))
    beat = shell.run("hum", str(hum), "--bpm", "120", "--key", "C major", "--duration", "6", "--wait")
    assert beat["status"] == "success" and beat["kind"] == "generator.hum_to_beat"
    song = tmp_path / "song.wav"
    song.write_bytes(track(seconds=4))
    stems = shell.run("separate", str(song), "--wait")
    assert {a["name"] for a in stems["result"]["artifacts"]} == {"drums", "bass", "vocals", "other"}

    repo = shell.run("repo", "create", "Hummed", "--public")
    shell.run("commit", repo["id"], "-m", "from a hum", "--from-job", beat["task_id"])
    fan = Shell(shell.api, tmp_path / "fan-config")
    name = f"fan-{uuid.uuid4().hex[:6]}"
    fan.run("register", name, "--email", f"{name}@example.com", "--password", "a long password")
    fork = fan.run("fork", repo["id"], "--name", "Hummed remix")
    shown = fan.run("repo", "show", fork["id"])
    assert shown["forked_from"]["repo_id"] == repo["id"] and [b["name"] for b in shown["branches"]] == ["main"]
