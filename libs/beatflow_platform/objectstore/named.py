"""Named objects beside the blobs, in the same store: what the chunked audio store keeps (packs of
chunks, the chunk index, manifests) and what garbage collection lists.

Every object lives in a namespace and is named by 64 hex characters: `blobs/<blob id>` (the whole
blobs the stores write themselves), `manifests/<blob id>`, `chunks/<sha256 of the chunk's bytes>`
(where a chunk lies) and `packs/<random id>` (compressed chunks, back to back).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from beatflow_platform.objectstore.base import require_blob_id

Namespace = Literal["blobs", "chunks", "manifests", "packs"]
NAMESPACES: tuple[Namespace, ...] = ("blobs", "chunks", "manifests", "packs")


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    modified_at: datetime


class ObjectMissing(LookupError):
    """A named object that is not there."""


def require_namespace(namespace: str) -> Namespace:
    if namespace not in NAMESPACES:
        raise ValueError(f"unknown object namespace {namespace!r}")
    return namespace


def object_key(namespace: Namespace, name: str) -> str:
    """`namespace/name`, refusing anything else (names come from hashes, never from callers' paths)."""
    return f"{require_namespace(namespace)}/{require_blob_id(name, 'name')}"


class NamedObjects(Protocol):
    async def put_object(
        self, namespace: Namespace, name: str, data: bytes | bytearray, *, replace: bool = False, durable: bool = True
    ) -> bool:
        """Writes an object held in memory in one request; unless `replace`, False (writing nothing)
        when it is already there. `durable=False` lets the filesystem skip fsync, for what a crash
        may lose without harm (the chunk index: a lost entry only costs the next upload dedup)."""
        ...

    async def get_object(
        self, namespace: Namespace, name: str, offset: int = 0, length: int | None = None
    ) -> bytes | None:
        """The object's bytes (or `length` of them from `offset`), None when there is none."""
        ...

    def read_pieces(
        self, namespace: Namespace, name: str, offset: int, sizes: list[int]
    ) -> AsyncGenerator[bytes, None]:
        """The object's bytes from `offset`, one piece of each of `sizes` in turn (all within the object), over one
        request where the store can; raises ObjectMissing when there is no such object. A caller may take its time
        between pieces: a store whose connection was dropped meanwhile reads the next piece over a new one."""
        ...

    async def object_info(self, namespace: Namespace, name: str) -> ObjectInfo | None: ...

    async def touch_object(self, namespace: Namespace, name: str) -> None:
        """Moves the object's modification time to now (what garbage collection's grace period reads)."""
        ...

    async def delete_object(self, namespace: Namespace, name: str) -> None: ...

    def list_objects(self, namespace: Namespace) -> AsyncIterator[ObjectInfo]: ...
