"""History pages come from the in-process cache once read (no DAG query again), yet the access check runs on
every read: a cached page is never served to a caller who cannot read the repository (a stranger, an anonymous
caller, a collaborator since removed), and a new commit or tag shows at once."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest

from beatflow.vcs.v1 import repositories_pb2, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_vcs import graph
from beatflow_vcs.history import HistoryPage
from beatflow_vcs.history_pages import HistoryPages, Page
from beatflow_vcs.servicers.commit_messages import CommitMessages
from beatflow_vcs.servicers.history_responses import HistoryResponses
from beatflow_vcs.store import CommitView, Ref
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

COMMITS = 6
PAGE = 4


@pytest.fixture
def ancestor_queries(monkeypatch) -> list[list[str]]:
    """The commit ids each DAG walk query of the vcs in this process starts from."""
    queries: list[list[str]] = []
    fetch_all = graph.fetch_all

    async def recording(conn, query, params=None):
        if query is graph._ANCESTORS and params is not None:
            queries.append(list(params["ids"]))
        return await fetch_all(conn, query, params)

    monkeypatch.setattr(graph, "fetch_all", recording)
    return queries


async def _private_history(owner: Caller) -> tuple[str, str, list[str]]:
    """A private repository with a linear history; (repo id, blob id, commit ids oldest first)."""
    repo = await owner.create_repo("Private song", is_public=False)
    blob_id = (await owner.upload(tone(0.2))).blob_id
    head, made = "", []
    for index in range(COMMITS):
        head = (await owner.commit(repo.repo_id, {"loop": blob_id}, parent=head, message=f"take {index}")).commit_id
        made.append(head)
    return repo.repo_id, blob_id, made


def _ids(page: pb.GetHistoryResponse) -> list[str]:
    return [node.commit.commit_id for node in page.nodes]


async def test_a_second_read_of_a_page_walks_no_dag(vcs: VcsUnderTest, ancestor_queries):
    owner = await vcs.sign_up()
    repo_id, _, made = await _private_history(owner)
    request = pb.GetHistoryRequest(repo_id=repo_id, page_size=PAGE)

    ancestor_queries.clear()
    first = await owner.vc.GetHistory(request)
    walked = len(ancestor_queries)
    again = await owner.vc.GetHistory(request)
    log = await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo_id, ref="main", page_size=PAGE))

    assert walked >= 1 and len(ancestor_queries) == walked  # the read again and the log of the same head: cached
    assert _ids(first) == _ids(again) == made[::-1][:PAGE]
    assert [commit.commit_id for commit in log.commits] == _ids(first)
    assert again.next_page_token == first.next_page_token != ""
    rest = await owner.vc.GetHistory(
        pb.GetHistoryRequest(repo_id=repo_id, page_size=PAGE, page_token=again.next_page_token)
    )
    assert _ids(rest) == made[::-1][PAGE:]


async def test_a_cached_page_is_never_served_to_whom_cannot_read_the_repository(vcs: VcsUnderTest):
    owner, stranger = await vcs.sign_up(), await vcs.sign_up()
    repo_id, _, _ = await _private_history(owner)
    request = pb.GetHistoryRequest(repo_id=repo_id, page_size=PAGE)
    owners_page = await owner.vc.GetHistory(request)  # cached now
    anonymous = version_control_pb2_grpc.VersionControlServiceStub(vcs.channel)
    next_page = pb.GetHistoryRequest(repo_id=repo_id, page_size=PAGE, page_token=owners_page.next_page_token)
    log = pb.GetLogRequest(repo_id=repo_id, ref="main", page_size=PAGE)

    for call in (
        stranger.vc.GetHistory(request),
        stranger.vc.GetHistory(next_page),
        stranger.vc.GetLog(log),
        anonymous.GetHistory(request),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND

    # A collaborator reads the cached page, and is refused it once removed.
    grant = repositories_pb2.PutCollaboratorRequest(
        repo_id=repo_id, username=stranger.user.username, role=repositories_pb2.COLLABORATOR_ROLE_READ
    )
    await owner.repos.PutCollaborator(grant)
    assert _ids(await stranger.vc.GetHistory(request)) == _ids(owners_page)
    await owner.repos.RemoveCollaborator(
        repositories_pb2.RemoveCollaboratorRequest(repo_id=repo_id, username=stranger.user.username)
    )
    assert (await rpc_error(stranger.vc.GetHistory(request))).code() == grpc.StatusCode.NOT_FOUND


async def test_a_new_commit_and_a_new_tag_show_at_once(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo_id, blob_id, made = await _private_history(owner)
    request = pb.GetHistoryRequest(repo_id=repo_id, page_size=PAGE)
    before = await owner.vc.GetHistory(request)

    await owner.vc.CreateTag(pb.CreateTagRequest(repo_id=repo_id, name="v1", target=made[-1]))
    tagged = await owner.vc.GetHistory(request)
    newer = (await owner.commit(repo_id, {"loop": blob_id}, parent=made[-1], message="one more")).commit_id
    after = await owner.vc.GetHistory(request)

    assert _ids(tagged) == _ids(before) and list(tagged.nodes[0].tags) == ["v1"] and not before.nodes[0].tags
    assert _ids(after) == [newer, *made[::-1][: PAGE - 1]]
    assert list(after.nodes[0].branch_heads) == ["main"] and list(after.nodes[1].tags) == ["v1"]


def _commit(commit_id: str) -> CommitView:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return CommitView(commit_id, (), "author", "someone", "take", 120.0, "C major", {}, {}, created)


async def test_the_cache_holds_at_most_its_commits_least_recently_used_out():
    pages = HistoryPages(max_commits=5)
    reads: list[str] = []

    def page_of(*ids: str):
        async def read() -> Page:
            reads.append(ids[0])
            return Page(tuple(_commit(i) for i in ids), ())

        return read

    await pages.get(["a"], 2, page_of("a", "a1"))
    await pages.get(["b"], 2, page_of("b", "b1"))
    await pages.get(["a"], 2, page_of("a", "a1"))  # cached: and now the most recently used
    await pages.get(["c"], 2, page_of("c", "c1"))  # 6 commits > 5: "b" goes
    await pages.get(["a"], 2, page_of("a", "a1"))
    await pages.get(["b"], 2, page_of("b", "b1"))
    await pages.get(["big"], 9, page_of(*"0123456"))  # larger than the whole cache: never kept
    await pages.get(["big"], 9, page_of(*"0123456"))

    assert reads == ["a", "b", "c", "b", "0", "0"]
    assert len(pages) == 2


def test_a_commit_message_is_built_once_and_the_memo_is_bounded():
    messages = CommitMessages(max_commits=2)
    first = messages.get(_commit("a" * 64))
    assert first.commit_id == "a" * 64 and first.render_url.endswith("a" * 64 + "/render")
    assert messages.get(_commit("a" * 64)) is first, "built once"
    messages.get(_commit("b" * 64))
    messages.get(_commit("a" * 64))  # used again: "b" is now the least recently used
    messages.get(_commit("c" * 64))
    assert len(messages) == 2 and messages.get(_commit("a" * 64)) is first


def _ref(kind: str, name: str, commit_id: str) -> Ref:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return Ref(kind, name, commit_id, "", None, at, at)


def test_a_history_response_is_built_once_per_state_of_its_page_and_the_memo_is_bounded():
    a, b = "a" * 64, "b" * 64
    main = _ref("branch", "main", a)

    def page(tags: list[Ref], token: str = "") -> HistoryPage:
        nodes = [(_commit(a), ["main"], [t.name for t in tags if t.commit_id == a]), (_commit(b), [], [])]
        return HistoryPage(nodes, [main], tags, token)

    responses = HistoryResponses(CommitMessages())
    first = responses.get("repo", page([]))
    assert [n.commit.commit_id for n in first.nodes] == [c.id for c in first.commits] == [a, b]
    assert first.root == b and list(first.nodes[0].branch_heads) == ["main"]
    assert responses.get("repo", page([])) is first, "the same page state: the kept response"

    tagged = responses.get("repo", page([_ref("tag", "v1", a)]))
    assert tagged is not first and list(tagged.nodes[0].tags) == ["v1"] and [t.name for t in tagged.tags] == ["v1"]
    more = responses.get("repo", page([], token="next"))
    assert more.next_page_token == "next" and more.root == "", "a page with more after it names no root"
    assert responses.get("other repo", page([])).repo_id == "other repo"

    small = HistoryResponses(CommitMessages(), max_bytes=first.ByteSize() + tagged.ByteSize() - 1)
    small.get("repo", page([]))
    small.get("repo", page([_ref("tag", "v1", a)]))
    assert len(small) == 1, "bounded by the responses' encoded size"
