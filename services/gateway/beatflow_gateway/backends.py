"""gRPC channels and stubs of the services, and the metadata every call carries."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from beatflow.auth.v1 import auth_pb2_grpc
from beatflow.generator.v1 import generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2_grpc
from beatflow.separator.v1 import separator_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2_grpc, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow_gateway.settings import GatewaySettings

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
]


@dataclass
class Backends:
    vcs: grpc.aio.Channel
    generator: grpc.aio.Channel
    separator: grpc.aio.Channel

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Backends:
        return cls(
            grpc.aio.insecure_channel(settings.vcs_address, options=_CHANNEL_OPTIONS),
            grpc.aio.insecure_channel(settings.generator_address, options=_CHANNEL_OPTIONS),
            grpc.aio.insecure_channel(settings.separator_address, options=_CHANNEL_OPTIONS),
        )

    async def close(self) -> None:
        for channel in (self.vcs, self.generator, self.separator):
            await channel.close()

    @property
    def auth(self):
        return auth_pb2_grpc.AuthServiceStub(self.vcs)

    @property
    def repositories(self):
        return repositories_pb2_grpc.RepositoryServiceStub(self.vcs)

    @property
    def versions(self):
        return version_control_pb2_grpc.VersionControlServiceStub(self.vcs)

    @property
    def blobs(self):
        return blobs_pb2_grpc.BlobServiceStub(self.vcs)

    @property
    def generation(self):
        return generator_pb2_grpc.GeneratorServiceStub(self.generator)

    @property
    def jobs(self):
        """Generator and separator share one job queue: either answers for any job."""
        return jobs_pb2_grpc.JobServiceStub(self.generator)

    @property
    def separation(self):
        return separator_pb2_grpc.SeparatorServiceStub(self.separator)
