"""JobService calls answered by whichever job-owning service is up.

Every service that runs jobs (generator, separator) serves `beatflow.jobs.v1.JobService` over
the one shared `jobs` table, whose NOTIFY trigger feeds every process's watches; so any of them
answers for any job, whatever its kind. A call goes to the first of them that is up (services
whose channel is connected first) and moves on to the next when one answers UNAVAILABLE. Job
reads, watches and cancellations therefore keep working while any one engine is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc

# Channels already connected are tried first, channels known to be failing last.
_PREFERENCE = {
    grpc.ChannelConnectivity.READY: 0,
    grpc.ChannelConnectivity.IDLE: 1,
    grpc.ChannelConnectivity.CONNECTING: 1,
    grpc.ChannelConnectivity.TRANSIENT_FAILURE: 2,
    grpc.ChannelConnectivity.SHUTDOWN: 3,
}


def _unavailable(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.UNAVAILABLE


class FailoverJobs:
    """The JobService methods over several channels, each a service sharing the job queue (async)."""

    def __init__(self, channels: Sequence[grpc.aio.Channel]):
        if not channels:
            raise ValueError("no job-owning service configured")
        self._channels = channels

    def _stubs(self) -> list[jobs_pb2_grpc.JobServiceStub]:
        ordered = sorted(self._channels, key=lambda channel: _PREFERENCE[channel.get_state()])
        return [jobs_pb2_grpc.JobServiceStub(channel) for channel in ordered]

    async def _unary(self, method: str, request, **kwargs):
        *others, last = self._stubs()
        for stub in others:
            try:
                return await getattr(stub, method)(request, **kwargs)
            except grpc.aio.AioRpcError as error:
                if not _unavailable(error):
                    raise
        return await getattr(last, method)(request, **kwargs)

    async def GetJob(self, request: jobs_pb2.GetJobRequest, **kwargs) -> jobs_pb2.GetJobResponse:
        return await self._unary("GetJob", request, **kwargs)

    async def CancelJob(self, request: jobs_pb2.CancelJobRequest, **kwargs) -> jobs_pb2.CancelJobResponse:
        """Safe to send again elsewhere: cancelling a job twice changes nothing more."""
        return await self._unary("CancelJob", request, **kwargs)

    async def ListJobs(self, request: jobs_pb2.ListJobsRequest, **kwargs) -> jobs_pb2.ListJobsResponse:
        return await self._unary("ListJobs", request, **kwargs)

    async def WatchJob(self, request: jobs_pb2.WatchJobRequest, **kwargs) -> AsyncIterator[jobs_pb2.WatchJobResponse]:
        """Events from the first service that opens the watch. Once events have flowed, an
        UNAVAILABLE reaches the caller, who watches again (see beatflow_sdk.watching.follow)."""
        stubs = self._stubs()
        for index, stub in enumerate(stubs):
            call = stub.WatchJob(request, **kwargs)
            started = False
            try:
                async for response in call:
                    started = True
                    yield response
                return
            except grpc.aio.AioRpcError as error:
                if started or not _unavailable(error) or index == len(stubs) - 1:
                    raise
            finally:
                call.cancel()
