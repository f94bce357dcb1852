"""A history page reads about as many commits from the DAG as it shows: one ancestor query of page size + 1
rows in a linear history (it read a batch of 256 however small the page), and the pages still cover the
history once, newest first."""

from __future__ import annotations

import pytest

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_vcs import graph
from tests.audio import tone
from tests.fixtures.vcs import VcsUnderTest

COMMITS = 30
PAGE = 8


@pytest.fixture
def ancestor_queries(monkeypatch) -> list[tuple[int, int]]:
    """(rows asked for, rows read) of every ancestor query the vcs in this process runs."""
    queries: list[tuple[int, int]] = []
    fetch_all = graph.fetch_all

    async def recording(conn, query, params=None):
        rows = await fetch_all(conn, query, params)
        if query is graph._ANCESTORS and params is not None:
            queries.append((params["limit"], len(rows)))
        return rows

    monkeypatch.setattr(graph, "fetch_all", recording)
    return queries


async def test_a_page_reads_its_commits_and_the_next_one(vcs: VcsUnderTest, ancestor_queries):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Long")
    blob_id = (await owner.upload(tone(0.2))).blob_id
    head, made = "", []
    for index in range(COMMITS):
        head = (await owner.commit(repo.repo_id, {"loop": blob_id}, parent=head, message=f"take {index}")).commit_id
        made.append(head)
    ancestor_queries.clear()

    shown, token, pages = [], "", 0
    while True:
        page = await owner.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id, page_size=PAGE, page_token=token))
        shown += [node.commit.commit_id for node in page.nodes]
        pages += 1
        if not (token := page.next_page_token):
            break

    assert shown == made[::-1]
    assert pages == -(-COMMITS // PAGE)
    assert len(ancestor_queries) == pages
    assert all(limit == PAGE + 1 and read <= PAGE + 1 for limit, read in ancestor_queries)
