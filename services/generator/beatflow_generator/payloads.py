"""The payload of the generator's jobs (generator.generate and generator.hum_to_beat), as stored in
the job row and read back by the handlers.

The JSON is the form the service has always written: {"spec": ..., "source": {"repo_id",
"commit_id"}} plus, when they apply, "destination", "hum_blob_id", "batch_id" and "rerender_of".
Rows written before a key existed read with its default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from beatflow_generator.landing import Destination
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.jobs.payloads import BATCH_ID, JsonObject


@dataclass(frozen=True)
class SourceCommit:
    """The repository and commit a request names (empty: none): an operation's source, or context
    recorded in the provenance."""

    repo_id: str = ""
    commit_id: str = ""

    def to_json(self) -> JsonObject:
        return {"repo_id": self.repo_id, "commit_id": self.commit_id}

    @classmethod
    def from_json(cls, data: JsonObject) -> SourceCommit:
        return cls(data.get("repo_id", ""), data.get("commit_id", ""))


@dataclass(frozen=True)
class GenerationPayload:
    spec: GenerationSpec
    source: SourceCommit = field(default_factory=SourceCommit)
    destination: Destination | None = None  # where the result lands as a commit (None: nowhere)
    hum_blob_id: str = ""  # the recording a hum-to-beat follows (kept when one is rendered again)
    batch_id: str = ""  # variations of one BatchGenerate request that a worker may render together
    rerender_of: str = ""  # the commit a Rerender renders again

    def to_json(self) -> JsonObject:
        data: JsonObject = {"spec": self.spec.as_payload(), "source": self.source.to_json()}
        if self.destination is not None:
            data["destination"] = self.destination.as_payload()
        optional = {"hum_blob_id": self.hum_blob_id, BATCH_ID: self.batch_id, "rerender_of": self.rerender_of}
        data.update({name: value for name, value in optional.items() if value})
        return data

    @classmethod
    def from_json(cls, data: JsonObject) -> GenerationPayload:
        destination = data.get("destination")
        return cls(
            spec=GenerationSpec.from_payload(data["spec"]),
            source=SourceCommit.from_json(data.get("source") or {}),
            destination=Destination.from_payload(destination) if destination else None,
            hum_blob_id=data.get("hum_blob_id", ""),
            batch_id=data.get(BATCH_ID, ""),
            rerender_of=data.get("rerender_of", ""),
        )
