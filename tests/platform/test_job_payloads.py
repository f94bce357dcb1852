"""Typed payloads at the queue's boundary: stored as their JSON, read back by the kind's class."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from beatflow_platform.jobs.model import NewJob
from beatflow_platform.jobs.payloads import JsonObject
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.pagination import PageTokens
from tests.platform.stored_jobs import stored_payload


@dataclass(frozen=True)
class Echo:
    text: str
    batch_id: str = ""

    def to_json(self) -> JsonObject:
        return {"text": self.text, **({"batch_id": self.batch_id} if self.batch_id else {})}

    @classmethod
    def from_json(cls, data: JsonObject) -> Echo:
        return cls(data["text"], data.get("batch_id", ""))


@pytest.fixture
def queue(pool):
    return JobQueue(pool, PageTokens("payload-tests"))


async def test_a_typed_payload_is_stored_as_its_json_and_read_back(queue, database_dsn):
    submitted = await queue.submit("test.echo", "alice", Echo("hi"))
    assert await stored_payload(database_dsn, submitted.job_id) == {"text": "hi"}
    claimed = await queue.claim(["test.echo"], "worker-1", lease_seconds=30)
    assert claimed is not None and Echo.from_json(claimed.payload) == Echo("hi")
    assert claimed.batch_id == "", "a payload without a batch id runs alone"


async def test_typed_and_plain_payloads_queue_together_and_batch_by_their_stored_id(queue):
    first, second = await queue.submit_many(
        "alice", [NewJob("test.echo", Echo("a", batch_id="b1")), NewJob("test.echo", {"text": "b", "batch_id": "b1"})]
    )
    assert (first.batch_id, second.batch_id) == ("b1", "b1")
    claimed = await queue.claim(["test.echo"], "worker-1", lease_seconds=30)
    assert claimed is not None and claimed.job_id == first.job_id
    siblings = await queue.claim_batch(claimed, "worker-1", lease_seconds=30, limit=5)
    assert [Echo.from_json(job.payload) for job in siblings] == [Echo("b", batch_id="b1")]
