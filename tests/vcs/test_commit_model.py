"""The pure core: canonical commits, keys, tree diffs and three-way merges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from beatflow_platform.errors import InvalidArgument
from beatflow_vcs.commits import CommitContent, TreeEntry, check_bpm, check_params, normalise_key
from beatflow_vcs.merging import Change, diff_trees, merge


def entry(blob: str) -> TreeEntry:
    return TreeEntry(blob * 64, 1000, "WAV", 1.0, 44100, 2)


def content(**changes) -> CommitContent:
    fields = {
        "parents": ("p" * 64,),
        "author_id": "author",
        "message": "take 1",
        "bpm": 120.0,
        "key_signature": "C major",
        "generation_params": {"seed": 1, "prompt": "x"},
        "tree": {"drums": entry("a"), "bass": entry("b")},
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    return CommitContent(**{**fields, **changes})


def test_id_is_the_sha256_of_canonical_bytes_and_ignores_dict_order():
    one = content()
    reordered = content(tree={"bass": entry("b"), "drums": entry("a")}, generation_params={"prompt": "x", "seed": 1})
    assert one.commit_id == reordered.commit_id
    assert len(one.commit_id) == 64
    assert b'"time":"2026-01-02T03:04:05.678901+00:00"' in one.canonical()


@pytest.mark.parametrize(
    "change",
    [
        {"message": "take 2"},
        {"bpm": 121.0},
        {"key_signature": "A minor"},
        {"parents": ()},
        {"author_id": "someone else"},
        {"generation_params": {"seed": 2, "prompt": "x"}},
        {"tree": {"drums": entry("a")}},
        {"tree": {"drums": entry("a"), "bass": entry("c")}},
        {"created_at": datetime(2026, 1, 2, 3, 4, 5, 678902, tzinfo=UTC)},
    ],
)
def test_every_field_is_part_of_the_id(change):
    assert content(**change).commit_id != content().commit_id


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("C Major", "C major"),
        ("a min", "A minor"),
        ("F#m", "F# minor"),
        ("bb", "Bb major"),
        ("", ""),
        ("E♭ minor", "Eb minor"),
        ("d Dorian", "D dorian"),
        ("C lydian", "C lydian"),
    ],
)
def test_keys_are_normalised(raw, normal):
    assert normalise_key(raw) == normal


@pytest.mark.parametrize("bad", ["H major", "C blues", "C# major please", "123"])
def test_bad_keys_are_refused(bad):
    with pytest.raises(InvalidArgument):
        normalise_key(bad)


def test_bpm_and_params_limits():
    assert check_bpm(0) == 0 and check_bpm(174.5) == 174.5
    for bad in (-1, 0.5, 1000, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument):
            check_bpm(bad)
    with pytest.raises(InvalidArgument):
        check_params({"x": float("nan")})
    with pytest.raises(InvalidArgument):
        check_params({"x": "y" * 20000})


def test_diff_trees():
    old = {"drums": entry("a"), "bass": entry("b")}
    new = {"drums": entry("c"), "keys": entry("d")}
    assert [(c.name, c.change) for c in diff_trees(old, new)] == [
        ("bass", Change.REMOVED),
        ("drums", Change.MODIFIED),
        ("keys", Change.ADDED),
    ]


META = {"bpm": 100.0, "key_signature": "C major", "generation_params": {}}


def test_three_way_merge_table():
    base = ({"drums": entry("a"), "bass": entry("b"), "gone": entry("g")}, META)
    ours = ({"drums": entry("c"), "bass": entry("b"), "gone": entry("g"), "vox": entry("v")}, {**META, "bpm": 110.0})
    theirs = ({"drums": entry("a"), "bass": entry("d")}, {**META, "key_signature": "A minor"})
    result = merge(base, ours, theirs)
    assert result.clean
    assert {n: e.blob_id[0] for n, e in result.tree.items()} == {"drums": "c", "bass": "d", "vox": "v"}
    assert result.metadata == {"bpm": 110.0, "key_signature": "A minor", "generation_params": {}}


def test_conflicts_are_reported_not_guessed_and_resolutions_apply():
    base = ({"drums": entry("a")}, META)
    ours = ({"drums": entry("b")}, {**META, "bpm": 90.0})
    theirs = ({}, {**META, "bpm": 95.0})
    result = merge(base, ours, theirs)
    assert [(c.name, c.ours_blob_id[0], c.theirs_blob_id) for c in result.stem_conflicts] == [("drums", "b", "")]
    assert [(c.field, c.ours_value, c.theirs_value) for c in result.metadata_conflicts] == [("bpm", 90.0, 95.0)]
    resolved = merge(base, ours, theirs, {"drums": "theirs", "bpm": "ours"})
    assert resolved.clean and resolved.tree == {} and resolved.metadata["bpm"] == 90.0
