"""Diffs and three-way merges of commit trees and metadata (pure functions, no I/O)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from beatflow_vcs.commits import Tree

METADATA_FIELDS = ("bpm", "key_signature", "generation_params")


class Change(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


@dataclass(frozen=True)
class StemChange:
    name: str
    change: Change
    old_blob_id: str
    new_blob_id: str


@dataclass(frozen=True)
class StemConflict:
    name: str
    base_blob_id: str
    ours_blob_id: str
    theirs_blob_id: str
    # Why the stem cannot be merged by time range (set by the audio merge).
    reason: str = ""


@dataclass(frozen=True)
class RangeConflict:
    """Both sides changed `stem` between `start` and `end` seconds (on the base's timeline)."""

    stem: str
    start: float
    end: float
    base_blob_id: str
    ours_blob_id: str
    theirs_blob_id: str


@dataclass(frozen=True)
class RangeChoice:
    """A caller's resolution: `source` ("ours", "theirs" or a take's blob id) from `start` to `end` seconds."""

    stem: str
    start: float
    end: float
    source: str


@dataclass(frozen=True)
class StemSplice:
    """A stem both sides changed, spliced into a new blob: (source, start, end) per taken range."""

    stem: str
    blob_id: str
    ranges: tuple[tuple[str, float, float], ...]


@dataclass(frozen=True)
class MetadataConflict:
    field: str
    base_value: object
    ours_value: object
    theirs_value: object


def blob_of(tree: Tree, name: str) -> str:
    entry = tree.get(name)
    return entry.blob_id if entry else ""


def diff_trees(old: Tree, new: Tree) -> list[StemChange]:
    changes = []
    for name in sorted(old.keys() | new.keys()):
        before, after = blob_of(old, name), blob_of(new, name)
        if before == after:
            continue
        change = Change.ADDED if not before else Change.REMOVED if not after else Change.MODIFIED
        changes.append(StemChange(name, change, before, after))
    return changes


def diff_metadata(old: dict, new: dict) -> list[tuple[str, str, str]]:
    """(field, old, new) for each metadata field that differs, values rendered as text."""
    return [(name, render(old[name]), render(new[name])) for name in METADATA_FIELDS if old[name] != new[name]]


def render(value: object) -> str:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class MergeResult:
    tree: Tree
    metadata: dict
    stem_conflicts: list[StemConflict]
    metadata_conflicts: list[MetadataConflict]

    @property
    def clean(self) -> bool:
        return not self.stem_conflicts and not self.metadata_conflicts


def merge(
    base: tuple[Tree, dict],
    ours: tuple[Tree, dict],
    theirs: tuple[Tree, dict],
    resolutions: dict[str, str] | None = None,
) -> MergeResult:
    """Three-way merge: a side's change wins where only it changed; where both changed a stem
    or field differently, `resolutions` ("ours"/"theirs" by name) decides, or it is a conflict."""
    resolutions = resolutions or {}
    (base_tree, base_meta), (our_tree, our_meta), (their_tree, their_meta) = base, ours, theirs

    tree: Tree = {}
    stem_conflicts = []
    for name in sorted(base_tree.keys() | our_tree.keys() | their_tree.keys()):
        b, o, t = (blob_of(x, name) for x in (base_tree, our_tree, their_tree))
        if o == t or t == b:
            chosen = our_tree.get(name)
        elif o == b:
            chosen = their_tree.get(name)
        elif name in resolutions:
            chosen = (our_tree if resolutions[name] == "ours" else their_tree).get(name)
        else:
            stem_conflicts.append(StemConflict(name, b, o, t))
            continue
        if chosen is not None:
            tree[name] = chosen

    metadata = {}
    metadata_conflicts = []
    for name in METADATA_FIELDS:
        b, o, t = base_meta[name], our_meta[name], their_meta[name]
        if o == t or t == b:
            metadata[name] = o
        elif o == b:
            metadata[name] = t
        elif name in resolutions:
            metadata[name] = o if resolutions[name] == "ours" else t
        else:
            metadata_conflicts.append(MetadataConflict(name, b, o, t))
            metadata[name] = o
    return MergeResult(tree, metadata, stem_conflicts, metadata_conflicts)
