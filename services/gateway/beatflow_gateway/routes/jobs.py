"""/api/jobs: the list, whose state filter is a word (reading and cancelling come from the protos' rules)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from beatflow.jobs.v1 import jobs_pb2
from beatflow_gateway.context import Authorised, Services, to_json
from beatflow_gateway.models import JobKind, PageToken

router = APIRouter(tags=["Jobs"])
# The filter's words -> the enum's value names.
STATES = {name.removeprefix("JOB_STATE_").lower(): name for name, value in jobs_pb2.JobState.items() if value}


@router.get("/api/jobs")
async def list_jobs(
    call: Authorised,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: PageToken = "",
    state: Literal["", "queued", "running", "succeeded", "failed", "cancelled"] = "",
    kind: JobKind = "",
) -> dict:
    response = await services.jobs.ListJobs(
        jobs_pb2.ListJobsRequest(
            page_size=page_size, page_token=page_token, state=STATES.get(state, "JOB_STATE_UNSPECIFIED"), kind=kind
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response)
