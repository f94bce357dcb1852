"""Which file each render key produced, in vcs.renders: the render cache's index, shared by replicas and kept
across restarts (the files themselves are content-addressed objects of the store).

The first file recorded for a key stays its file: a replica that rendered the same key at the same
time gets the recorded file back (a WAV, FLAC or MP3 render is the same object anyway; an OGG one is
not, and its own copy stays unreferenced in the store). Only a render made because the recorded
object went missing replaces the row, and only while the row still names that missing object, so
concurrent repairs agree on one file too.
"""

from __future__ import annotations

from dataclasses import dataclass

from beatflow_audio import codec
from beatflow_platform.db.pool import DictPool
from beatflow_platform.db.queries import fetch_one
from beatflow_vcs.mixdown import MixedAudio

_COLUMNS = "object_id, size_bytes, audio_format, frames, sample_rate, channels, headroom_gain_db"
_FIND = f"SELECT {_COLUMNS} FROM vcs.renders WHERE render_key = %s"


@dataclass(frozen=True)
class RenderedFile:
    """A mix as stored: an object of the store and what it holds."""

    render_id: str
    size_bytes: int
    audio_format: str
    audio: MixedAudio

    @property
    def content_type(self) -> str:
        return codec.CONTENT_TYPES[self.audio_format]


class RenderIndex:
    def __init__(self, pool: DictPool):
        self._pool = pool

    async def find(self, key: str) -> RenderedFile | None:
        """The file recorded for `key` (its object may since have gone from the store), or None."""
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, _FIND, (key,))
        return _file(row) if row else None

    async def record(self, key: str, rendered: RenderedFile, *, replacing: str | None = None) -> RenderedFile:
        """Records `rendered` as the file of `key` unless a file is recorded already (one whose object id is
        `replacing` is replaced); returns the file the key names now."""
        values = {
            "key": key,
            "object_id": rendered.render_id,
            "size_bytes": rendered.size_bytes,
            "audio_format": rendered.audio_format,
            "frames": rendered.audio.frames,
            "sample_rate": rendered.audio.sample_rate,
            "channels": rendered.audio.channels,
            "headroom_gain_db": rendered.audio.headroom_gain_db,
            "replacing": replacing,
        }
        async with self._pool.connection() as conn:
            # With `replacing` None the WHERE never holds: a plain INSERT ... ON CONFLICT DO NOTHING.
            row = await fetch_one(
                conn,
                f"INSERT INTO vcs.renders AS r (render_key, {_COLUMNS})"
                " VALUES (%(key)s, %(object_id)s, %(size_bytes)s, %(audio_format)s, %(frames)s, %(sample_rate)s,"
                " %(channels)s, %(headroom_gain_db)s)"
                " ON CONFLICT (render_key) DO UPDATE SET object_id = EXCLUDED.object_id,"
                " size_bytes = EXCLUDED.size_bytes, audio_format = EXCLUDED.audio_format, frames = EXCLUDED.frames,"
                " sample_rate = EXCLUDED.sample_rate, channels = EXCLUDED.channels,"
                " headroom_gain_db = EXCLUDED.headroom_gain_db, created_at = now()"
                " WHERE r.object_id = %(replacing)s"
                f" RETURNING {_COLUMNS}",
                values,
            )
            if row is None:
                row = await fetch_one(conn, _FIND, (key,))
        assert row is not None  # the upsert wrote the row, or left the conflicting one in place
        return _file(row)


def _file(row: dict) -> RenderedFile:
    audio = MixedAudio(row["frames"], row["sample_rate"], row["channels"], row["headroom_gain_db"])
    return RenderedFile(row["object_id"], row["size_bytes"], row["audio_format"], audio)
