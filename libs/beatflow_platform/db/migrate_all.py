"""`python -m beatflow_platform.db.migrate_all`: applies every declared migration set (the Helm
chart's pre-install/pre-upgrade hook). The database comes from BEATFLOW_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import sys

from beatflow_platform.db.catalog import declared_migration_sets
from beatflow_platform.db.migrations import migrate
from beatflow_platform.db.pool import connect
from beatflow_platform.logging import configure_logging


async def migrate_all(dsn: str) -> int:
    applied = 0
    async with await connect(dsn) as conn:
        for migration_set in declared_migration_sets():
            applied += len(await migrate(conn, migration_set.schema, migration_set.migrations))
    return applied


def main() -> None:
    dsn = os.environ.get("BEATFLOW_DATABASE_URL")
    if not dsn:
        sys.exit("set BEATFLOW_DATABASE_URL")
    configure_logging("INFO", service="migrations")
    applied = asyncio.run(migrate_all(dsn))
    print(f"applied {applied} migration(s)")


if __name__ == "__main__":
    main()
