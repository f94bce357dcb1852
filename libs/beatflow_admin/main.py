"""The `beatflow-admin` command."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from beatflow_admin.gc import collect_garbage
from beatflow_admin.settings import AdminSettings
from beatflow_platform.db.pool import connect
from beatflow_platform.db.pruning import PruneReport
from beatflow_platform.jobs.retention import prune_finished_jobs
from beatflow_vcs.retention import prune_idempotency_keys, prune_login_failures

app = typer.Typer(
    help="BeatFlow operator commands; settings come from BEATFLOW_ADMIN_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def commands() -> None:
    # A callback keeps a lone command a subcommand (typer would otherwise run a lone command as the app).
    pass


async def prune_all(settings: AdminSettings, *, dry_run: bool) -> list[PruneReport]:
    """Expired idempotency keys and login failures, then finished jobs past their retention."""
    batch = {"batch_size": settings.batch_size, "dry_run": dry_run}
    async with await connect(settings.vcs_database_url.get_secret_value()) as vcs:
        reports = [
            await prune_idempotency_keys(vcs, settings.idempotency_key_ttl, **batch),
            await prune_login_failures(vcs, settings.login_failure_window, **batch),
        ]
    async with await connect(settings.jobs_database_url.get_secret_value()) as jobs:
        reports.append(await prune_finished_jobs(jobs, settings.finished_job_retention, **batch))
    return reports


@app.command()
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
) -> None:
    """Deletes rows past their retention; prints one JSON line per table."""
    for report in asyncio.run(prune_all(AdminSettings(), dry_run=dry_run)):
        typer.echo(report.as_json())


@app.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")] = False,
) -> None:
    """Deletes blobs nothing names (past the grace period) and old renders; prints one JSON line per phase."""
    marked, reports = asyncio.run(collect_garbage(AdminSettings(), dry_run=dry_run))
    typer.echo(marked.as_json())
    for report in reports:
        typer.echo(report.as_json())


def run() -> None:
    app()
