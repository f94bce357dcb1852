"""Repository and stem names in any script: NFC on the way in, one name per owner up to case and Unicode
spelling (NFKC with case folding), refusals in words, and names written before migration 0009 kept."""

from __future__ import annotations

import unicodedata
import uuid

import grpc
import numpy as np
import psycopg
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.vcs.v1 import repositories_pb2 as pb
from beatflow_audio import codec
from beatflow_devtools.postgres import LocalPostgres
from beatflow_platform import naming
from beatflow_platform.db.catalog import declared_migration_sets
from beatflow_platform.db.migrations import migrate
from beatflow_platform.db.pool import connect
from beatflow_platform.errors import InvalidArgument
from beatflow_vcs import validation
from tests.fixtures.vcs import VcsUnderTest, rpc_error


def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """field -> description of the BadRequest detail of a refusal."""
    found = {}
    for detail in rpc_status.from_call(error).details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


async def rename(caller, repo_id: str, name: str) -> pb.Repository:
    request = pb.UpdateRepositoryRequest(
        repo_id=repo_id, repository=pb.Repository(name=name), update_mask=FieldMask(paths=["name"])
    )
    return (await caller.repos.UpdateRepository(request)).repository


@pytest.mark.parametrize(
    "name", ["Café del Mar", "夏の終わり", "B♭ Blues (live) 🎵", "Ночной город", "مقام", "Sätze & Töne: Nr. 2!"]
)
async def test_names_in_any_script_are_kept_as_written(vcs: VcsUnderTest, name):
    alice = await vcs.sign_up()
    created = await alice.create_repo(name)
    fetched = (await alice.repos.GetRepository(pb.GetRepositoryRequest(repo_id=created.repo_id))).repository
    assert created.name == fetched.name == name


async def test_names_are_stored_nfc(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    decomposed = "Cafe\u0301 Noir"
    created = await alice.create_repo(decomposed)
    assert created.name == "Café Noir" == unicodedata.normalize("NFC", decomposed)
    renamed = await rename(alice, created.repo_id, "Re\u0301sume\u0301")
    assert renamed.name == "Résumé"
    fork = (
        await alice.repos.ForkRepository(
            pb.ForkRepositoryRequest(original_repo_id=created.repo_id, fork_name="Nai\u0308ve")
        )
    ).repository
    assert fork.name == "Naïve"


@pytest.mark.parametrize(
    "same_name",
    [
        "Café del Mar",
        "CAFE\u0301 DEL MAR",
        "café del mar",
        "\uff43\uff41\uff46\u00e9 \uff44\uff45\uff4c \uff4d\uff41\uff52",
        "CAFÉ DEL MAR",
    ],
)
async def test_one_name_per_owner_up_to_case_and_unicode_spelling(vcs: VcsUnderTest, same_name):
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    await alice.create_repo("Café del Mar")
    error = await rpc_error(alice.create_repo(same_name))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "already have a repository named" in error.details() and "letter case" in error.details()
    # Another owner may use it, and a different name is not caught by the folding.
    assert (await bob.create_repo(same_name)).name == unicodedata.normalize("NFC", same_name)
    assert (await alice.create_repo("Cafe del Mar")).name == "Cafe del Mar"


async def test_renames_and_forks_respect_the_folded_names(vcs: VcsUnderTest):
    alice, bob = await vcs.sign_up(), await vcs.sign_up()
    first = await alice.create_repo("Straße")
    second = await alice.create_repo("Gasse")
    error = await rpc_error(rename(alice, second.repo_id, "STRASSE"))  # ß folds to ss
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS and "letter case" in error.details()
    # A repository may change the case of its own name.
    assert (await rename(alice, first.repo_id, "STRAßE")).name == "STRAßE"

    public = await bob.create_repo("Ночной город", is_public=True)
    await alice.create_repo("НОЧНОЙ ГОРОД")
    fork = alice.repos.ForkRepository(pb.ForkRepositoryRequest(original_repo_id=public.repo_id))
    assert (await rpc_error(fork)).code() == grpc.StatusCode.ALREADY_EXISTS
    named = alice.repos.ForkRepository(pb.ForkRepositoryRequest(original_repo_id=public.repo_id, fork_name="Ночь 2"))
    assert (await named).repository.name == "Ночь 2"


@pytest.mark.parametrize(
    "name",
    [
        "Beats/Loops",  # a separator of paths
        "back\\slash",
        "zero\u200bwidth",  # format characters: invisible
        "right\u202eto left",
        "private\ue000use",
        "tab\there",
        " leading space",
        "trailing space ",
        "\u0301accent first",
        ".hidden",
        "-dash first",
        "x" * 101,
        "e\u0301" * 101,  # 101 characters once NFC, 202 as sent
    ],
)
async def test_other_characters_are_refused_with_the_rule_in_words(vcs: VcsUnderTest, name):
    alice = await vcs.sign_up()
    error = await rpc_error(alice.create_repo(name))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == {"name": naming.REPOSITORY_NAME_RULE}


async def test_a_name_shortened_by_nfc_to_the_limit_is_accepted(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    created = await alice.create_repo("e\u0301" * naming.MAX_REPOSITORY_NAME_LENGTH)
    assert created.name == "é" * naming.MAX_REPOSITORY_NAME_LENGTH


async def test_stems_named_in_any_script(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    repo = await alice.create_repo("Lieder")
    tone = 0.2 * np.sin(2 * np.pi * 220.0 * np.arange(22050) / 44100)
    take = await alice.upload(codec.encode(tone.astype(np.float32), 44100, "WAV"))
    names = {"gesang": take.blob_id, "ボーカル": take.blob_id, "bajo eléctrico": take.blob_id}
    commit = await alice.commit(repo.repo_id, names)
    assert sorted(stem.name for stem in commit.stems) == sorted(names)

    for bad, rule in [
        ("Gesang", naming.STEM_NAME_RULE),  # keys have one case
        ("drums,bass", naming.STEM_NAME_RULE),  # ',' separates mute and solo lists
        ("gain.db", naming.STEM_NAME_RULE),
        ("e\u0301cho", "must be in Unicode NFC (composed) form"),
    ]:
        error = await rpc_error(alice.commit(repo.repo_id, {bad: take.blob_id}, parent=commit.commit_id))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert violations(error) == {"stems[0].name": rule}, bad


def test_a_valid_name_stays_valid_once_nfc():
    """What the services store (NFC) must pass the rule that the name passed as sent."""
    for code_point in (*range(0x40000), *range(0xE0000, 0xF0000)):
        character = chr(code_point)
        for pattern in (naming.REPOSITORY_NAME, naming.STEM_NAME):
            for name in (f"{character}a", f"a{character}a"):
                if naming.matches(pattern, name):
                    assert naming.matches(pattern, unicodedata.normalize("NFC", name)), (name, hex(code_point))


async def test_names_written_before_migration_0009_keep_their_uniqueness(postgres_cluster: LocalPostgres):
    vcs_migrations = next(s.migrations for s in declared_migration_sets() if s.schema == "vcs")
    before = [m for m in vcs_migrations if m.version < 9]
    database = f"migration_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_cluster.dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        conn = await connect(postgres_cluster.dsn(database))
        async with conn:
            await migrate(conn, "vcs", before)
            owner = uuid.uuid4()
            await conn.execute(
                "INSERT INTO vcs.users (id, username, email, password_hash) VALUES (%s, 'kate', 'k@example.com', 'x')",
                (owner,),
            )
            for name in ("Night Drive", "beats_v2.0", "Summer Tape"):
                await conn.execute(
                    "INSERT INTO vcs.repositories (id, owner_id, name) VALUES (%s, %s, %s)", (uuid.uuid4(), owner, name)
                )
            assert [m.version for m in await migrate(conn, "vcs", vcs_migrations)] == [9]
            rows = await (await conn.execute("SELECT name, name_key FROM vcs.repositories")).fetchall()
            assert {row["name"]: row["name_key"] for row in rows} == {
                name: naming.name_key(name) for name in ("Night Drive", "beats_v2.0", "Summer Tape")
            }
            assert all(naming.matches(naming.REPOSITORY_NAME, row["name"]) for row in rows)
            with pytest.raises(psycopg.errors.UniqueViolation):
                await conn.execute(
                    "INSERT INTO vcs.repositories (id, owner_id, name, name_key) VALUES (%s, %s, %s, %s)",
                    (uuid.uuid4(), owner, "NIGHT DRIVE", naming.name_key("NIGHT DRIVE")),
                )
    finally:
        with psycopg.connect(postgres_cluster.dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_a_stem_named_to_settle_a_range_is_found_in_any_normal_form():
    """Creating a stem needs its name in NFC (names are keys); naming one to find it does not."""
    assert validation.stem_reference("e\u0301cho", "range_resolutions[0].stem") == "écho"
    with pytest.raises(InvalidArgument) as refused:
        validation.stem_reference("E\u0301cho", "range_resolutions[0].stem")
    assert refused.value.violations[0].field == "range_resolutions[0].stem"
