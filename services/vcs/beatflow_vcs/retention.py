"""Retention of the vcs service's short-lived rows.

- Idempotency keys (vcs.idempotent_requests) are kept for a TTL: a write retried after that is
  executed again. The TTL must outlast any client's retries (a day by default).
- Login failures older than the throttle window count for nothing (login_throttle.py). Accounts
  deletes an address's old failures when that address fails again, but nothing deletes those of an
  address that never comes back; this does.
"""

from __future__ import annotations

from datetime import timedelta

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.pruning import PruneReport, PruneTarget, prune

IDEMPOTENCY_KEYS = PruneTarget("vcs.idempotent_requests", "created_at")
LOGIN_FAILURES = PruneTarget("vcs.login_failures", "failed_at")


async def prune_idempotency_keys(
    conn: DictConnection, ttl: timedelta, *, batch_size: int = 1000, dry_run: bool = False
) -> PruneReport:
    return await prune(conn, IDEMPOTENCY_KEYS, ttl, batch_size=batch_size, dry_run=dry_run)


async def prune_login_failures(
    conn: DictConnection, window: timedelta, *, batch_size: int = 1000, dry_run: bool = False
) -> PruneReport:
    return await prune(conn, LOGIN_FAILURES, window, batch_size=batch_size, dry_run=dry_run)
