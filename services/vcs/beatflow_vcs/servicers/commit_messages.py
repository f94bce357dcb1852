"""Commit messages built once per commit and kept, bounded.

A commit never changes once made: its id is the hash of its content, and the blobs its stems name are
content addressed too. So its message is a function of its id, built once and copied into each response
that carries it; pages of history are read far more often than commits are made, and building 50 messages
was most of a cached page's cost. Least recently used first out.
"""

from __future__ import annotations

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_platform.lru import LruCache
from beatflow_vcs.servicers import convert
from beatflow_vcs.store import CommitView

DEFAULT_MAX_COMMITS = 10_000


class CommitMessages:
    def __init__(self, max_commits: int = DEFAULT_MAX_COMMITS):
        self._messages: LruCache[str, pb.Commit] = LruCache(max_commits)

    def get(self, view: CommitView) -> pb.Commit:
        """The commit's message; callers copy it into their responses and never change it."""
        message = self._messages.get(view.commit_id)
        if message is None:
            message = convert.commit(view)
            self._messages.put(view.commit_id, message)
        return message

    def __len__(self) -> int:
        return len(self._messages)
