"""Listening to a commit: its stems mixed to one file, rendered once and then served from the object store.

A render is keyed by what it sounds like: the blobs that play with their gains (rounded to
0.01 dB), the commit's timeline (every mix of a commit keeps the full mix's rate, channels and
length), the format and `MIX_VERSION`; stem names and the commit id do not matter, so
`mute=drums` and a solo of the other stems are one render, and commits with the same audio share
renders. The file itself is a content-addressed object (its id is the sha256 of its bytes, written
to a temporary key and published under its id, so concurrent renders never corrupt it). Which file
a key rendered to is recorded in PostgreSQL once the file is published (`render_index`), so every
replica, and the process after a restart, serves it from then on; a key whose object went missing
from the store is rendered again. Concurrent first requests for one key in a process share one
rendering.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from beatflow_audio import codec
from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictPool
from beatflow_platform.errors import Aborted, FailedPrecondition, FieldViolation, InvalidArgument
from beatflow_platform.objectstore import ObjectStore
from beatflow_platform.objectstore.base import READ_CHUNK_BYTES, file_address
from beatflow_platform.objectstore.pipe import iterate_in_thread
from beatflow_vcs import mixdown
from beatflow_vcs.commits import Tree
from beatflow_vcs.history import History
from beatflow_vcs.render_index import RenderedFile, RenderIndex

# Bump when mixing changes what a render of the same stems sounds like (old renders are then not reused).
MIX_VERSION = 1
MIN_GAIN_DB, MAX_GAIN_DB = -60.0, 12.0
FORMATS = tuple(codec.FORMATS)
_SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class MixRequest:
    """What the listener asks for; stem names refer to the commit's tree."""

    audio_format: str = "WAV"
    mute: tuple[str, ...] = ()
    solo: tuple[str, ...] = ()
    gain_db: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Render:
    commit_id: str
    stems: tuple[str, ...]
    file: RenderedFile
    cached: bool


def plan(tree: Tree, request: MixRequest) -> dict[str, float]:
    """The stems that sound, by name, with their gain in dB; INVALID_ARGUMENT naming unknown stems or bad gains."""
    if request.audio_format not in FORMATS:
        raise InvalidArgument.for_field("format", f"must be one of {', '.join(FORMATS)}")
    unknown = [
        (field_name, name)
        for field_name, names in (("mute", request.mute), ("solo", request.solo), ("gain_db", request.gain_db))
        for name in names
        if name not in tree
    ]
    has = ", ".join(sorted(tree)) or "no stems"
    violations = [FieldViolation(f, f"no stem {name!r} in the commit (it has: {has})") for f, name in unknown]
    violations += [
        FieldViolation(f"gain_db[{name}]", f"must be {MIN_GAIN_DB:g} to {MAX_GAIN_DB:g} dB")
        for name, gain in request.gain_db.items()
        if not (math.isfinite(gain) and MIN_GAIN_DB <= gain <= MAX_GAIN_DB)
    ]
    if unknown:
        names = sorted({name for _, name in unknown})
        raise InvalidArgument(
            f"unknown stems: {', '.join(names)}",
            violations=violations,
            reason="UNKNOWN_STEM",
            metadata={"unknown_stems": ",".join(names)},
        )
    if violations:
        raise InvalidArgument(f"{violations[0].field}: {violations[0].description}", violations=violations)
    if not tree:
        raise FailedPrecondition("the commit has no stems to listen to", reason="NOTHING_TO_RENDER")
    audible = (set(request.solo) or set(tree)) - set(request.mute)
    if not audible:
        raise InvalidArgument.for_field("mute", "every stem is muted or left out of the solo: nothing would sound")
    # `+ 0.0` turns -0.0 into 0.0, so that both spell one cache key.
    return {name: round(float(request.gain_db.get(name, 0.0)), 2) + 0.0 for name in sorted(audible)}


@dataclass(frozen=True)
class Timeline:
    """The rate, channels and length of a commit's full mix, which every mix of the commit keeps."""

    sample_rate: int
    channels: int
    seconds: float

    @classmethod
    def of(cls, tree: Tree) -> Timeline:
        entries = tree.values()
        return cls(
            max(e.sample_rate for e in entries),
            max(e.channels for e in entries),
            max(e.duration_seconds for e in entries),
        )


def render_key(tree: Tree, gains: Mapping[str, float], audio_format: str) -> str:
    """The cache key of a mix: the sha256 of what it sounds like (blobs and gains in a fixed order, the
    timeline, the format)."""
    voices = sorted([tree[name].blob_id, gain] for name, gain in gains.items())
    timeline = Timeline.of(tree)
    document = {
        "version": MIX_VERSION,
        "format": audio_format,
        "voices": voices,
        "timeline": [timeline.sample_rate, timeline.channels, timeline.seconds],
    }
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()


class Renders:
    def __init__(
        self,
        pool: DictPool,
        history: History,
        store: ObjectStore,
        *,
        max_seconds: float,
        concurrency: int = 1,
    ):
        self._index = RenderIndex(pool)
        self._history = history
        self._store = store
        self._max_seconds = max_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._rendering: dict[str, asyncio.Task[RenderedFile]] = {}

    async def render(self, principal: Principal, commit_id: str, repo_id: str, request: MixRequest) -> Render:
        """The commit's mix as asked, rendered now unless an earlier request left it in the store."""
        commit = await self._history.get_commit(principal, commit_id, repo_id)
        gains = plan(commit.tree, request)
        timeline = Timeline.of(commit.tree)
        if timeline.seconds > self._max_seconds:
            raise FailedPrecondition(
                f"the stems are {timeline.seconds:.0f} s long; renders are limited to {self._max_seconds:.0f} s",
                reason="TOO_LONG_TO_RENDER",
                metadata={"limit_seconds": f"{self._max_seconds:.0f}"},
            )
        key = render_key(commit.tree, gains, request.audio_format)
        known = await self._index.find(key)
        if known is not None and await self._store.exists(known.render_id):
            return Render(commit.commit_id, tuple(gains), known, cached=True)
        task = self._rendering.get(key)
        if task is None:
            voices = [(commit.tree[name].blob_id, gain) for name, gain in gains.items()]
            lost = known.render_id if known else None
            task = asyncio.create_task(self._render(key, sorted(voices), timeline, request.audio_format, lost))
            self._rendering[key] = task
            task.add_done_callback(lambda _: self._rendering.pop(key, None))
        # Shielded: a caller that goes away does not cancel the render others wait for.
        return Render(commit.commit_id, tuple(gains), await asyncio.shield(task), cached=False)

    async def read(
        self,
        principal: Principal,
        commit_id: str,
        repo_id: str,
        request: MixRequest,
        render_id: str,
        offset: int,
        length: int,
    ) -> AsyncIterator[bytes]:
        """The bytes of the render (a range of them), checked to be the render `render_id` when one is named."""
        render = await self.render(principal, commit_id, repo_id, request)
        if render_id and render.file.render_id != render_id:
            raise Aborted(
                "the render was made again and its bytes differ; ask for it again",
                reason="RENDER_CHANGED",
                metadata={"render_id": render.file.render_id},
            )
        return self._store.read(render.file.render_id, offset, length or None)

    async def _render(
        self, key: str, voices: list[tuple[str, float]], timeline: Timeline, audio_format: str, lost: str | None
    ) -> RenderedFile:
        """Mixes and publishes the file, then records it for `key` (replacing the record of `lost`, an object
        found missing); returns the file recorded, which is another replica's when it recorded one first."""
        async with self._slots:
            with contextlib.ExitStack() as files:
                stems = []
                for blob_id, gain in voices:
                    spool = files.enter_context(_spool())
                    await self._download(blob_id, spool)
                    stems.append((spool, gain))
                out = files.enter_context(_spool())
                mixed = await asyncio.to_thread(
                    mixdown.mix,
                    stems,
                    out,
                    audio_format,
                    min_rate=timeline.sample_rate,
                    min_channels=timeline.channels,
                    min_seconds=timeline.seconds,
                )
                digest, size = await asyncio.to_thread(file_address, out)
                stored = await self._store.put(
                    iterate_in_thread(iter(lambda: out.read(READ_CHUNK_BYTES), b"")), expected_sha256=digest, size=size
                )
        return await self._index.record(
            key, RenderedFile(stored.blob_id, stored.size, audio_format, mixed), replacing=lost
        )

    async def _download(self, blob_id: str, spool: BinaryIO) -> None:
        async for chunk in self._store.read(blob_id):
            await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(spool.seek, 0)


def _spool() -> BinaryIO:
    """A binary temporary file kept in memory up to a size (typeshed types it as IO[bytes], not BinaryIO)."""
    return cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES))
