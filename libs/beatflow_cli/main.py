"""The `beatflow` command."""

from __future__ import annotations

import getpass
import sys
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
    prompt: str,
    bpm: Annotated[int, typer.Option(help="60-300; 0 lets the engine choose")] = 0,
    key: Annotated[str, typer.Option(help="e.g. 'A minor'")] = "",
    mood: str = "neutral",
    duration: Annotated[float, typer.Option(help="seconds")] = 15.0,
    seed: int = 0,
    engine: str = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
) -> None:
    """Generate music from a text prompt."""
    api = client()
    job = api.json(
        "POST",
        "/api/ai/generate",
        json={
            "prompt": prompt,
            "bpm": bpm,
            "key": key,
            "mood": mood,
            "duration": duration,
            "seed": seed,
            "engine": engine,
        },
    )
    _job_output(api, job, wait)


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
    engine: str = "",
    wait: Annotated[bool, typer.Option(help="Follow progress until the stems are ready.")] = False,
) -> None:
    """Split a track into drums, bass, vocals and other."""
    api = client()
    job = api.json("POST", "/api/ai/separate-stems", json={"blob_id": _blob_for(api, source), "engine": engine})
    _job_output(api, job, wait)


@app.command()
def analyze(source: Annotated[str, typer.Argument(help="A file or a blob id")]) -> None:
    """Tempo, key, loudness and more of a track."""
    api = client()
    result = api.json(
        "POST", "/api/ai/analyze-audio", params={"blob_id": _blob_for(api, source), "waveform_points": 100}
    )
    rows = [
        ("bpm", f"{result['bpm_exact']:.1f}"),
        ("key", result["key_signature"]),
        ("key confidence", f"{result['key_confidence']:.2f}"),
        ("duration", f"{result['duration']:.2f} s"),
        ("loudness", f"{result['integrated_loudness_lufs']:.1f} LUFS"),
        ("peak", f"{result['peak_dbfs']:.1f} dBFS"),
        ("sample rate", result["audio"]["sample_rate"]),
        ("channels", result["audio"]["channels"]),
    ]
    render.emit(result, state.json, render.key_value_table("analysis", rows))


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


def _head(api: Api, repo_id: str, branch: str) -> str:
    repo = api.json("GET", f"/api/repositories/{repo_id}")
    name = branch or repo["default_branch"]
    branches = api.json("GET", f"/api/vcs/repos/{repo_id}/branches")["branches"]
    return next((b["commit_id"] for b in branches if b["name"] == name), "")


@app.command()
def commit(
    repo_id: str,
    message: Annotated[str, typer.Option("--message", "-m")],
    stem: Annotated[list[str] | None, typer.Option(help="NAME=FILE or NAME=BLOB_ID; repeatable")] = None,
    from_job: Annotated[str, typer.Option(help="Add the stems of a finished job")] = "",
    remove: Annotated[list[str] | None, typer.Option(help="Drop this stem; repeatable")] = None,
    branch: str = "",
    parent: Annotated[str, typer.Option(help="Default: the branch head")] = "",
    bpm: float = 0,
    key: str = "",
) -> None:
    """Commit on a branch: the parent's stems (and bpm, key), plus or replaced by the ones given, minus --remove."""
    api = client()
    parent = parent or _head(api, repo_id, branch)
    stems = {}
    if parent:
        previous = api.json("GET", f"/api/vcs/commit/{parent}", params={"repo_id": repo_id})
        stems = {s["name"]: s["blob_id"] for s in previous["stems"]}
        bpm, key = bpm or previous["bpm"], key or previous["key_signature"]
    if from_job:
        job = api.json("GET", f"/api/jobs/{from_job}")
        stems.update(
            {
                a["name"]: a["blob"]["blob_id"]
                for a in (job.get("result") or {}).get("artifacts", [])
                if a["name"] != "mix"
            }
        )
    for item in stem or []:
        name, _, source = item.partition("=")
        if not source:
            raise CliError(f"--stem {item!r}: use NAME=FILE or NAME=BLOB_ID", EXIT_INVALID)
        stems[name] = _blob_for(api, source)
    for name in remove or []:
        if stems.pop(name, None) is None:
            raise CliError(f"--remove {name}: no such stem in the parent commit", EXIT_INVALID)
    created = api.json(
        "POST",
        f"/api/vcs/commit/{repo_id}",
        json={
            "message": message,
            "branch": branch,
            "parent_commit_id": parent or None,
            "bpm": bpm,
            "key_signature": key,
            "stems": [{"name": n, "blob_id": b} for n, b in stems.items()],
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


@app.command()
def diff(repo_id: str, base: str, head: Annotated[str, typer.Argument()] = "") -> None:
    """What changed between two refs or commits."""
    result = client().json("GET", f"/api/vcs/repos/{repo_id}/diff", params={"base": base, "head": head})
    signs = {"CHANGE_TYPE_ADDED": "+", "CHANGE_TYPE_REMOVED": "-", "CHANGE_TYPE_MODIFIED": "~"}
    lines = [f"{signs.get(c['change'], '?')} {c['name']}" for c in result["stem_changes"]]
    lines += [f"~ {m['field']}: {m['old_value']!r} -> {m['new_value']!r}" for m in result["metadata_changes"]]
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
