"""Domain objects -> protobuf messages of the vcs contracts."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from beatflow.auth.v1 import auth_pb2
from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import repositories_pb2
from beatflow_vcs.accounts import TokenPair, User
from beatflow_vcs.blobs import Blob
from beatflow_vcs.repositories import Collaborator, Repository

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


AUDIO_FORMATS = {
    "WAV": audio_pb2.AUDIO_FORMAT_WAV,
    "FLAC": audio_pb2.AUDIO_FORMAT_FLAC,
    "MP3": audio_pb2.AUDIO_FORMAT_MP3,
    "OGG": audio_pb2.AUDIO_FORMAT_OGG,
}


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
