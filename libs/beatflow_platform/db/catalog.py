"""Which migrations exist: services declare theirs as `beatflow.migrations` entry points.

An entry point's name is the PostgreSQL schema it owns and its value the package holding
the `NNNN_*.sql` files, e.g. `vcs = "beatflow_vcs.migrations"` in pyproject.toml. The test
fixtures and the local stack migrate whatever is declared, so a new service needs no other wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata, resources

from beatflow_platform.db.migrations import Migration, load_migrations

ENTRY_POINT_GROUP = "beatflow.migrations"


@dataclass(frozen=True)
class MigrationSet:
    schema: str
    migrations: list[Migration]


def declared_migration_sets() -> list[MigrationSet]:
    sets = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        sets.append(MigrationSet(entry.name, load_migrations(resources.files(entry.value))))
    return sets
