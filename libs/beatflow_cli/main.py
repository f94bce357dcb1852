"""The `beatflow` command."""

from __future__ import annotations

import csv
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from beatflow_sdk.ids import is_sha256_id
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from beatflow_cli import render
from beatflow_cli.api import EXIT_INVALID, EXIT_JOB_FAILED, Api, CliError
from beatflow_cli.config import Credentials

app = typer.Typer(
    help="BeatFlow: generate, separate, analyse, and keep a Git-like history of your music.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
repo_app = typer.Typer(help="Repositories (projects).", no_args_is_help=True)
app.add_typer(repo_app, name="repo")
comment_app = typer.Typer(help="Comments on moments of a commit.", no_args_is_help=True)
app.add_typer(comment_app, name="comment")


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


@contextmanager
def _full_install() -> Iterator[None]:
    """--offline runs the engines in this process; the beatflow-client package alone has none."""
    try:
        yield
    except ModuleNotFoundError as missing:
        raise CliError(
            f"--offline needs the full BeatFlow install (module {missing.name} is missing); "
            "the beatflow-client package only talks to a server",
            EXIT_INVALID,
        ) from None


def _blob_for(api: Api, source: str) -> str:
    """A blob id as given, or the blob id of a local file uploaded now."""
    if is_sha256_id(source):
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
    body = api.json("POST", "/api/auth/login", json={"username": username, "password": password})
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
    repo: Annotated[str, typer.Option(help="Land the result in this repository (id) as a commit.")] = "",
    branch: Annotated[str, typer.Option(help="With --repo: the branch (default: the repository's).")] = "",
    commit: Annotated[str, typer.Option(help="With --repo: the source commit of an operation.")] = "",
    continue_bars: Annotated[int, typer.Option(help="Extend --commit by this many bars.")] = 0,
    repaint: Annotated[str, typer.Option(help="Regenerate START:END seconds of --commit.")] = "",
    redo_stem: Annotated[str, typer.Option(help="Regenerate this stem of --commit, the others kept.")] = "",
    loop_bars: Annotated[int, typer.Option(help="A seamless loop this many bars long (of --commit or new).")] = 0,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="With --offline: the earlier --out folder an operation works on.")
    ] = None,
) -> None:
    """Generate music from a text prompt, or continue, repaint, redo a stem of or loop a generated commit."""
    text = prompt_option or prompt
    operation = _operation(continue_bars, repaint, redo_stem, loop_bars)
    if not text and not (operation and (commit or from_dir)):
        raise CliError("a prompt is needed (as an argument or --prompt)", EXIT_INVALID)
    if offline:
        if repo or commit:
            raise CliError("--repo and --commit are the service's; with --offline use --from DIR", EXIT_INVALID)
        _generate_offline(text or "", bpm, key, mood, duration, seed, engine, out, operation, from_dir)
        return
    body = {"prompt": text or "", "bpm": bpm, "key": key, "mood": mood, "duration": duration, "seed": seed}
    body |= {"engine": engine, "repo_id": repo or None, "commit_id": commit or None, "branch": branch}
    if operation:
        body["operation"] = operation
    api = client()
    _generation_output(api, api.json("POST", "/api/ai/generate", json=body), wait)


def _operation(continue_bars: int, repaint: str, redo_stem: str, loop_bars: int) -> dict | None:
    """The one operation the options ask for, as the REST body's `operation`."""
    asked = []
    if continue_bars:
        asked.append({"kind": "continue", "bars": continue_bars})
    if repaint:
        start, _, end = repaint.partition(":")
        try:
            asked.append({"kind": "repaint", "start_seconds": float(start), "end_seconds": float(end)})
        except ValueError:
            raise CliError(f"--repaint {repaint!r}: write START:END in seconds, e.g. 8:16", EXIT_INVALID) from None
    if redo_stem:
        asked.append({"kind": "redo_stem", "stem": redo_stem})
    if loop_bars:
        asked.append({"kind": "loop", "bars": loop_bars})
    if len(asked) > 1:
        raise CliError("ask for one of --continue-bars, --repaint, --redo-stem, --loop-bars", EXIT_INVALID)
    return asked[0] if asked else None


def _generation_output(api: Api, job: dict, wait: bool) -> None:
    """A generation's stems, then its MIDI files and the commit it landed as."""
    if not wait:
        _job_output(api, job, wait)
        return
    job = _follow(api, job)
    detail = (job.get("result") or {}).get("detail") or {}
    table = _artifacts_table(job)
    for midi in detail.get("midi", []):
        table.add_row(f"{midi['name']}.mid", midi["blob"]["blob_id"], "-", midi["blob"]["content_type"])
    if detail.get("commit_id"):
        table.caption = f"landed as commit {detail['commit_id']} on {detail['branch']} (seed {detail['seed']})"
    render.emit(job, state.json, table)


@app.command()
def rerender(
    repo_id: str,
    commit_id: str,
    branch: Annotated[str, typer.Option(help="Land the result on this branch; default: only a job.")] = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
) -> None:
    """Render a generated commit again from its provenance (engine, seed, every parameter)."""
    api = client()
    job = api.json("POST", "/api/ai/rerender", json={"repo_id": repo_id, "commit_id": commit_id, "branch": branch})
    _generation_output(api, job, wait)


def _generate_offline(
    prompt: str,
    bpm: int,
    key: str,
    mood: str,
    duration: float,
    seed: int,
    engine: str,
    out: Path | None,
    operation: dict | None,
    source: Path | None,
) -> None:
    with _full_install():
        from beatflow_cli.offline import generate_files
        from beatflow_platform.errors import InvalidArgument

    if out is None:
        raise CliError("--offline needs --out DIR", EXIT_INVALID)
    if engine not in ("", "procedural"):
        raise CliError("--offline renders with the procedural engine only", EXIT_INVALID)
    try:
        document = generate_files(
            prompt=prompt,
            bpm=bpm,
            key=key,
            mood=mood,
            duration=duration,
            seed=seed,
            out=out,
            operation=operation,
            source=source,
        )
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
        ("duration", f"{document['duration_seconds']:g} s"),
        *((name, str(value)) for name, value in document["report"].items()),
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
    repo: Annotated[str, typer.Option(help="Land the beat in this repository (id) as a commit.")] = "",
    branch: Annotated[str, typer.Option(help="With --repo: the branch (default: the repository's).")] = "",
) -> None:
    """Build a beat around a hummed or sung recording (the sung notes come back as hum.mid too)."""
    api = client()
    params = {"bpm": bpm, "key": key, "duration": duration, "engine": engine, "repo_id": repo, "branch": branch}
    with file.open("rb") as handle:
        job = api.json("POST", "/api/ai/hum-to-beat", files={"file_upload": (file.name, handle)}, params=params)
    _generation_output(api, job, wait)


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
    with _full_install():
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
ANALYSIS_COLUMNS: tuple[str, ...] = (
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
        with _full_install():  # loads the audio stack only when asked for
            from beatflow_cli.offline import analyze_file
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


def _range_resolution(api: Api, item: str) -> dict:
    """STEM:START-END=ours|theirs|FILE|BLOB_ID -> a range resolution of the merge API."""
    where, _, choice = item.partition("=")
    stem, _, span = where.partition(":")
    start, _, end = span.partition("-")
    try:
        times = {"start_seconds": float(start), "end_seconds": float(end)}
    except ValueError:
        raise CliError(f"--range {item!r}: use STEM:START-END=ours|theirs|FILE|BLOB_ID", EXIT_INVALID) from None
    if choice in ("ours", "theirs"):
        return {"stem": stem, **times, "resolution": choice}
    return {"stem": stem, **times, "resolution": "take", "take_blob_id": _blob_for(api, choice)}


@app.command()
def merge(
    repo_id: str,
    source: str,
    into: Annotated[str, typer.Option(help="Default: the default branch")] = "",
    from_repo: Annotated[str, typer.Option(help="Merge SOURCE of this repository (a fork); default: this one")] = "",
    ours: Annotated[list[str] | None, typer.Option(help="Keep ours for this stem/field")] = None,
    theirs: Annotated[list[str] | None, typer.Option(help="Take theirs for this stem/field")] = None,
    time_range: Annotated[
        list[str] | None,
        typer.Option(
            "--range", help="Settle a range conflict: STEM:START-END=ours|theirs|FILE|BLOB_ID (a new take); repeatable"
        ),
    ] = None,
) -> None:
    """Merge a branch (or tag or commit) into a branch. Stems both sides changed in different bars are spliced;
    overlapping changes are conflicts per time range."""
    api = client()
    resolutions = [{"name": n, "resolution": "ours"} for n in ours or []] + [
        {"name": n, "resolution": "theirs"} for n in theirs or []
    ]
    result = api.json(
        "POST",
        f"/api/vcs/repos/{repo_id}/merge",
        json={
            "source": source,
            "target_branch": into,
            "source_repo_id": from_repo,
            "resolutions": resolutions,
            "range_resolutions": [_range_resolution(api, item) for item in time_range or []],
        },
    )
    outcome = result["outcome"].removeprefix("MERGE_OUTCOME_").lower().replace("_", " ")
    if result["outcome"] == "MERGE_OUTCOME_CONFLICT":
        ranged = {c["stem"] for c in result["range_conflicts"]}
        conflicts = [c["name"] for c in result["conflicts"] if c["name"] not in ranged]
        conflicts += [c["field"] for c in result["metadata_conflicts"]]
        lines = [f"conflicts in: {', '.join(conflicts)}; choose with --ours/--theirs NAME"] if conflicts else []
        for c in result["range_conflicts"]:
            lines.append(f"{c['stem']} {c['start_seconds']:.2f}-{c['end_seconds']:.2f} s changed on both sides:")
            lines += [f"    {side:<6} {c[f'{side}_url']}" for side in ("ours", "theirs")]
        if result["range_conflicts"]:
            lines.append("choose with --range STEM:START-END=ours|theirs|FILE")
        render.emit(result, state.json, "\n".join(lines))
        raise typer.Exit(code=5)
    lines = [f"{outcome}: {result['commit']['id'][:10]}"]
    for splice in result["splices"]:
        taken = ", ".join(
            f"{r['source'][:10]} {r['start_seconds']:.2f}-{r['end_seconds']:.2f} s" for r in splice["ranges"]
        )
        lines.append(f"  spliced {splice['stem']}: {taken or 'the base'}")
    render.emit(result, state.json, "\n".join(lines))


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


def _gain_params(gains: list[str]) -> dict[str, str]:
    params = {}
    for gain in gains:
        name, _, value = gain.partition("=")
        if not name or not value:
            raise CliError(f"--gain {gain!r}: write STEM=DB, e.g. bass=-3", EXIT_INVALID)
        params[f"gain.{name}"] = value
    return params


@app.command()
def listen(
    commit_id: str,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write; its suffix picks the format.")],
    mute: Annotated[list[str] | None, typer.Option(help="Silence this stem (repeatable).")] = None,
    solo: Annotated[list[str] | None, typer.Option(help="Play only the soloed stems (repeatable).")] = None,
    gain: Annotated[list[str] | None, typer.Option(help="STEM=DB, -60 to +12 (repeatable).")] = None,
    audio_format: Annotated[str, typer.Option("--format", help="wav, flac, mp3 or ogg; default: from --out")] = "",
    repo: Annotated[str, typer.Option(help="Read the commit in this repository.")] = "",
) -> None:
    """Hear a commit: its stems mixed to one file (rendered once by the service, then cached)."""
    audio_format = audio_format or out.suffix.lstrip(".").lower() or "wav"
    params = {"format": audio_format, "mute": mute or [], "solo": solo or [], **_gain_params(gain or [])}
    if repo:
        params["repo_id"] = repo
    response = client().request("GET", f"/api/vcs/commit/{commit_id}/render", params=params)
    out.write_bytes(response.content)
    result = {
        "path": str(out),
        "bytes": len(response.content),
        "format": audio_format,
        "cache": response.headers.get("x-render-cache", ""),
        "headroom_gain_db": float(response.headers.get("x-headroom-gain-db", 0)),
    }
    headroom = result["headroom_gain_db"]
    turned_down = f", turned down {-headroom:.1f} dB so it does not clip" if headroom else ""
    render.emit(result, state.json, f"saved {out} ({result['bytes']} bytes{turned_down})")


# ----- comments on moments ---------------------------------------------------------------------


def _comment_line(comment: dict, depth: int) -> str:
    span = f"{comment['shown_start_seconds']:.2f}"
    if comment["shown_end_seconds"] > comment["shown_start_seconds"]:
        span += f"-{comment['shown_end_seconds']:.2f}"
    marks = "".join(f" ({mark})" for mark in ("outdated", "edited") if comment[mark])
    body = "[deleted]" if comment["deleted"] else comment["body"]
    where = comment["stem"] or "mix"
    return f"{'    ' * depth}{comment['comment_id'][:8]} @{comment['author_username']} {where} {span} s{marks}: {body}"


def _commit_id(api: Api, repo_id: str, revision: str) -> str:
    """A commit id as given, or the commit a branch or tag points at."""
    if is_sha256_id(revision):
        return revision
    log = api.json("GET", f"/api/vcs/repos/{repo_id}/log", params={"ref": revision, "page_size": 1})
    return log["commits"][0]["id"]


@comment_app.command("add")
def comment_add(
    repo_id: str,
    commit_id: str,
    text: str,
    stem: Annotated[str, typer.Option(help="Default: the whole mix")] = "",
    at: Annotated[float, typer.Option(help="Seconds into the stem")] = 0.0,
    to: Annotated[float, typer.Option(help="End of the range (default: a moment at --at)")] = 0.0,
    reply: Annotated[str, typer.Option(help="Reply to this comment id")] = "",
) -> None:
    """Comment on a moment of a commit (or of a branch's or tag's head), or reply to a comment."""
    api = client()
    comment = api.json(
        "POST",
        f"/api/vcs/repos/{repo_id}/commits/{_commit_id(api, repo_id, commit_id)}/comments",
        json={"body": text, "stem": stem, "start_seconds": at, "end_seconds": to, "parent_id": reply},
    )
    render.emit(comment, state.json, _comment_line(comment, 0))


@comment_app.command("list")
def comment_list(repo_id: str, commit_id: str) -> None:
    """The comments shown on a commit (or a branch's or tag's head), as threads: its own, and earlier ones
    carried forward or outdated."""
    api = client()
    commit_id = _commit_id(api, repo_id, commit_id)
    comments, token = [], ""
    while True:
        page = api.json(
            "GET",
            f"/api/vcs/repos/{repo_id}/commits/{commit_id}/comments",
            params={"page_size": 500, "page_token": token},
        )
        comments += page["comments"]
        if not (token := page["next_page_token"]):
            break
    replies: dict[str, list[dict]] = {}
    for comment in comments:
        replies.setdefault(comment["parent_id"], []).append(comment)
    lines: list[str] = []

    def thread(parent: str, depth: int) -> None:
        for comment in replies.get(parent, []):
            lines.append(_comment_line(comment, depth))
            thread(comment["comment_id"], depth + 1)

    thread("", 0)
    render.emit(comments, state.json, "\n".join(lines) or "(no comments)")


def run() -> None:
    try:
        app()
    except CliError as error:
        render.errors.print(f"[red]error:[/red] {error.message}")
        sys.exit(error.exit_code)
