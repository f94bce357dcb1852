"""/api/ai/status and /api/jobs: following, listing and cancelling jobs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from beatflow.jobs.v1 import jobs_pb2
from beatflow_gateway.context import Authorised, Services, to_json
from beatflow_gateway.models import Uuid, text

router = APIRouter(tags=["Jobs"])

# The seed contract's status words (Celery's), for /api/ai/status.
SEED_STATUS = {
    jobs_pb2.JOB_STATE_QUEUED: "pending",
    jobs_pb2.JOB_STATE_RUNNING: "progress",
    jobs_pb2.JOB_STATE_SUCCEEDED: "success",
    jobs_pb2.JOB_STATE_FAILED: "failure",
    jobs_pb2.JOB_STATE_CANCELLED: "cancelled",
}
STATES = {name.removeprefix("JOB_STATE_").lower(): value for name, value in jobs_pb2.JobState.items() if value}


def job_json(job: jobs_pb2.Job) -> dict:
    body = to_json(job)
    return {
        **body,
        "task_id": job.job_id,
        "status": SEED_STATUS.get(job.state, "pending"),
        "result": body.get("result") if job.state == jobs_pb2.JOB_STATE_SUCCEEDED else None,
        "error": job.error.message or None if job.HasField("error") else None,
    }


@router.get("/api/ai/status/{task_id:uuid_id}", tags=["AI Generation"])
async def status(task_id: Uuid, call: Authorised, services: Services) -> dict:
    response = await services.jobs.GetJob(
        jobs_pb2.GetJobRequest(job_id=task_id), metadata=call.metadata, timeout=call.timeout
    )
    return job_json(response.job)


@router.get("/api/jobs")
async def list_jobs(
    call: Authorised,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: text(2000) = "",
    state: Literal["", "queued", "running", "succeeded", "failed", "cancelled"] = "",
    kind: text(100) = "",
) -> dict:
    response = await services.jobs.ListJobs(
        jobs_pb2.ListJobsRequest(page_size=page_size, page_token=page_token, state=STATES.get(state, 0), kind=kind),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {"jobs": [job_json(j) for j in response.jobs], "next_page_token": response.next_page_token}


@router.get("/api/jobs/{job_id:uuid_id}")
async def get_job(job_id: Uuid, call: Authorised, services: Services) -> dict:
    response = await services.jobs.GetJob(
        jobs_pb2.GetJobRequest(job_id=job_id), metadata=call.metadata, timeout=call.timeout
    )
    return job_json(response.job)


@router.post("/api/jobs/{job_id:uuid_id}/cancel")
async def cancel_job(job_id: Uuid, call: Authorised, services: Services) -> dict:
    response = await services.jobs.CancelJob(
        jobs_pb2.CancelJobRequest(job_id=job_id), metadata=call.metadata, timeout=call.timeout
    )
    return job_json(response.job)
