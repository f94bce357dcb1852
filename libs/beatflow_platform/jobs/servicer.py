"""beatflow.jobs.v1.JobService over the queue (served by every process that runs workers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_platform.auth import current_principal
from beatflow_platform.jobs.events import Notifications, watch
from beatflow_platform.jobs.model import Job, JobState, Priority
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.request_view import request_view

SERVICE_NAME = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name
STATE_TO_PROTO = {
    JobState.QUEUED: jobs_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: jobs_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: jobs_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: jobs_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: jobs_pb2.JOB_STATE_CANCELLED,
}
STATE_FROM_PROTO = {value: key for key, value in STATE_TO_PROTO.items()}
PRIORITY_TO_PROTO = {
    Priority.INTERACTIVE: jobs_pb2.JOB_PRIORITY_INTERACTIVE,
    Priority.BATCH: jobs_pb2.JOB_PRIORITY_BATCH,
}


# The seed REST contract's status words (Celery's) for Job.status.
SEED_STATUS = {
    JobState.QUEUED: "pending",
    JobState.RUNNING: "progress",
    JobState.SUCCEEDED: "success",
    JobState.FAILED: "failure",
    JobState.CANCELLED: "cancelled",
}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def job_to_proto(job: Job) -> jobs_pb2.Job:
    message = jobs_pb2.Job(
        job_id=job.job_id,
        kind=job.kind,
        state=STATE_TO_PROTO[job.state],
        progress=jobs_pb2.JobProgress(
            fraction=job.progress_fraction, stage=job.progress_stage, message=job.progress_message
        ),
        owner_id=job.owner_id,
        attempt=job.attempt,
        cancel_requested=job.cancel_requested,
        create_time=_timestamp(job.created_at),
        update_time=_timestamp(job.updated_at),
        start_time=_timestamp(job.started_at),
        end_time=_timestamp(job.ended_at),
        priority=PRIORITY_TO_PROTO[job.priority],
        queue_position=job.queue_position,
        eta_seconds=job.eta_seconds or 0.0,
        next_attempt_time=_timestamp(job.run_after) if job.state == JobState.QUEUED and job.attempt > 0 else None,
        audio_seconds=job.audio_seconds,
        task_id=job.job_id,
        status=SEED_STATUS[job.state],
    )
    message.request.SetInParent()  # present, if empty, for every kind: one shape for clients
    message.request.update(request_view(job.kind, job.payload))
    if job.result:
        message.result.ParseFromString(job.result)
    if job.error_code:
        message.error.CopyFrom(jobs_pb2.JobError(code=job.error_code, message=job.error_message or ""))
    return message


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    def __init__(self, queue: JobQueue, notifications: Notifications):
        self._queue = queue
        self._notifications = notifications
        self._ending = asyncio.Event()

    def end_watches(self) -> None:
        """Ends every open and future WatchJob with UNAVAILABLE: the process is going away."""
        self._ending.set()

    async def GetJob(
        self, request: jobs_pb2.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.GetJobResponse:
        job = await self._queue.get(request.job_id, current_principal().subject_id)
        return jobs_pb2.GetJobResponse(job=job_to_proto(job))

    async def WatchJob(
        self, request: jobs_pb2.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[jobs_pb2.WatchJobResponse]:
        owner = current_principal().subject_id
        async for job in watch(self._queue, self._notifications, request.job_id, owner, until=self._ending):
            yield jobs_pb2.WatchJobResponse(job=job_to_proto(job))

    async def CancelJob(
        self, request: jobs_pb2.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.CancelJobResponse:
        job = await self._queue.cancel(request.job_id, current_principal().subject_id)
        return jobs_pb2.CancelJobResponse(job=job_to_proto(job))

    async def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        jobs, token = await self._queue.list(
            current_principal().subject_id,
            size=request.page_size,
            page_token=request.page_token,
            state=STATE_FROM_PROTO.get(request.state),
            kind=request.kind,
        )
        return jobs_pb2.ListJobsResponse(jobs=[job_to_proto(j) for j in jobs], next_page_token=token)
