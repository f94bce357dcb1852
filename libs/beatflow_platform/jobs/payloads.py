"""Job payloads: what a job of a kind was asked to do, as its handler reads it.

Each kind owns a payload class (frozen dataclass) that writes itself as one JSON object
(`to_json`, stored in the jobs.payload column at submit) and reads that object back
(`from_json`, in the handler). The queue serves every kind and keeps the JSON as it is: it only
reads `batch_id` (see `BATCH_ID`). A class must keep writing the same JSON for the same request
and keep reading the forms it wrote before, since jobs queued before a deploy run after it.
"""

from __future__ import annotations

from typing import Any, Protocol

# A payload as stored: a JSON object (str keys, JSON values).
JsonObject = dict[str, Any]

# The payload key that groups jobs of one kind into a batch a worker may claim together.
BATCH_ID = "batch_id"


class JobPayload(Protocol):
    def to_json(self) -> JsonObject:
        """The JSON object stored for the job."""
        ...


def payload_json(payload: JobPayload | JsonObject) -> JsonObject:
    """What the queue stores for `payload`: a typed payload's JSON, or a plain JSON object as given."""
    return payload if isinstance(payload, dict) else payload.to_json()
