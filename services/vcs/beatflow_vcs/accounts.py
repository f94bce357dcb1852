"""Users, passwords (argon2id) and sessions: each sign-in is a session whose token pairs are
short-lived access JWTs naming the session plus rotating refresh tokens (one family per session)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from beatflow_platform.auth import TokenIssuer
from beatflow_platform.db.pool import DictPool
from beatflow_platform.db.queries import fetch_one
from beatflow_platform.errors import AlreadyExists, NotFound, Unauthenticated
from beatflow_vcs.login_throttle import FailureCounts, LoginThrottle, LoginThrottled, client_key


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    email: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


_USER_COLUMNS = "id::text AS user_id, username, email, display_name, created_at"


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(
        self,
        pool: DictPool,
        tokens: TokenIssuer,
        refresh_ttl: timedelta,
        *,
        max_failures: int = 10,
        failure_window: timedelta = timedelta(minutes=15),
        address_max_failures: int = 100,
        max_delay: timedelta = timedelta(minutes=15),
    ):
        """`max_failures` failed logins per (login, client address) go unthrottled within
        `failure_window`; see `LoginThrottle` for what follows."""
        self._pool = pool
        self._throttle = LoginThrottle(
            free_failures=max_failures,
            max_delay=max_delay,
            address_max_failures=address_max_failures,
            window=failure_window,
        )
        self._tokens = tokens
        self._refresh_ttl = refresh_ttl
        self._hasher = PasswordHasher()
        # Verified when the login is unknown, so both failures take the same time.
        self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def register(self, username: str, email: str, password: str, display_name: str) -> tuple[User, TokenPair]:
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with self._pool.connection() as conn:
                row = await fetch_one(
                    conn,
                    f"INSERT INTO vcs.users (id, username, email, display_name, password_hash)"
                    f" VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}",
                    (uuid.uuid4(), username, email, display_name or username, password_hash),
                )
        except psycopg.errors.UniqueViolation as error:
            taken = "email" if "email" in (error.diag.constraint_name or "") else "username"
            raise AlreadyExists("user", email if taken == "email" else username, f"{taken} is already taken") from None
        assert row is not None  # INSERT ... RETURNING without ON CONFLICT returns its row
        user = User(**row)
        return user, await self._start_session(user.user_id)

    async def login(self, login: str, password: str, *, client_address: str) -> tuple[User, TokenPair]:
        """Checks the password, unless this client address must wait (RESOURCE_EXHAUSTED, LoginThrottled).

        The attempt is written down as a failure before the password is checked and forgotten when it
        is right, so a burst of concurrent guesses counts in full.
        """
        key = login.strip().lower()[:254]
        address = client_key(client_address)
        column = "lower(email)" if "@" in login else "username"
        await self._record_attempt(key, address)
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn, f"SELECT {_USER_COLUMNS}, password_hash FROM vcs.users WHERE {column} = lower(%s)", (login,)
            )
        stored_hash = row.pop("password_hash") if row else self._decoy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored_hash, password)
        except (VerificationError, InvalidHashError):
            row = None
        if row is None:
            raise Unauthenticated("wrong login or password", reason="BAD_CREDENTIALS")
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM vcs.login_failures WHERE login = %s AND client_address = %s", (key, address)
            )
        user = User(**row)
        return user, await self._start_session(user.user_id)

    async def _record_attempt(self, key: str, address: str) -> None:
        """Refuses the attempt if the throttle says wait; otherwise records it as a failure (for now)
        and deletes this address's failures older than the window (`beatflow-admin prune` deletes
        those of addresses that do not come back). One address's attempts take turns here, so the
        delete is small and never waits for another address's."""
        window = f"{int(self._throttle.window.total_seconds())} seconds"
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('beatflow.login:' || %s))", (address,))
            row = await fetch_one(
                conn,
                "SELECT count(*) FILTER (WHERE login = %s) AS pair,"
                " max(failed_at) FILTER (WHERE login = %s) AS last_pair_failure,"
                " count(*) AS address, min(failed_at) AS oldest_address_failure, now() AS now"
                " FROM vcs.login_failures WHERE client_address = %s AND failed_at > now() - %s::interval",
                (key, key, address, window),
            )
            assert row is not None  # aggregates without GROUP BY return one row
            now = row.pop("now")
            wait = self._throttle.wait(FailureCounts(**row), now)
            if wait > timedelta(0):
                raise LoginThrottled(wait)
            await conn.execute("INSERT INTO vcs.login_failures (login, client_address) VALUES (%s, %s)", (key, address))
            await conn.execute(
                "DELETE FROM vcs.login_failures WHERE client_address = %s AND failed_at <= now() - %s::interval",
                (address, window),
            )

    async def _start_session(self, user_id: str) -> TokenPair:
        session_id = uuid.uuid4()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("INSERT INTO vcs.sessions (id, user_id) VALUES (%s, %s)", (session_id, user_id))
            return await self._issue_pair(conn, user_id, session_id)

    async def _issue_pair(self, conn, user_id: str, session_id: uuid.UUID) -> TokenPair:
        refresh_token = secrets.token_urlsafe(32)
        await conn.execute(
            "INSERT INTO vcs.refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES (%s, %s, %s, %s)",
            (_hash_token(refresh_token), user_id, session_id, datetime.now(UTC) + self._refresh_ttl),
        )
        access_token = self._tokens.issue(user_id, session_id=str(session_id))
        return TokenPair(access_token, refresh_token, self._tokens.ttl_seconds)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotates a refresh token. Presenting a spent one revokes its whole family (theft detection)."""
        pair: TokenPair | None = None  # stays None when the token was already used
        async with self._pool.connection() as conn, conn.transaction():
            row = await fetch_one(
                conn,
                "SELECT user_id::text, family_id, expires_at, used_at, revoked_at"
                " FROM vcs.refresh_tokens WHERE token_hash = %s FOR UPDATE",
                (_hash_token(refresh_token),),
            )
            if row is None or row["revoked_at"] is not None or row["expires_at"] <= datetime.now(UTC):
                raise Unauthenticated("refresh token is invalid or expired", reason="REFRESH_TOKEN_INVALID")
            if row["used_at"] is not None:
                await self._revoke_family(conn, row["family_id"])
            else:
                await conn.execute(
                    "UPDATE vcs.refresh_tokens SET used_at = now() WHERE token_hash = %s", (_hash_token(refresh_token),)
                )
                pair = await self._issue_pair(conn, row["user_id"], row["family_id"])
        if pair is None:  # raised after the revocation commits
            raise Unauthenticated(
                "refresh token was already used; this sign-in is ended and its tokens are revoked",
                reason="REFRESH_TOKEN_REUSED",
            )
        return pair

    async def logout(self, refresh_token: str) -> None:
        """Ends the refresh token's session: its refresh tokens and its access tokens stop working."""
        async with self._pool.connection() as conn, conn.transaction():
            row = await fetch_one(
                conn, "SELECT family_id FROM vcs.refresh_tokens WHERE token_hash = %s", (_hash_token(refresh_token),)
            )
            if row is None:
                raise Unauthenticated("unknown refresh token", reason="REFRESH_TOKEN_INVALID")
            await self._revoke_family(conn, row["family_id"])

    @staticmethod
    async def _revoke_family(conn, family_id) -> None:
        """Ends the session `family_id` names: its refresh tokens and, through the session, its access tokens."""
        await conn.execute(
            "UPDATE vcs.sessions SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (family_id,)
        )
        await conn.execute(
            "UPDATE vcs.refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL",
            (family_id,),
        )

    async def session_is_live(self, session_id: str, access_token: str = "") -> bool:
        """Whether the session exists and has not ended (the table is the truth; the token is not needed)."""
        try:
            uuid.UUID(session_id)
        except ValueError:
            return False
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, "SELECT revoked_at FROM vcs.sessions WHERE id = %s", (session_id,))
        return row is not None and row["revoked_at"] is None

    async def get_user(self, user_id: str) -> User:
        try:
            uuid.UUID(user_id)
        except ValueError:
            raise NotFound("user", user_id) from None
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, f"SELECT {_USER_COLUMNS} FROM vcs.users WHERE id = %s", (user_id,))
        if row is None:
            raise NotFound("user", user_id)
        return User(**row)

    async def find_by_username(self, username: str) -> User:
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, f"SELECT {_USER_COLUMNS} FROM vcs.users WHERE username = %s", (username,))
        if row is None:
            raise NotFound("user", username)
        return User(**row)
