"""Output: JSON for scripts (--json), tables and a commit graph for people."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


def emit(data, as_json: bool, table: Table | str | None = None) -> None:
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    elif isinstance(table, str):
        console.print(table, markup=False, highlight=False)  # "[main 1a2b]" is text, not markup
    elif table is not None:
        console.print(table)


def key_value_table(title: str, rows: Sequence[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def graph(commits: list[dict]) -> list[str]:
    """Lines like `git log --graph`: one lane per line of descent, '*' on the commit's lane."""
    lanes: list[str] = []
    lines = []
    for commit in commits:
        if commit["id"] not in lanes:
            lanes.append(commit["id"])
        column = lanes.index(commit["id"])
        marks = " ".join("*" if index == column else "|" for index in range(len(lanes)))
        refs = [*commit.get("branch_heads", []), *(f"tag: {t}" for t in commit.get("tags", []))]
        decoration = f" ({', '.join(refs)})" if refs else ""
        message = (commit.get("message") or "").splitlines()[0] if commit.get("message") else ""
        lines.append(f"{marks}  {commit['id'][:10]}{decoration} {message}")
        parents = commit.get("parent_ids", [])
        if len(parents) > 1:
            lines.append(" ".join("|" for _ in range(column + 1)) + "\\")
        if parents and parents[0] not in lanes:
            lanes[column] = parents[0]
        else:
            lanes.pop(column)
            if parents and column:  # this line of descent joins one to its left
                lines.append(" ".join("|" for _ in range(column)) + "/")
        lanes.extend(parent for parent in parents[1:] if parent not in lanes)
    return lines
