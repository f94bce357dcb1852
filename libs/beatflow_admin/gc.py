"""`beatflow-admin gc`: mark-and-sweep of blobs, renders and, in a chunking store, chunks (see marking.py,
sweepers.py and chunk_sweepers.py).

The sweepers run in order on one vcs connection that holds the marks: blobs first (their objects
go), then renders, then the packs and chunk-index entries no remaining object references.
"""

from __future__ import annotations

from beatflow_admin.chunk_sweepers import CHUNK_INDEX, PACKS, ChunkStoreSweeper
from beatflow_admin.marking import MarkReport, mark
from beatflow_admin.settings import AdminSettings
from beatflow_admin.sweepers import BlobSweeper, RenderSweeper
from beatflow_platform.db.gc import LiveIds, Sweeper, SweepReport
from beatflow_platform.db.pool import DictConnection, connect
from beatflow_platform.objectstore import ObjectStore, create_object_store
from beatflow_platform.objectstore.chunked import ChunkedAudioStore


def sweepers(vcs: DictConnection, store: ObjectStore, settings: AdminSettings) -> list[Sweeper]:
    """The sweepers of one collection, in the order they run (chunks last: they see what the others left)."""
    batch = settings.batch_size
    found: list[Sweeper] = [
        BlobSweeper(vcs, store, grace=settings.gc_grace, batch_size=batch),
        RenderSweeper(vcs, store, retention=settings.render_retention, batch_size=batch),
    ]
    if isinstance(store, ChunkedAudioStore):
        # The grace period spares packs and index entries an upload is writing or reusing (chunk_sweepers.py).
        grace = settings.gc_grace
        found += [ChunkStoreSweeper(vcs, store, kind, grace=grace, batch_size=batch) for kind in (PACKS, CHUNK_INDEX)]
    return found


async def collect_garbage(
    settings: AdminSettings, *, dry_run: bool, store: ObjectStore | None = None
) -> tuple[MarkReport, list[SweepReport]]:
    """One collection: marks, then every sweeper in turn (with dry_run nothing is deleted)."""
    store = store or await create_object_store(settings.object_store)
    async with (
        await connect(settings.vcs_database_url.get_secret_value()) as vcs,
        await connect(settings.jobs_database_url.get_secret_value()) as jobs,
    ):
        live = LiveIds(vcs)
        marked = await mark(live, jobs, settings.finished_job_retention)
        reports = [await sweeper.sweep(dry_run=dry_run) for sweeper in sweepers(vcs, store, settings)]
    return marked, reports
