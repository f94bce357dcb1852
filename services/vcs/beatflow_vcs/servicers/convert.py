"""Domain objects -> protobuf messages of the vcs contracts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from beatflow.auth.v1 import auth_pb2
from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import repositories_pb2, version_control_pb2
from beatflow_audio.proto import FORMAT_TO_PROTO
from beatflow_vcs.accounts import TokenPair, User
from beatflow_vcs.audio_diff import ChangedRange
from beatflow_vcs.blobs import Blob
from beatflow_vcs.comments import Comment
from beatflow_vcs.commits import TreeEntry
from beatflow_vcs.merging import (
    Change,
    MetadataConflict,
    RangeConflict,
    StemChange,
    StemConflict,
    StemSplice,
    render,
)
from beatflow_vcs.renders import Render
from beatflow_vcs.repositories import Collaborator, Repository
from beatflow_vcs.store import CommitView, Ref

ROLE_TO_PROTO = {
    "read": repositories_pb2.COLLABORATOR_ROLE_READ,
    "write": repositories_pb2.COLLABORATOR_ROLE_WRITE,
}
ROLE_FROM_PROTO = {value: key for key, value in ROLE_TO_PROTO.items()}


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def user(value: User) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=value.user_id,
        username=value.username,
        email=value.email,
        display_name=value.display_name,
        create_time=timestamp(value.created_at),
    )


def tokens(value: TokenPair) -> auth_pb2.TokenPair:
    return auth_pb2.TokenPair(
        access_token=value.access_token,
        refresh_token=value.refresh_token,
        token_type="Bearer",
        expires_in=value.expires_in,
    )


def repository(value: Repository) -> repositories_pb2.Repository:
    message = repositories_pb2.Repository(
        repo_id=value.repo_id,
        owner_id=value.owner_id,
        owner_username=value.owner_username,
        name=value.name,
        description=value.description,
        is_public=value.is_public,
        genre=value.genre,
        default_branch=value.default_branch,
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
        id=value.repo_id,
        created_at=timestamp(value.created_at),
    )
    if value.forked_from:
        message.forked_from.CopyFrom(
            repositories_pb2.ForkSource(
                repo_id=value.forked_from.repo_id,
                owner_username=value.forked_from.owner_username,
                repo_name=value.forked_from.repo_name,
                commit_id=value.forked_from.commit_id or "",
            )
        )
    return message


def collaborator(value: Collaborator) -> repositories_pb2.Collaborator:
    return repositories_pb2.Collaborator(user_id=value.user_id, username=value.username, role=ROLE_TO_PROTO[value.role])


AUDIO_FORMATS = FORMAT_TO_PROTO


def audio_info(value: Blob) -> audio_pb2.AudioInfo:
    return audio_pb2.AudioInfo(
        duration_seconds=value.duration_seconds,
        sample_rate=value.sample_rate,
        channels=value.channels,
        format=AUDIO_FORMATS.get(value.audio_format, audio_pb2.AUDIO_FORMAT_UNSPECIFIED),
    )


def blob(value: Blob) -> audio_pb2.BlobRef:
    return audio_pb2.BlobRef(
        blob_id=value.blob_id, size_bytes=value.size_bytes, content_type=value.content_type, audio=audio_info(value)
    )


def stem(name: str, entry: TreeEntry) -> version_control_pb2.Stem:
    return version_control_pb2.Stem(
        name=name,
        blob_id=entry.blob_id,
        size_bytes=entry.size_bytes,
        type=name,
        duration=entry.duration_seconds,
        audio=audio_pb2.AudioInfo(
            duration_seconds=entry.duration_seconds,
            sample_rate=entry.sample_rate,
            channels=entry.channels,
            format=AUDIO_FORMATS.get(entry.audio_format, audio_pb2.AUDIO_FORMAT_UNSPECIFIED),
        ),
    )


def commit(value: CommitView) -> version_control_pb2.Commit:
    message = version_control_pb2.Commit(
        commit_id=value.commit_id,
        parent_ids=list(value.parents),
        author_id=value.author_id,
        author_username=value.author_username,
        message=value.message,
        bpm=value.bpm,
        key_signature=value.key_signature,
        stems=[stem(name, entry) for name, entry in sorted(value.tree.items())],
        create_time=timestamp(value.created_at),
        id=value.commit_id,
        timestamp=timestamp(value.created_at),
        render_url=render_url(value.commit_id),
    )
    message.generation_params.update(value.generation_params)
    return message


def render_url(commit_id: str) -> str:
    """Where the REST API plays a commit's mix (DownloadRender's google.api.http path)."""
    return f"/api/vcs/commit/{commit_id}/render"


def history_commit(
    value: version_control_pb2.Commit, branch_heads: Sequence[str], tags: Sequence[str]
) -> version_control_pb2.HistoryCommit:
    """A history node in the seed REST contract's shape."""
    return version_control_pb2.HistoryCommit(
        id=value.commit_id,
        parent_id=value.parent_ids[0] if value.parent_ids else "",
        parent_ids=value.parent_ids,
        message=value.message,
        timestamp=value.create_time,
        bpm=value.bpm,
        key_signature=value.key_signature,
        branch_heads=branch_heads,
        tags=tags,
        render_url=value.render_url,
    )


def branch(value: Ref, default_branch: str) -> version_control_pb2.Branch:
    return version_control_pb2.Branch(
        name=value.name,
        commit_id=value.commit_id,
        is_default=value.name == default_branch,
        update_time=timestamp(value.updated_at),
    )


def tag(value: Ref) -> version_control_pb2.Tag:
    return version_control_pb2.Tag(
        name=value.name,
        commit_id=value.commit_id,
        message=value.message,
        tagger_id=value.created_by or "",
        create_time=timestamp(value.created_at),
    )


def ref(value: Ref) -> version_control_pb2.Ref:
    return version_control_pb2.Ref(name=value.name, commit_id=value.commit_id)


CHANGE_TYPES = {
    Change.ADDED: version_control_pb2.CHANGE_TYPE_ADDED,
    Change.REMOVED: version_control_pb2.CHANGE_TYPE_REMOVED,
    Change.MODIFIED: version_control_pb2.CHANGE_TYPE_MODIFIED,
}
RANGE_KINDS = {
    "modified": version_control_pb2.RANGE_KIND_MODIFIED,
    "inserted": version_control_pb2.RANGE_KIND_INSERTED,
    "deleted": version_control_pb2.RANGE_KIND_DELETED,
}


def stem_change(value: StemChange, ranges: list[ChangedRange] | None = None) -> version_control_pb2.StemChange:
    """`ranges` None: the audio was not compared."""
    return version_control_pb2.StemChange(
        name=value.name,
        change=CHANGE_TYPES[value.change],
        old_blob_id=value.old_blob_id,
        new_blob_id=value.new_blob_id,
        ranges=[changed_range(r) for r in ranges or ()],
        audio_compared=ranges is not None,
    )


def changed_range(value: ChangedRange) -> version_control_pb2.ChangedRange:
    return version_control_pb2.ChangedRange(
        kind=RANGE_KINDS[value.kind],
        base_start_seconds=value.base_start,
        base_end_seconds=value.base_end,
        head_start_seconds=value.head_start,
        head_end_seconds=value.head_end,
        base_loudness_dbfs=value.base_loudness_dbfs,
        head_loudness_dbfs=value.head_loudness_dbfs,
        loudness_change_db=round(value.loudness_change_db, 2),
    )


def stem_conflict(value: StemConflict) -> version_control_pb2.StemConflict:
    return version_control_pb2.StemConflict(
        name=value.name,
        base_blob_id=value.base_blob_id,
        ours_blob_id=value.ours_blob_id,
        theirs_blob_id=value.theirs_blob_id,
        reason=value.reason,
    )


def range_conflict(value: RangeConflict) -> version_control_pb2.RangeConflict:
    return version_control_pb2.RangeConflict(
        stem=value.stem,
        start_seconds=round(value.start, 4),
        end_seconds=round(value.end, 4),
        base_blob_id=value.base_blob_id,
        ours_blob_id=value.ours_blob_id,
        theirs_blob_id=value.theirs_blob_id,
    )


def stem_splice(value: StemSplice) -> version_control_pb2.StemSplice:
    return version_control_pb2.StemSplice(
        stem=value.stem,
        blob_id=value.blob_id,
        ranges=[
            version_control_pb2.SplicedRange(source=source, start_seconds=round(start, 4), end_seconds=round(end, 4))
            for source, start, end in value.ranges
        ],
    )


def metadata_conflict(value: MetadataConflict) -> version_control_pb2.MetadataConflict:
    return version_control_pb2.MetadataConflict(
        field=value.field,
        base_value=render(value.base_value),
        ours_value=render(value.ours_value),
        theirs_value=render(value.theirs_value),
    )


def commit_render(value: Render) -> version_control_pb2.Render:
    mixed = value.file.audio
    return version_control_pb2.Render(
        render_id=value.file.render_id,
        commit_id=value.commit_id,
        size_bytes=value.file.size_bytes,
        content_type=value.file.content_type,
        audio=audio_pb2.AudioInfo(
            duration_seconds=mixed.duration_seconds,
            sample_rate=mixed.sample_rate,
            channels=mixed.channels,
            format=AUDIO_FORMATS[value.file.audio_format],
        ),
        stems=value.stems,
        headroom_gain_db=mixed.headroom_gain_db,
        cached=value.cached,
    )


def comment(value: Comment) -> version_control_pb2.Comment:
    return version_control_pb2.Comment(
        comment_id=value.comment_id,
        repo_id=value.repo_id,
        commit_id=value.commit_id,
        stem=value.stem,
        start_seconds=value.start_seconds,
        end_seconds=value.end_seconds,
        parent_id=value.parent_id,
        author_id=value.author_id,
        author_username=value.author_username,
        body=value.body,
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
        edited=value.edited,
        deleted=value.deleted,
        shown_start_seconds=value.shown_start_seconds,
        shown_end_seconds=value.shown_end_seconds,
        outdated=value.outdated,
    )
