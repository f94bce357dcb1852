"""A real vcs service on 127.0.0.1 over a fresh database and a fresh S3 bucket (moto) per test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import grpc
import pytest

from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
from beatflow.vcs.v1 import (
    blobs_pb2,
    blobs_pb2_grpc,
    repositories_pb2,
    repositories_pb2_grpc,
    version_control_pb2,
    version_control_pb2_grpc,
)
from beatflow_platform.settings import AuthSettings, DatabaseSettings
from beatflow_vcs.app import build_app
from beatflow_vcs.settings import VcsSettings
from tests.fixtures.s3 import s3_settings

JWT_SECRET = "vcs-test-secret-that-is-long-enough-0123456789"
_usernames = itertools.count()


async def rpc_error(call) -> grpc.aio.AioRpcError:
    """The error a call fails with (the test fails if it succeeds)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@dataclass
class Caller:
    """One signed-in user with stubs whose calls carry their access token."""

    user: auth_pb2.User
    tokens: auth_pb2.TokenPair
    channel: grpc.aio.Channel

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.tokens.access_token}"),)

    @property
    def repos(self) -> repositories_pb2_grpc.RepositoryServiceStub:
        return _Authorised(repositories_pb2_grpc.RepositoryServiceStub(self.channel), self.metadata)

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return _Authorised(auth_pb2_grpc.AuthServiceStub(self.channel), self.metadata)

    @property
    def blobs(self) -> blobs_pb2_grpc.BlobServiceStub:
        return _Authorised(blobs_pb2_grpc.BlobServiceStub(self.channel), self.metadata)

    @property
    def vc(self) -> version_control_pb2_grpc.VersionControlServiceStub:
        return _Authorised(version_control_pb2_grpc.VersionControlServiceStub(self.channel), self.metadata)

    async def create_repo(self, name: str = "demo", **fields) -> repositories_pb2.Repository:
        response = await self.repos.CreateRepository(repositories_pb2.CreateRepositoryRequest(name=name, **fields))
        return response.repository

    async def upload(self, data: bytes, *, filename: str = "take.wav", chunk: int = 64 * 1024, **metadata):
        async def requests():
            yield blobs_pb2.UploadBlobRequest(metadata=blobs_pb2.UploadBlobMetadata(filename=filename, **metadata))
            for start in range(0, len(data), chunk):
                yield blobs_pb2.UploadBlobRequest(chunk=data[start : start + chunk])

        return (await self.blobs.UploadBlob(requests())).blob

    async def commit(self, repo_id: str, stems: dict[str, str], *, parent: str = "", message: str = "change", **fields):
        """Commits `stems` (name -> blob id) and returns the new commit."""
        response = await self.vc.CreateCommit(
            version_control_pb2.CreateCommitRequest(
                repo_id=repo_id,
                parent_commit_id=parent,
                message=message,
                stems=[version_control_pb2.StemInput(name=n, blob_id=b) for n, b in stems.items()],
                **fields,
            )
        )
        return response.commit


class _Authorised:
    """Adds the caller's metadata to every call of a stub."""

    def __init__(self, stub, metadata):
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name):
        method = getattr(self._stub, name)
        return lambda request, **kwargs: method(request, metadata=self._metadata, **kwargs)


@dataclass
class VcsUnderTest:
    channel: grpc.aio.Channel
    settings: VcsSettings

    @property
    def anonymous_auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    async def sign_up(self, username: str | None = None, password: str = "correct horse battery") -> Caller:
        username = username or f"user{next(_usernames)}"
        response = await self.anonymous_auth.Register(
            auth_pb2.RegisterRequest(username=username, email=f"{username}@example.com", password=password)
        )
        return Caller(response.user, response.tokens, self.channel)


@pytest.fixture
async def vcs_factory(database_dsn, moto_s3):
    """Starts vcs services with setting overrides; all are stopped after the test."""
    started = []

    async def start(**overrides) -> VcsUnderTest:
        settings = VcsSettings(
            grpc_port=0,
            database=DatabaseSettings(url=database_dsn, pool_max_size=8),
            object_store=s3_settings(moto_s3),
            auth=AuthSettings(jwt_secret=JWT_SECRET),
            shutdown_grace_seconds=1,
            **overrides,
        )
        app = await build_app(settings)
        port = await app.host.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append((app, channel))
        return VcsUnderTest(channel, settings)

    yield start
    for app, channel in started:
        await channel.close()
        await app.host.stop()


@pytest.fixture
async def vcs(vcs_factory) -> VcsUnderTest:
    return await vcs_factory()
