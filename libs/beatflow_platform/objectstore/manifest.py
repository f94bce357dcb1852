"""A chunked blob's manifest: the blob as an ordered list of parts, each a run of its bytes.

A part is either kept inline (the container's header, and any piece under INLINE_MAX_BYTES) or a
chunk: named by the sha256 of its bytes, stored once, compressed, at a place in a pack (`packs/<id>`,
`stored` bytes from `pack_offset`). The parts concatenated are the blob's bytes exactly, so they hash
to the blob id. Stored as JSON under `manifests/<blob id>`; part offsets are the running sum of
their sizes.

A manifest carries a checksum of itself (`checksum`, its last field: the sha256 of the JSON as written
without that field), so a full read can trust the list of parts (which chunks, in which order, how long,
the inline bytes) and verify each chunk against its own id instead of hashing the whole blob. Manifests
written before the checksum existed still decode (`checksummed` False): a full read then verifies the
whole blob as it did. Code that predates the checksum ignores the extra field, so the format stayed.

Each chunk part also carries a fast checksum of the chunk's bytes (`xxh3_128`: XXH3-128, some fifty times
faster than sha256 here), computed at upload beside its sha256. Reads check a chunk against it instead of
its id: the manifest's own checksum covers it, and within the contract (damage, not a deliberate rewrite,
docs/storage.md) a non-cryptographic checksum catches what the id would. Parts written before it have none
and are checked against their id; code that predates it ignores the field.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from functools import cached_property

import xxhash

from beatflow_platform.errors import DataLoss
from beatflow_platform.objectstore.base import is_blob_id

FORMAT = "beatflow-chunked-audio/1"
INLINE_MAX_BYTES = 4096
# A stored manifest ends with its checksum: this key, 64 hex characters, then '"}'.
_CHECKSUM_KEY = b',"checksum":"'
_CHECKSUM_FIELD_BYTES = len(_CHECKSUM_KEY) + 64 + 2
_XXH3_128 = re.compile("[0-9a-f]{32}")


@dataclass(frozen=True)
class ChunkPlace:
    """Where a chunk's compressed bytes lie."""

    pack: str
    offset: int
    stored: int


@dataclass(frozen=True)
class Part:
    size: int
    chunk_id: str | None = None
    place: ChunkPlace | None = None
    inline: bytes | None = None
    # The chunk's XXH3-128 (chunk_checksum), hex; None in parts written before it, checked by their id instead.
    xxh3_128: str | None = None

    def holds(self, data: bytes | memoryview) -> bool:
        """Whether `data` are this chunk's bytes: checked by its fast checksum where it has one, else by its id."""
        if self.xxh3_128 is not None:
            return chunk_checksum(data) == self.xxh3_128
        return hashlib.sha256(data).hexdigest() == self.chunk_id


@dataclass(frozen=True)
class Manifest:
    blob_id: str
    size: int
    container: str
    frame_bytes: int
    compression: str
    parts: tuple[Part, ...]
    # Whether the stored manifest carries a checksum of itself (which matched when it was decoded). Encoding
    # always writes one; False only for manifests written before checksums.
    checksummed: bool = True

    @cached_property
    def offsets(self) -> list[int]:
        return list(itertools.accumulate((part.size for part in self.parts), initial=0))[:-1]

    def covering(self, start: int, end: int) -> list[tuple[int, Part]]:
        """(offset, part) of each part holding bytes of [start, end), in order."""
        first = bisect.bisect_right(self.offsets, start) - 1
        last = bisect.bisect_left(self.offsets, end)
        return list(zip(self.offsets[first:last], self.parts[first:last], strict=True))

    def chunk_ids(self) -> list[str]:
        """The distinct chunks the blob is made of, in order of first use."""
        return list(dict.fromkeys(part.chunk_id for part in self.parts if part.chunk_id))

    def pack_ids(self) -> list[str]:
        """The distinct packs holding its chunks, in order of first use."""
        return list(dict.fromkeys(part.place.pack for part in self.parts if part.place))

    def encode(self) -> bytes:
        """Compact JSON, its checksum last (the sha256 of the same JSON without it)."""
        body = json.dumps(
            {
                "format": FORMAT,
                "blob_id": self.blob_id,
                "size": self.size,
                "container": self.container,
                "frame_bytes": self.frame_bytes,
                "compression": self.compression,
                "parts": [_encode_part(part) for part in self.parts],
            },
            separators=(",", ":"),
        ).encode()
        return body[:-1] + _CHECKSUM_KEY + hashlib.sha256(body).hexdigest().encode() + b'"}'

    @classmethod
    def decode(cls, blob_id: str, data: bytes) -> Manifest:
        """Raises DataLoss when the stored manifest is not one for `blob_id`, its sizes do not add up, or it
        does not match its checksum."""
        manifest = None
        try:
            document = json.loads(data)
            parts = tuple(_decode_part(part) for part in document["parts"])
            manifest = cls(
                document["blob_id"],
                int(document["size"]),
                document["container"],
                int(document["frame_bytes"]),
                document["compression"],
                parts,
                checksummed="checksum" in document,
            )
            valid = document["format"] == FORMAT and manifest.blob_id == blob_id
            valid = valid and sum(part.size for part in parts) == manifest.size
            valid = valid and (not manifest.checksummed or _matches_checksum(data, document["checksum"]))
        except (ValueError, KeyError, TypeError):
            valid = False
        if manifest is None or not valid:
            raise DataLoss(
                f"the manifest of blob {blob_id} is damaged", reason="MANIFEST_CORRUPTED", metadata={"blob_id": blob_id}
            )
        return manifest


def chunk_checksum(data: bytes | memoryview) -> str:
    """The fast checksum a part carries of its chunk's bytes."""
    return xxhash.xxh3_128_hexdigest(data)


def _matches_checksum(data: bytes, checksum: str) -> bool:
    """Whether a stored manifest ends with its checksum field and the JSON without that field hashes to it."""
    field = data[-_CHECKSUM_FIELD_BYTES:]
    body = data[:-_CHECKSUM_FIELD_BYTES] + b"}"
    return field.startswith(_CHECKSUM_KEY) and hashlib.sha256(body).hexdigest() == checksum


def _encode_part(part: Part) -> dict:
    if part.chunk_id is not None:
        place = part.place
        assert place is not None, "a chunk part has a place once its upload is finished"
        fast = {} if part.xxh3_128 is None else {"xxh3_128": part.xxh3_128}
        return {
            "size": part.size,
            "chunk": part.chunk_id,
            **fast,
            "pack": place.pack,
            "at": place.offset,
            "stored": place.stored,
        }
    assert part.inline is not None, "a part is a chunk or inline"
    return {"size": part.size, "inline": base64.b64encode(part.inline).decode()}


def _decode_part(document: dict) -> Part:
    if "chunk" in document:
        if not (is_blob_id(document["chunk"]) and is_blob_id(document["pack"])):
            raise ValueError("chunk and pack ids are 64 hex characters")
        fast = document.get("xxh3_128")
        if fast is not None and not (isinstance(fast, str) and _XXH3_128.fullmatch(fast)):
            raise ValueError("a chunk's xxh3_128 is 32 hex characters")
        place = ChunkPlace(document["pack"], int(document["at"]), int(document["stored"]))
        return Part(int(document["size"]), chunk_id=document["chunk"], place=place, xxh3_128=fast)
    inline = base64.b64decode(document["inline"], validate=True)
    if len(inline) != int(document["size"]):
        raise ValueError("an inline part's size is its length")
    return Part(len(inline), inline=inline)
