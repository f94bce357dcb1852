"""GetHistory responses built once per state of a page and kept, bounded.

A page's response is a function of what the page shows: its commits (immutable: named by the hash of their
content), the branch heads and tags at each, the repository's branches and tags, and the next page's token
(a deterministic signature of the cursor). Building it, two messages per commit and their copies into the
response, was a third of vcs's CPU time on a 50-commit page; a page read again while none of that changed
now costs its key and a look-up, and grpc serializes the kept message. Whether the caller may read the
repository is checked before the page is read (`History.history`), on every call.

Bounded by the responses' encoded size, least recently used first out.
"""

from __future__ import annotations

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_platform.lru import LruCache
from beatflow_vcs.history import HistoryPage
from beatflow_vcs.servicers import convert
from beatflow_vcs.servicers.commit_messages import CommitMessages

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
# (repo id, next page token, (commit id, its branch heads, its tags) per node, branches, tags)
_Key = tuple[str, str, tuple, tuple, tuple]


class HistoryResponses:
    def __init__(self, commit_messages: CommitMessages, max_bytes: int = DEFAULT_MAX_BYTES):
        self._commit_messages = commit_messages
        self._responses: LruCache[_Key, pb.GetHistoryResponse] = LruCache(
            max_bytes, weight=lambda key, response: response.ByteSize()
        )

    def get(self, repo_id: str, page: HistoryPage) -> pb.GetHistoryResponse:
        """The response showing `page`; callers return it and never change it."""
        key = (
            repo_id,
            page.next_page_token,
            tuple((commit.commit_id, tuple(heads), tuple(tags)) for commit, heads, tags in page.nodes),
            tuple((ref.name, ref.commit_id) for ref in page.branches),
            tuple((ref.name, ref.commit_id) for ref in page.tags),
        )
        response = self._responses.get(key)
        if response is None:
            response = self._build(repo_id, page)
            self._responses.put(key, response)
        return response

    def _build(self, repo_id: str, page: HistoryPage) -> pb.GetHistoryResponse:
        nodes = [
            pb.HistoryNode(commit=self._commit_messages.get(commit), branch_heads=heads, tags=tags)
            for commit, heads, tags in page.nodes
        ]
        commits = [convert.history_commit(node.commit, node.branch_heads, node.tags) for node in nodes]
        return pb.GetHistoryResponse(
            repo_id=repo_id,
            nodes=nodes,
            branches=[convert.ref(r) for r in page.branches],
            tags=[convert.ref(r) for r in page.tags],
            next_page_token=page.next_page_token,
            commits=commits,
            root=commits[-1].id if commits and not page.next_page_token else "",
        )

    def __len__(self) -> int:
        return len(self._responses)
