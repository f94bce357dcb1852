"""Repositories, collaborators, access control and forks.

Access is decided here and only here: another user's private repository is NOT_FOUND to
the caller (its existence is not revealed); a readable repository the caller may not change
is PERMISSION_DENIED.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from beatflow_platform import naming
from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictConnection, DictPool
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import AlreadyExists, FailedPrecondition, NotFound, PermissionDenied
from beatflow_platform.pagination import PageTokens, page_size
from beatflow_vcs import idempotency, validation
from beatflow_vcs.accounts import Accounts


class Access(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3


ROLE_ACCESS = {"read": Access.READ, "write": Access.WRITE}


@dataclass(frozen=True)
class ForkSource:
    repo_id: str
    owner_username: str
    repo_name: str
    commit_id: str


@dataclass(frozen=True)
class Repository:
    repo_id: str
    owner_id: str
    owner_username: str
    name: str
    description: str
    is_public: bool
    genre: str
    default_branch: str
    forked_from: ForkSource | None
    created_at: datetime
    updated_at: datetime
    # The caller's access; NONE never leaves this module.
    access: Access


@dataclass(frozen=True)
class Collaborator:
    user_id: str
    username: str
    role: str


UPDATABLE_FIELDS = frozenset({"name", "description", "is_public", "genre", "default_branch"})
_SAME_NAME = "names that differ only in letter case, accents' encoding or character width are the same name"

# Columns of a repository as seen by the user %(viewer)s (NULL for service principals).
_SELECT = """
SELECT r.id::text AS repo_id, r.owner_id::text AS owner_id, u.username AS owner_username, r.name, r.description,
       r.is_public, r.genre, r.default_branch, r.fork_source_repo_id::text AS fork_source_repo_id,
       r.fork_source_owner, r.fork_source_name, r.fork_source_commit_id, r.created_at, r.updated_at,
       CASE WHEN r.owner_id = %(viewer)s THEN 3
            WHEN c.role = 'write' THEN 2
            WHEN c.role = 'read' OR r.is_public THEN 1
            ELSE 0 END AS access
FROM vcs.repositories r
JOIN vcs.users u ON u.id = r.owner_id
LEFT JOIN vcs.collaborators c ON c.repo_id = r.id AND c.user_id = %(viewer)s
WHERE r.deleted_at IS NULL
"""


def viewer_id(principal: Principal) -> str | None:
    """The user id whose rights apply; services and anonymous readers hold no repository rights of their own."""
    return None if principal.is_service or principal.is_anonymous else principal.subject_id


def _to_repository(row: dict) -> Repository:
    source = None
    if row["fork_source_repo_id"]:
        source = ForkSource(
            row["fork_source_repo_id"], row["fork_source_owner"], row["fork_source_name"], row["fork_source_commit_id"]
        )
    return Repository(
        repo_id=row["repo_id"],
        owner_id=row["owner_id"],
        owner_username=row["owner_username"],
        name=row["name"],
        description=row["description"],
        is_public=row["is_public"],
        genre=row["genre"],
        default_branch=row["default_branch"],
        forked_from=source,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        access=Access(row["access"]),
    )


class Repositories:
    def __init__(self, pool: DictPool, accounts: Accounts, page_tokens: PageTokens, *, request_ttl: timedelta):
        self._pool = pool
        self._accounts = accounts
        self._page_tokens = page_tokens
        self._request_ttl = request_ttl

    async def fetch(self, conn: DictConnection, principal: Principal, repo_id: str, need: Access) -> Repository:
        """The repository if the caller has `need` access: NOT_FOUND when they cannot read it."""
        validation.uuid_id(repo_id, "repo_id")
        row = await fetch_one(conn, _SELECT + " AND r.id = %(repo)s", {"viewer": viewer_id(principal), "repo": repo_id})
        if row is None or row["access"] < Access.READ:
            raise NotFound("repository", repo_id)
        repository = _to_repository(row)
        if repository.access < need:
            raise PermissionDenied(
                f"{need.name.lower()} access to this repository is required",
                reason="REPOSITORY_ACCESS_DENIED",
                metadata={"repo_id": repo_id, "required": need.name, "granted": repository.access.name},
            )
        return repository

    async def get(self, principal: Principal, repo_id: str, need: Access = Access.READ) -> Repository:
        async with self._pool.connection() as conn:
            return await self.fetch(conn, principal, repo_id, need)

    def _check_user(self, principal: Principal) -> str:
        user_id = viewer_id(principal)
        if user_id is None:
            raise PermissionDenied("service principals cannot own repositories", reason="USER_REQUIRED")
        return user_id

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        description: str = "",
        is_public: bool = False,
        genre: str = "",
        default_branch: str = "",
        request_id: str = "",
    ) -> Repository:
        owner_id = self._check_user(principal)
        name = validation.repository_name(name)
        default_branch = validation.ref_name(default_branch or "main", "default_branch")

        async def insert(conn: DictConnection) -> str:
            repo_id = str(uuid.uuid4())
            await conn.execute(
                "INSERT INTO vcs.repositories"
                " (id, owner_id, name, name_key, description, is_public, genre, default_branch)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (repo_id, owner_id, name, naming.name_key(name), description, is_public, genre, default_branch),
            )
            return repo_id

        return await self._create_once(principal, "CreateRepository", request_id, name, insert)

    async def _create_once(
        self,
        principal: Principal,
        method: str,
        request_id: str,
        name: str,
        insert: Callable[[DictConnection], Awaitable[str]],
    ) -> Repository:
        """Runs `insert` in a transaction unless this request id already created a repository."""
        for _ in range(2):
            try:
                async with self._pool.connection() as conn:
                    async with conn.transaction():
                        earlier = await idempotency.recall(
                            conn, principal.subject_id, method, request_id, self._request_ttl
                        )
                        repo_id = earlier
                        if repo_id is None:
                            repo_id = await insert(conn)
                            await idempotency.remember(conn, principal.subject_id, method, request_id, repo_id)
                    return await self.fetch(conn, principal, repo_id, Access.READ)
            except psycopg.errors.UniqueViolation as error:
                if error.diag.constraint_name != "idempotent_requests_pkey":
                    raise AlreadyExists(
                        "repository", name, f"you already have a repository named {name!r} ({_SAME_NAME})"
                    ) from None
                # A concurrent call with the same request id won; the next round returns its result.
        raise AssertionError("unreachable: the second round always finds the first result")

    async def list(
        self, principal: Principal, *, page_size_requested: int = 0, page_token: str = "", owner_username: str = ""
    ) -> tuple[list[Repository], str]:
        size = page_size(page_size_requested)
        scope = f"ListRepositories|{principal.subject_id}|{owner_username}"
        cursor = self._page_tokens.decode(scope, page_token)
        query = _SELECT + (" AND (r.is_public OR r.owner_id = %(viewer)s OR c.user_id IS NOT NULL)")
        params: dict = {"viewer": viewer_id(principal), "limit": size + 1}
        if owner_username:
            validation.username(owner_username, "owner_username")
            query += " AND u.username = %(owner)s"
            params["owner"] = owner_username
        if cursor:
            query += " AND (r.created_at, r.id) < (%(after_time)s::timestamptz, %(after_id)s::uuid)"
            params.update(after_time=cursor["t"], after_id=cursor["id"])
        query += " ORDER BY r.created_at DESC, r.id DESC LIMIT %(limit)s"
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, query, params)
        repositories = [_to_repository(row) for row in rows[:size]]
        next_token = ""
        if len(rows) > size:
            last = repositories[-1]
            next_token = self._page_tokens.encode(scope, {"t": last.created_at.isoformat(), "id": last.repo_id})
        return repositories, next_token

    async def update(self, principal: Principal, repo_id: str, changes: dict) -> Repository:
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown or not changes:
            raise validation.InvalidArgument.for_field(
                "update_mask", f"must name some of {', '.join(sorted(UPDATABLE_FIELDS))}"
            )
        if "name" in changes:
            name = validation.repository_name(changes["name"], "repository.name")
            changes = {**changes, "name": name, "name_key": naming.name_key(name)}
        if "default_branch" in changes:
            validation.ref_name(changes["default_branch"], "repository.default_branch")
        async with self._pool.connection() as conn, conn.transaction():
            repository = await self.fetch(conn, principal, repo_id, Access.ADMIN)
            if (
                changes.get("is_public")
                and repository.forked_from
                and not await self._is_public(conn, repository.forked_from.repo_id)
            ):
                raise FailedPrecondition("a fork of a private repository stays private", reason="PRIVATE_FORK_SOURCE")
            if "default_branch" in changes and await self._has_branches(conn, repo_id):
                branch = await fetch_one(
                    conn,
                    "SELECT 1 FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s",
                    (repo_id, changes["default_branch"]),
                )
                if branch is None:
                    raise FailedPrecondition(
                        f"branch {changes['default_branch']!r} does not exist", reason="BRANCH_NOT_FOUND"
                    )
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)) for column in sorted(changes)
            )
            try:
                update = sql.SQL("UPDATE vcs.repositories SET {}, updated_at = now() WHERE id = %(repo)s")
                await conn.execute(update.format(assignments), {**changes, "repo": repo_id})
            except psycopg.errors.UniqueViolation:
                raise AlreadyExists(
                    "repository", changes["name"], f"you already have a repository with that name ({_SAME_NAME})"
                ) from None
            return await self.fetch(conn, principal, repo_id, Access.READ)

    @staticmethod
    async def _is_public(conn: DictConnection, repo_id: str) -> bool:
        row = await fetch_one(
            conn, "SELECT is_public FROM vcs.repositories WHERE id = %s AND deleted_at IS NULL", (repo_id,)
        )
        return bool(row and row["is_public"])

    @staticmethod
    async def _has_branches(conn: DictConnection, repo_id: str) -> bool:
        row = await fetch_one(conn, "SELECT 1 FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' LIMIT 1", (repo_id,))
        return row is not None

    async def delete(self, principal: Principal, repo_id: str) -> None:
        """Removes refs, collaborators and the name; commits and blobs stay for forks that share them."""
        async with self._pool.connection() as conn, conn.transaction():
            await self.fetch(conn, principal, repo_id, Access.ADMIN)
            await conn.execute("DELETE FROM vcs.refs WHERE repo_id = %s", (repo_id,))
            await conn.execute("DELETE FROM vcs.collaborators WHERE repo_id = %s", (repo_id,))
            await conn.execute(
                "UPDATE vcs.repositories SET deleted_at = now(), updated_at = now() WHERE id = %s", (repo_id,)
            )

    async def fork(self, principal: Principal, source_id: str, fork_name: str, request_id: str = "") -> Repository:
        """A new repository of the caller with the source's refs: cost independent of history length."""
        self._check_user(principal)
        if fork_name:
            fork_name = validation.repository_name(fork_name, "fork_name")

        async def insert(conn: DictConnection) -> str:
            source = await self.fetch(conn, principal, source_id, Access.READ)
            head = await fetch_one(
                conn,
                "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s",
                (source_id, source.default_branch),
            )
            repo_id = str(uuid.uuid4())
            await conn.execute(
                "INSERT INTO vcs.repositories (id, owner_id, name, name_key, description, is_public, genre,"
                " default_branch, fork_source_repo_id, fork_source_owner, fork_source_name, fork_source_commit_id,"
                " fork_source_seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " (SELECT coalesce(max(seq), 0) FROM vcs.repo_commits))",
                (
                    repo_id,
                    principal.subject_id,
                    fork_name or source.name,
                    naming.name_key(fork_name or source.name),
                    source.description,
                    source.is_public,
                    source.genre,
                    source.default_branch,
                    source.repo_id,
                    source.owner_username,
                    source.name,
                    head["commit_id"] if head else None,
                ),
            )
            await conn.execute(
                "INSERT INTO vcs.refs (repo_id, kind, name, commit_id, message, created_by)"
                " SELECT %s, kind, name, commit_id, message, %s FROM vcs.refs WHERE repo_id = %s",
                (repo_id, principal.subject_id, source_id),
            )
            return repo_id

        return await self._create_once(principal, "ForkRepository", request_id, fork_name or source_id, insert)

    async def list_collaborators(self, principal: Principal, repo_id: str) -> list[Collaborator]:
        async with self._pool.connection() as conn:
            await self.fetch(conn, principal, repo_id, Access.READ)
            rows = await fetch_all(
                conn,
                "SELECT u.id::text AS user_id, u.username, c.role FROM vcs.collaborators c"
                " JOIN vcs.users u ON u.id = c.user_id WHERE c.repo_id = %s ORDER BY u.username",
                (repo_id,),
            )
        return [Collaborator(**row) for row in rows]

    async def put_collaborator(self, principal: Principal, repo_id: str, username: str, role: str) -> Collaborator:
        validation.username(username)
        if role not in ROLE_ACCESS:
            raise validation.InvalidArgument.for_field("role", "must be READ or WRITE")
        async with self._pool.connection() as conn, conn.transaction():
            repository = await self.fetch(conn, principal, repo_id, Access.ADMIN)
            user = await self._accounts.find_by_username(username)
            if user.user_id == repository.owner_id:
                raise FailedPrecondition("the owner cannot be a collaborator", reason="OWNER_IS_NOT_A_COLLABORATOR")
            await conn.execute(
                "INSERT INTO vcs.collaborators (repo_id, user_id, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (repo_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                (repo_id, user.user_id, role),
            )
        return Collaborator(user.user_id, user.username, role)

    async def remove_collaborator(self, principal: Principal, repo_id: str, username: str) -> None:
        validation.username(username)
        async with self._pool.connection() as conn, conn.transaction():
            await self.fetch(conn, principal, repo_id, Access.ADMIN)
            result = await conn.execute(
                "DELETE FROM vcs.collaborators c USING vcs.users u"
                " WHERE c.repo_id = %s AND c.user_id = u.id AND u.username = %s",
                (repo_id, username),
            )
            if result.rowcount == 0:
                raise NotFound("collaborator", username)
