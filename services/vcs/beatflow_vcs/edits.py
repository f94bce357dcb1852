"""A commit as an edit of its parent (pure).

A CreateCommit request names only what changes: stems to add or replace, stems to remove,
and the metadata given (non-zero bpm, non-empty key and generation params); the new commit
inherits everything else from its parent. With `replace_tree` the request is the whole new
commit instead (the form clients used before edits existed): nothing is inherited.
"""

from __future__ import annotations

from dataclasses import dataclass

from beatflow_platform import naming
from beatflow_platform.errors import InvalidArgument
from beatflow_vcs import validation
from beatflow_vcs.commits import Tree


@dataclass(frozen=True)
class StemSpec:
    name: str
    blob_id: str


@dataclass(frozen=True)
class CommitEdit:
    """What a commit request changes. Zero bpm and empty key or params mean "the parent's" (edits)."""

    stems: tuple[StemSpec, ...] = ()
    remove_stems: tuple[str, ...] = ()
    bpm: float = 0
    key_signature: str = ""
    generation_params: dict | None = None
    replace_tree: bool = False


@dataclass(frozen=True)
class Metadata:
    bpm: float
    key_signature: str
    generation_params: dict


def check_shape(edit: CommitEdit) -> None:
    """Stem names and the combinations that cannot mean anything (counts and blob ids are the request's rules)."""
    names = [validation.stem_name(s.name, f"stems[{i}].name") for i, s in enumerate(edit.stems)]
    if len(set(names)) != len(names):
        raise InvalidArgument.for_field("stems", "stem names must be unique")
    if edit.replace_tree and edit.remove_stems:
        raise InvalidArgument.for_field("remove_stems", "must be empty with replace_tree (the tree is given whole)")
    seen: set[str] = set()
    for index, name in enumerate(edit.remove_stems):
        field = f"remove_stems[{index}]"
        validation.stem_name(name, field)
        if name in seen:
            raise InvalidArgument.for_field(field, f"{name!r} is named twice")
        if name in names:
            raise InvalidArgument.for_field(field, f"{name!r} is both in stems and in remove_stems")
        seen.add(name)


def check_removals(edit: CommitEdit, parent_tree: Tree) -> None:
    """Every stem to remove must be in the parent: a typo must not pass as a no-op."""
    for index, name in enumerate(edit.remove_stems):
        if name not in parent_tree:
            held = ", ".join(sorted(parent_tree)) or "none"
            raise InvalidArgument.for_field(
                f"remove_stems[{index}]", f"the parent commit has no stem {name!r} (its stems: {held})"
            )


def edited_tree(parent_tree: Tree, put: Tree, edit: CommitEdit) -> Tree:
    """The new tree: `put` over the parent's stems minus the removed ones, or `put` alone with replace_tree."""
    if edit.replace_tree:
        tree = dict(put)
    else:
        tree = {name: entry for name, entry in parent_tree.items() if name not in edit.remove_stems}
        tree.update(put)
    if len(tree) > naming.MAX_STEMS_PER_COMMIT:
        raise InvalidArgument.for_field(
            "stems", f"the commit would have {len(tree)} stems; at most {naming.MAX_STEMS_PER_COMMIT}"
        )
    return tree


def edited_metadata(parent: Metadata | None, edit: CommitEdit) -> Metadata:
    """Given values win; in an edit, missing ones are the parent's (unknown for a first commit)."""
    given = Metadata(edit.bpm, edit.key_signature, edit.generation_params or {})
    if edit.replace_tree or parent is None:
        return given
    return Metadata(
        bpm=given.bpm or parent.bpm,
        key_signature=given.key_signature or parent.key_signature,
        generation_params=given.generation_params or parent.generation_params,
    )
