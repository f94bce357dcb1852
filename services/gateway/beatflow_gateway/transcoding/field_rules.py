"""The shapes the services accept for request fields, stated in the OpenAPI document (until the
protos carry them as protovalidate rules): by field name, with per-message exceptions.

The services check every one of these themselves; the document says them so that clients (and
schemathesis) know what a valid request looks like.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import Field, TypeAdapter

from beatflow_gateway import models
from beatflow_platform import naming

# Larger than a list's maximum is that maximum; 0 is its default.
_PAGE_SIZE = Annotated[int, Field(ge=0, le=2**31 - 1)]
_SECONDS = Annotated[float, Field(ge=0, le=86400)]
_STEMS = Annotated[list[models.StemName], Field(max_length=naming.MAX_STEMS_PER_COMMIT)]
BY_NAME: dict[str, Any] = {
    "repo_id": models.Uuid,
    "original_repo_id": models.Uuid,
    "job_id": models.Uuid,
    "comment_id": models.Uuid,
    "commit_id": models.Sha256,
    "blob_id": models.Sha256,
    "new_commit_id": models.Sha256,
    "expected_commit_id": models.Sha256,
    "parent_commit_id": models.Sha256OrEmpty,
    "parent_id": models.UuidOrEmpty,
    "request_id": models.RequestId,
    "page_size": _PAGE_SIZE,
    "page_token": models.text(20000),
    "username": models.Username,
    "owner_username": models.UsernameOrEmpty,
    "owner": models.UsernameOrEmpty,
    "description": models.text(naming.MAX_DESCRIPTION_LENGTH),
    "genre": models.text(naming.MAX_GENRE_LENGTH),
    "default_branch": models.RefNameOrEmpty,
    "fork_name": models.RepositoryNameOrEmpty,
    "branch": models.RefNameOrEmpty,
    "key_signature": models.KeySignatureOrEmpty,
    "remove_stems": _STEMS,
    "ref": models.RevisionOrEmpty,
    "base": models.Revision,
    "head": models.RevisionOrEmpty,
    "start_point": models.RevisionOrEmpty,
    "target": models.Revision,
    "start_seconds": _SECONDS,
    "end_seconds": _SECONDS,
    "body": models.NonBlankMessage,
    "message": models.Message,
}
BY_FIELD: dict[str, Any] = {
    "beatflow.vcs.v1.CreateRepositoryRequest.name": models.RepositoryName,
    "beatflow.vcs.v1.CreateBranchRequest.name": models.RefName,
    "beatflow.vcs.v1.UpdateBranchRequest.name": models.RefName,
    "beatflow.vcs.v1.DeleteBranchRequest.name": models.RefName,
    "beatflow.vcs.v1.CreateTagRequest.name": models.RefName,
    "beatflow.vcs.v1.DeleteTagRequest.name": models.RefName,
    "beatflow.vcs.v1.StemInput.name": models.StemName,
    "beatflow.vcs.v1.CreateCommitRequest.message": models.NonBlankMessage,
    "beatflow.vcs.v1.CreateCommitRequest.bpm": models.CommitBpm,
    "beatflow.vcs.v1.CreateCommentRequest.stem": Literal[""] | models.StemName,
    "beatflow.vcs.v1.GetCommitRequest.repo_id": models.UuidOrEmpty,
    "beatflow.vcs.v1.RenderCommitRequest.repo_id": models.UuidOrEmpty,
    "beatflow.vcs.v1.RenderCommitRequest.mute": _STEMS,
    "beatflow.vcs.v1.RenderCommitRequest.solo": _STEMS,
    "beatflow.vcs.v1.GetBlobDownloadUrlRequest.expires_in_seconds": {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 0},
            {"type": "integer", "minimum": 60, "maximum": 604800},
        ],
        "description": "0 (900 seconds) or 60 to 604800",
    },
    "beatflow.separator.v1.ConvertAudioRequest.format": {
        "type": "string",
        "enum": ["AUDIO_FORMAT_WAV", "AUDIO_FORMAT_FLAC", "AUDIO_FORMAT_MP3", "AUDIO_FORMAT_OGG"],
    },
    "beatflow.separator.v1.ConvertAudioRequest.sample_rate": {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 0},
            {"type": "integer", "minimum": 8000, "maximum": 192000},
        ],
        "description": "0 (the source's rate) or 8000 to 192000",
    },
}
# A path variable of one of these shapes matches only such values (Starlette convertors, see paths.py).
_CONVERTORS = {naming.UUID: "uuid_id", naming.SHA256: "sha256", naming.USERNAME: "username"}


def needs_value(schema: dict[str, Any]) -> bool:
    """Whether a field with this schema must be sent: its rule refuses the empty string (the default)."""
    return schema.get("type") == "string" and "pattern" in schema and re.search(schema["pattern"], "") is None


def rule(message: Descriptor, field: FieldDescriptor) -> dict[str, Any] | None:
    """The schema of `field` of `message` as the services accept it; None: the plain proto3 JSON type."""
    shape = BY_FIELD.get(f"{message.full_name}.{field.name}")
    if shape is None and field.type != FieldDescriptor.TYPE_MESSAGE:
        shape = BY_NAME.get(field.name)
    if shape is None:
        return None
    return dict(shape) if isinstance(shape, dict) else TypeAdapter(shape).json_schema()


def path_convertor(request: Descriptor, field_path: str) -> str | None:
    """The convertor of a path variable whose field has an id's shape; None for any other."""
    message, field = request, None
    for part in field_path.split("."):
        field = message.fields_by_name[part]
        message = field.message_type
    schema = rule(field.containing_type, field) or {}
    return _CONVERTORS.get(schema.get("pattern", ""))
