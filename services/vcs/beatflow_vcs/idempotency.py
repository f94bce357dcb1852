"""Request ids of retried writes: the first result is remembered and returned again for a TTL.

After the TTL a retried write is executed again, whether or not `beatflow-admin prune` has deleted
the key yet: an expired key is deleted here, in the caller's transaction, before it could be recalled.
"""

from __future__ import annotations

from datetime import timedelta

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_one


async def recall(conn: DictConnection, principal_id: str, method: str, request_id: str, ttl: timedelta) -> str | None:
    """The id of what an earlier call with this request id created less than `ttl` ago, if any."""
    if not request_id:
        return None
    await conn.execute(
        "DELETE FROM vcs.idempotent_requests"
        " WHERE principal_id = %s AND method = %s AND request_id = %s AND created_at <= now() - %s",
        (principal_id, method, request_id, ttl),
    )
    row = await fetch_one(
        conn,
        "SELECT result_id FROM vcs.idempotent_requests WHERE principal_id = %s AND method = %s AND request_id = %s",
        (principal_id, method, request_id),
    )
    return row["result_id"] if row else None


async def remember(conn: DictConnection, principal_id: str, method: str, request_id: str, result_id: str) -> None:
    """Records the result in the caller's transaction; a concurrent twin makes this raise UniqueViolation."""
    if request_id:
        await conn.execute(
            "INSERT INTO vcs.idempotent_requests (principal_id, method, request_id, result_id) VALUES (%s, %s, %s, %s)",
            (principal_id, method, request_id, result_id),
        )
