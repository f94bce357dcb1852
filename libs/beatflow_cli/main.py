"""The `beatflow` command."""

from __future__ import annotations

import csv
import getpass
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from beatflow_cli import render
from beatflow_cli.api import EXIT_INVALID, EXIT_JOB_FAILED, Api, CliError
from beatflow_cli.config import Credentials
from beatflow_platform.objectstore import is_blob_id

app = typer.Typer(
    help="BeatFlow: generate, separate, analyse, and keep a Git-like history of your music.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
repo_app = typer.Typer(help="Repositories (projects).", no_args_is_help=True)
app.add_typer(repo_app, name="repo")


class State:
    json: bool = False
    api: str | None = None


state = State()


@app.callback()
def options(
    json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
    api: Annotated[str | None, typer.Option(help="Gateway URL (default: the one you logged in to).")] = None,
) -> None:
    state.json, state.api = json, api


def client() -> Api:
    return Api(Credentials.load(), state.api)


def _blob_for(api: Api, source: str) -> str:
    """A blob id as given, or the blob id of a local file uploaded now."""
    if is_blob_id(source):
        return source
    path = Path(source)
    if not path.is_file():
        raise CliError(f"{source} is neither a blob id nor a file", EXIT_INVALID)
    return api.upload(path)["blob_id"]


def _follow(api: Api, job: dict) -> dict:
    """Shows a live progress bar fed by the WebSocket (quiet with --json); returns the final job."""
    last = job
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        disable=state.json,
        console=render.errors,
    ) as progress:
        task = progress.add_task(job.get("kind", "job"), total=1.0)
        for event in api.watch(job["task_id"]):
            last = event
            stage = event.get("progress", {}).get("stage") or event.get("status")
            progress.update(
                task,
                completed=event.get("progress", {}).get("fraction", 0.0),
                description=f"{event.get('kind', 'job')}: {stage}",
            )
    if last.get("status") != "success":
        error = (last.get("error") or {}) if isinstance(last.get("error"), dict) else {"message": last.get("error")}
        raise CliError(
            f"job {last['task_id']} ended {last.get('status')}: {error.get('message') or ''}", EXIT_JOB_FAILED
        )
    return last


def _artifacts_table(job: dict) -> Table:
    table = Table(title=f"job {job['task_id']}")
    for column in ("stem", "blob id", "seconds", "format"):
        table.add_column(column)
    for artifact in (job.get("result") or {}).get("artifacts", []):
        blob = artifact["blob"]
        table.add_row(
            artifact["name"], blob["blob_id"], f"{blob['audio']['duration_seconds']:.2f}", blob["content_type"]
        )
    return table


def _job_output(api: Api, job: dict, wait: bool) -> None:
    if wait:
        job = _follow(api, job)
        render.emit(job, state.json, _artifacts_table(job))
    else:
        render.emit(job, state.json, f"queued job {job['task_id']}; follow it with: beatflow wait {job['task_id']}")


# ----- account ----------------------------------------------------------------------------


@app.command()
def register(
    username: str,
    email: Annotated[str, typer.Option()],
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Create an account and log in."""
    api = client()
    password = password or getpass.getpass("password: ")
    body = api.json("POST", "/api/auth/register", json={"username": username, "email": email, "password": password})
    _store(api, body)
    render.emit(body["user"], state.json, f"registered and logged in as {username}")


@app.command()
def login(
    username: str, password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None
) -> None:
    """Log in; the tokens are stored in your config directory (mode 0600)."""
    api = client()
    password = password or getpass.getpass("password: ")
    body = api.json("POST", "/api/auth/login", json={"login": username, "password": password})
    _store(api, body)
    render.emit(body["user"], state.json, f"logged in as {body['user']['username']}")


def _store(api: Api, body: dict) -> None:
    credentials = api.credentials
    credentials.api, credentials.username = api.base, body["user"]["username"]
    credentials.access_token = body["tokens"]["access_token"]
    credentials.refresh_token = body["tokens"]["refresh_token"]
    credentials.save()


@app.command()
def logout() -> None:
    """Revoke the stored session and forget it."""
    api = client()
    if api.credentials.refresh_token:
        api.request("POST", "/api/auth/logout", json={"refresh_token": api.credentials.refresh_token})
    Credentials(api=api.base).save()
    render.emit({"logged_out": True}, state.json, "logged out")


@app.command()
def whoami() -> None:
    """The logged-in user."""
    user = client().json("GET", "/api/auth/me")
    render.emit(
        user, state.json, render.key_value_table("you", [(k, user[k]) for k in ("username", "email", "user_id")])
    )


# ----- AI -----------------------------------------------------------------------------------


@app.command()
def generate(
    prompt: Annotated[str | None, typer.Argument(help="What to play, e.g. 'dark lo-fi with piano'")] = None,
    prompt_option: Annotated[str | None, typer.Option("--prompt", help="The prompt, as an option")] = None,
    bpm: Annotated[int, typer.Option(help="60-300; 0 lets the engine choose")] = 0,
    key: Annotated[str, typer.Option(help="e.g. 'A minor', 'D dorian'")] = "",
    mood: str = "neutral",
    duration: Annotated[float, typer.Option(help="seconds")] = 15.0,
    seed: Annotated[int, typer.Option(help="0 draws a random seed (reported)")] = 0,
    engine: str = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
    offline: Annotated[bool, typer.Option(help="Render in this process with the procedural engine.")] = False,
    out: Annotated[Path | None, typer.Option(help="With --offline: the folder for the stems, MIDI and JSON.")] = None,
) -> None:
    """Generate music from a text prompt."""
    text = prompt_option or prompt
    if not text:
        raise CliError("a prompt is needed (as an argument or --prompt)", EXIT_INVALID)
    if offline:
        _generate_offline(text, bpm, key, mood, duration, seed, engine, out)
        return
    api = client()
    job = api.json(
        "POST",
        "/api/ai/generate",
        json={
            "prompt": text,
            "bpm": bpm,
            "key": key,
            "mood": mood,
            "duration": duration,
            "seed": seed,
            "engine": engine,
        },
    )
    _job_output(api, job, wait)


def _generate_offline(
    prompt: str, bpm: int, key: str, mood: str, duration: float, seed: int, engine: str, out: Path | None
) -> None:
    from beatflow_cli.offline import generate_files
    from beatflow_platform.errors import InvalidArgument

    if out is None:
        raise CliError("--offline needs --out DIR", EXIT_INVALID)
    if engine not in ("", "procedural"):
        raise CliError("--offline renders with the procedural engine only", EXIT_INVALID)
    try:
        document = generate_files(prompt=prompt, bpm=bpm, key=key, mood=mood, duration=duration, seed=seed, out=out)
    except InvalidArgument as error:
        raise CliError(error.message, EXIT_INVALID) from None
    reading = document["prompt_reading"]
    rows = [
        ("style", reading.get("style", "")),
        ("bpm", document["bpm"]),
        ("key", document["key"]),
        ("seed", document["seed"]),
        ("stems", ", ".join(document["stems"])),
        ("renderer", document["renderer"]),
        ("not understood", ", ".join(reading.get("unknown_words", [])) or "-"),
        ("written to", str(out)),
    ]
    render.emit(document, state.json, render.key_value_table("generation", rows))


@app.command()
def hum(
    file: Path,
    bpm: int = 0,
    key: str = "",
    duration: float = 15.0,
    engine: str = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
) -> None:
    """Build a beat around a hummed or sung recording."""
    api = client()
    with file.open("rb") as handle:
        job = api.json(
            "POST",
            "/api/ai/hum-to-beat",
            files={"file_upload": (file.name, handle)},
            params={"bpm": bpm, "key": key, "duration": duration, "engine": engine},
        )
    _job_output(api, job, wait)


@app.command()
def separate(
    source: Annotated[str, typer.Argument(help="A file or a blob id")],
    engine: Annotated[str, typer.Option(help="dsp (default, no weights) or demucs")] = "",
    model: Annotated[str, typer.Option(help="A separation model by name, e.g. htdemucs_6s")] = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
    offline: Annotated[bool, typer.Option(help="Separate in this process, with no server (files only).")] = False,
    out: Annotated[Path | None, typer.Option(help="With --offline: the folder for <stem>.wav.")] = None,
    weights: Annotated[Path | None, typer.Option(help="With --offline: the Demucs weights folder.")] = None,
) -> None:
    """Split a track into drums, bass, vocals and other (more with a 6-stem model)."""
    if offline:
        _separate_offline(Path(source), out, engine or "dsp", model, weights)
        return
    api = client()
    job = api.json(
        "POST",
        "/api/ai/separate-stems",
        json={"blob_id": _blob_for(api, source), "engine": engine, "model_name": model},
    )
    _job_output(api, job, wait)


def _separate_offline(mixture: Path, out: Path | None, engine: str, model: str, weights: Path | None) -> None:
    from beatflow_platform.errors import BeatFlowError
    from beatflow_separator.offline import separate_file

    if out is None:
        raise CliError("--offline needs --out DIR", EXIT_INVALID)
    if not mixture.is_file():
        raise CliError(f"{mixture} is not a file", EXIT_INVALID)
    with Progress(disable=state.json, console=render.errors) as progress:
        task = progress.add_task(f"separating {mixture.name}", total=1.0)
        try:
            outcome = separate_file(
                mixture,
                out,
                engine=engine,
                model=model,
                weights_dir=weights,
                progress=lambda fraction, *_: progress.update(task, completed=fraction),
            )
        except BeatFlowError as error:
            raise CliError(error.message, EXIT_INVALID) from None
    document = {
        "engine": engine,
        "model_name": outcome.model_name,
        "sample_rate": outcome.sample_rate,
        "stems": {name: str(path) for name, path in outcome.stems.items()},
        "energy_share": outcome.quality.energy_share,
        "residual_db": outcome.quality.residual_db,
    }
    rows = [
        (name, f"{path}  ({outcome.quality.energy_share[name]:.0%} of the energy)")
        for name, path in outcome.stems.items()
    ]
    rows.append(("residual", f"{outcome.quality.residual_db:.1f} dB"))
    render.emit(document, state.json, render.key_value_table(f"{mixture.name}: {outcome.model_name}", rows))


class AnalysisFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# The CSV's columns: the first three are the contract of batch tagging (`file,bpm,key`).
ANALYSIS_COLUMNS = (
    "file",
    "bpm",
    "key",
    "key_confidence",
    "mode",
    "alternative_bpm",
    "bpm_weight",
    "beats_per_bar",
    "tempo_drifts",
    "tuning_cents",
    "duration",
    "loudness_lufs",
)


def _analysis_row(document: dict) -> dict[str, object]:
    return {
        "file": document["file"],
        "bpm": f"{document['bpm_exact']:.2f}",
        "key": document["key_signature"],
        "key_confidence": f"{document['key_confidence']:.3f}",
        "mode": document["mode_signature"],
        "alternative_bpm": f"{document['alternative_bpm']:.2f}",
        "bpm_weight": f"{document['bpm_weight']:.3f}",
        "beats_per_bar": document["beats_per_bar"],
        "tempo_drifts": str(document["tempo_drifts"]).lower(),
        "tuning_cents": f"{document['tuning_cents']:.1f}",
        "duration": f"{document['duration']:.3f}",
        "loudness_lufs": f"{document['integrated_loudness_lufs']:.2f}",
    }


def _analysis_table(document: dict) -> Table:
    chords = " ".join(chord["label"] for chord in document["chords"][:16])
    rows = [
        ("bpm", f"{document['bpm_exact']:.1f} (or {document['alternative_bpm']:.1f})"),
        ("meter", f"{document['beats_per_bar']} beats per bar"),
        ("key", document["key_signature"]),
        ("key confidence", f"{document['key_confidence']:.2f}"),
        ("mode", document["mode_signature"]),
        ("chords", chords + (" ..." if len(document["chords"]) > 16 else "")),
        ("duration", f"{document['duration']:.2f} s"),
        ("loudness", f"{document['integrated_loudness_lufs']:.1f} LUFS"),
        ("peak", f"{document['peak_dbfs']:.1f} dBFS"),
        ("sample rate", document["audio"]["sample_rate"]),
        ("channels", document["audio"]["channels"]),
    ]
    return render.key_value_table(document["file"], rows)


def _analyse_everywhere(sources: list[str], offline: bool) -> tuple[list[dict], int]:
    """Analysis documents of the sources that could be analysed, and how many failed (each said on stderr)."""
    documents, failed = [], 0
    if offline:
        from beatflow_cli.offline import analyze_file  # loads the audio stack only when asked for
        from beatflow_platform.errors import InvalidArgument

        for source in sources:
            try:
                documents.append(analyze_file(Path(source)))
            except InvalidArgument as error:
                render.errors.print(f"[red]error:[/red] {source}: {error.message}")
                failed += 1
            except OSError as error:
                render.errors.print(f"[red]error:[/red] {source}: {error.strerror or error}")
                failed += 1
        return documents, failed
    api = client()
    for source in sources:
        document = api.json(
            "POST", "/api/ai/analyze-audio", params={"blob_id": _blob_for(api, source), "waveform_points": 100}
        )
        documents.append({"file": Path(source).name, **document})
    return documents, failed


@app.command()
def analyze(
    sources: Annotated[list[str], typer.Argument(help="Files, or blob ids of uploaded files")],
    offline: Annotated[bool, typer.Option(help="Analyse in this process, with no server (files only).")] = False,
    output_format: Annotated[AnalysisFormat, typer.Option("--format", help="How to print the results.")] = (
        AnalysisFormat.table
    ),
) -> None:
    """Tempo, beats, meter, key, chords, loudness and more of tracks; `--offline --format csv` tags a library."""
    documents, failed = _analyse_everywhere(sources, offline)
    if state.json and output_format is AnalysisFormat.table:
        render.emit(documents[0] if len(sources) == 1 and documents else documents, True)
    elif output_format is AnalysisFormat.json:
        render.emit(documents, True)
    elif output_format is AnalysisFormat.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=ANALYSIS_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_analysis_row(document) for document in documents)
    else:
        for document in documents:
            render.emit(document, False, _analysis_table(document))
    if failed:
        raise typer.Exit(code=EXIT_INVALID)


@app.command("wait")
def wait_for(job_id: str) -> None:
    """Follow a job until it ends."""
    api = client()
    job = _follow(api, api.json("GET", f"/api/jobs/{job_id}"))
    render.emit(job, state.json, _artifacts_table(job))


@app.command()
def jobs(limit: Annotated[int, typer.Option(min=1, max=100)] = 20) -> None:
    """Your recent jobs."""
    listed = client().json("GET", "/api/jobs", params={"page_size": limit})["jobs"]
    table = Table(title="jobs")
    for column in ("job id", "kind", "status", "progress"):
        table.add_column(column)
    for job in listed:
        table.add_row(job["task_id"], job["kind"], job["status"], f"{job['progress']['fraction']:.0%}")
    render.emit(listed, state.json, table)


# ----- repositories and history -------------------------------------------------------------


def _repo_table(repos: list[dict]) -> Table:
    table = Table(title="repositories")
    for column in ("id", "name", "owner", "visibility", "default branch"):
        table.add_column(column)
    for repo in repos:
        table.add_row(
            repo["id"],
            repo["name"],
            repo["owner_username"],
            "public" if repo["is_public"] else "private",
            repo["default_branch"],
        )
    return table


@repo_app.command("create")
def repo_create(name: str, public: bool = False, genre: str = "", description: str = "") -> None:
    repo = client().json(
        "POST",
        "/api/repositories/create",
        json={"name": name, "is_public": public, "genre": genre, "description": description},
    )
    render.emit(repo, state.json, _repo_table([repo]))


@repo_app.command("list")
def repo_list(owner: str = "") -> None:
    repos = client().json("GET", "/api/repositories", params={"owner": owner, "page_size": 100})["repositories"]
    render.emit(repos, state.json, _repo_table(repos))


@repo_app.command("show")
def repo_show(repo_id: str) -> None:
    api = client()
    repo = api.json("GET", f"/api/repositories/{repo_id}")
    branches = api.json("GET", f"/api/vcs/repos/{repo_id}/branches")["branches"]
    render.emit(
        {**repo, "branches": branches},
        state.json,
        render.key_value_table(
            repo["name"],
            [
                ("id", repo["id"]),
                ("owner", repo["owner_username"]),
                ("public", repo["is_public"]),
                ("genre", repo["genre"]),
                ("branches", ", ".join(b["name"] for b in branches) or "-"),
                ("forked from", (repo.get("forked_from") or {}).get("repo_id", "-")),
            ],
        ),
    )


def _job_stems(api: Api, job_id: str) -> dict[str, str]:
    """The stems a finished job made (name -> blob id), without its mix."""
    job = api.json("GET", f"/api/jobs/{job_id}")
    return {
        a["name"]: a["blob"]["blob_id"] for a in (job.get("result") or {}).get("artifacts", []) if a["name"] != "mix"
    }


@app.command()
def commit(
    repo_id: str,
    message: Annotated[str, typer.Option("--message", "-m")],
    stem: Annotated[
        list[str] | None, typer.Option(help="Add or replace: NAME=FILE or NAME=BLOB_ID; repeatable")
    ] = None,
    from_job: Annotated[str, typer.Option(help="Add or replace the stems of a finished job")] = "",
    remove: Annotated[list[str] | None, typer.Option(help="Drop this stem of the parent; repeatable")] = None,
    branch: Annotated[str, typer.Option(help="Default: the repository's default branch; a new name creates it")] = "",
    parent: Annotated[str, typer.Option(help="Refuse (conflict) unless the branch head is still this commit")] = "",
    bpm: Annotated[float, typer.Option(help="Default: the parent's")] = 0,
    key: Annotated[str, typer.Option(help="Default: the parent's")] = "",
) -> None:
    """Commit an edit on a branch: the stems given are added or replaced, --remove drops some, and everything
    else (other stems, bpm, key) is the parent's, which is the branch head unless --parent names it."""
    api = client()
    stems = _job_stems(api, from_job) if from_job else {}
    for item in stem or []:
        name, _, source = item.partition("=")
        if not source:
            raise CliError(f"--stem {item!r}: use NAME=FILE or NAME=BLOB_ID", EXIT_INVALID)
        stems[name] = _blob_for(api, source)
    created = api.json(
        "POST",
        f"/api/vcs/commit/{repo_id}",
        json={
            "message": message,
            "branch": branch,
            "parent_commit_id": parent or None,
            "bpm": bpm or None,
            "key_signature": key or None,
            "stems": [{"name": n, "blob_id": b} for n, b in stems.items()],
            "remove_stems": remove or [],
        },
    )
    render.emit(created, state.json, f"[{created['branch']} {created['id'][:10]}] {message}")


@app.command()
def log(repo_id: str, limit: Annotated[int, typer.Option(min=1, max=500)] = 50) -> None:
    """The commit history as a graph."""
    history = client().json("GET", f"/api/vcs/history/{repo_id}", params={"page_size": limit})
    render.emit(history["commits"], state.json, "\n".join(render.graph(history["commits"])) or "(no commits)")


@app.command()
def branch(
    repo_id: str,
    name: Annotated[str, typer.Argument()] = "",
    start: Annotated[str, typer.Option("--from", help="Branch, tag or commit")] = "",
    delete: bool = False,
) -> None:
    """List branches, or create (or --delete) one."""
    api = client()
    if not name:
        branches = api.json("GET", f"/api/vcs/repos/{repo_id}/branches")["branches"]
        lines = [f"{'*' if b['is_default'] else ' '} {b['name']}  {b['commit_id'][:10]}" for b in branches]
        render.emit(branches, state.json, "\n".join(lines) or "(no branches)")
    elif delete:
        api.request("DELETE", f"/api/vcs/repos/{repo_id}/branches/{name}")
        render.emit({"deleted": name}, state.json, f"deleted branch {name}")
    else:
        created = api.json("POST", f"/api/vcs/repos/{repo_id}/branches", json={"name": name, "start_point": start})
        render.emit(created, state.json, f"created branch {name} at {created['commit_id'][:10]}")


def _range_line(changed: dict) -> str:
    kind = changed["kind"].removeprefix("RANGE_KIND_").lower()
    return (
        f"    {kind} {changed['head_start_seconds']:.2f}-{changed['head_end_seconds']:.2f} s"
        f" (base {changed['base_start_seconds']:.2f}-{changed['base_end_seconds']:.2f} s)"
        f" {changed['loudness_change_db']:+.1f} dB"
    )


def _diff_lines(result: dict) -> list[str]:
    signs = {"CHANGE_TYPE_ADDED": "+", "CHANGE_TYPE_REMOVED": "-", "CHANGE_TYPE_MODIFIED": "~"}
    lines = []
    for change in result["stem_changes"]:
        lines.append(f"{signs.get(change['change'], '?')} {change['name']}")
        lines += [_range_line(changed) for changed in change.get("ranges", [])]
        if change.get("audio_compared") and not change.get("ranges"):
            lines.append("    (same audio)")
    lines += [f"~ {m['field']}: {m['old_value']!r} -> {m['new_value']!r}" for m in result["metadata_changes"]]
    return lines


@app.command()
def diff(
    repo_id: str,
    base: str,
    head: Annotated[str, typer.Argument()] = "",
    picture: Annotated[
        Path | None, typer.Option(help="Write PNGs of both waveforms with the changed ranges (PATH, or PATH-stem.png).")
    ] = None,
    stem: Annotated[str, typer.Option(help="With --picture: only this stem.")] = "",
) -> None:
    """What changed between two refs or commits: stems, the time ranges that changed in each, bpm and key."""
    api = client()
    result = api.json("GET", f"/api/vcs/repos/{repo_id}/diff", params={"base": base, "head": head})
    lines = _diff_lines(result)
    if picture is not None:
        modified = [c["name"] for c in result["stem_changes"] if c["change"] == "CHANGE_TYPE_MODIFIED"]
        names = [stem] if stem else modified
        for name in names:
            path = picture if len(names) == 1 else picture.with_name(f"{picture.stem}-{name}{picture.suffix or '.png'}")
            response = api.request(
                "GET",
                f"/api/vcs/repos/{repo_id}/diff/picture",
                params={"base": base, "head": head, "stem": name},
            )
            path.write_bytes(response.content)
            lines.append(f"picture of {name}: {path}")
    render.emit(result, state.json, "\n".join(lines) or "(no changes)")


@app.command()
def merge(
    repo_id: str,
    source: str,
    into: Annotated[str, typer.Option(help="Default: the default branch")] = "",
    ours: Annotated[list[str] | None, typer.Option(help="Keep ours for this stem/field")] = None,
    theirs: Annotated[list[str] | None, typer.Option(help="Take theirs for this stem/field")] = None,
) -> None:
    """Merge a branch (or tag or commit) into a branch."""
    resolutions = [{"name": n, "resolution": "ours"} for n in ours or []] + [
        {"name": n, "resolution": "theirs"} for n in theirs or []
    ]
    result = client().json(
        "POST",
        f"/api/vcs/repos/{repo_id}/merge",
        json={"source": source, "target_branch": into, "resolutions": resolutions},
    )
    outcome = result["outcome"].removeprefix("MERGE_OUTCOME_").lower().replace("_", " ")
    if result["outcome"] == "MERGE_OUTCOME_CONFLICT":
        conflicts = [c["name"] for c in result["conflicts"]] + [c["field"] for c in result["metadata_conflicts"]]
        render.emit(result, state.json, f"conflicts in: {', '.join(conflicts)}; choose with --ours/--theirs NAME")
        raise typer.Exit(code=5)
    render.emit(result, state.json, f"{outcome}: {result['commit']['id'][:10]}")


@app.command()
def fork(repo_id: str, name: str = "") -> None:
    """Fork a repository you can read into your own."""
    repo = client().json("POST", "/api/vcs/fork", json={"original_repo_id": repo_id, "fork_name": name})
    render.emit(repo, state.json, _repo_table([repo]))


@app.command()
def download(
    blob_id: str,
    output: Annotated[Path, typer.Option("--output", "-o")],
    audio_format: Annotated[str, typer.Option("--format", help="wav, flac, mp3 or ogg")] = "",
) -> None:
    """Download a blob; an interrupted download resumes where it stopped."""
    api = client()
    with Progress(disable=state.json, console=render.errors) as progress:
        task = progress.add_task(f"{output.name}", total=None)
        size = api.download(
            blob_id,
            output,
            audio_format=audio_format,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total or None),
        )
    render.emit({"path": str(output), "bytes": size}, state.json, f"saved {output} ({size} bytes)")


def run() -> None:
    try:
        app()
    except CliError as error:
        render.errors.print(f"[red]error:[/red] {error.message}")
        sys.exit(error.exit_code)
