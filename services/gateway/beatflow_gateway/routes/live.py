"""Live job progress: WebSocket /ws/jobs/{job_id}, and Server-Sent Events for clients without one.

Both relay WatchJob: a snapshot, then every change, until the job ends. Browsers cannot set
headers on a WebSocket, so the token may also come as `?token=` or as the subprotocol
`bearer.<token>`. WebSocket close codes: 1000 the job ended, 4401 unauthenticated, 4404 no
such job (or not yours), 1013 a backend is unavailable, 1011 anything else.

A client may leave at any moment, also while the job service is down and the watch is being
retried: the relay stops as soon as it does, and a close that races the client's is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator

import grpc
from beatflow_sdk.watching import follow
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketState

from beatflow.jobs.v1 import jobs_pb2
from beatflow_gateway.context import Authorised, Call, Services, anonymous_call, request_id_for, to_json
from beatflow_gateway.models import Uuid

router = APIRouter(tags=["Jobs"])
CLOSE_CODES = {
    grpc.StatusCode.UNAUTHENTICATED: 4401,
    grpc.StatusCode.NOT_FOUND: 4404,
    grpc.StatusCode.INVALID_ARGUMENT: 4400,
    grpc.StatusCode.UNAVAILABLE: 1013,
}
SUBPROTOCOL_PREFIX = "bearer."


def _websocket_token(websocket: WebSocket) -> tuple[str, str | None]:
    """(token, subprotocol to accept) from the header, the subprotocol list or the query."""
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), None
    for protocol in websocket.scope.get("subprotocols", []):
        if protocol.startswith(SUBPROTOCOL_PREFIX):
            return protocol[len(SUBPROTOCOL_PREFIX) :], protocol
    return websocket.query_params.get("token", ""), None


async def _watch(services, call: Call, job_id: str) -> AsyncIterator[dict]:
    """WatchJob, opened again when a job service restarts under it (see beatflow_sdk.watching)."""
    request = jobs_pb2.WatchJobRequest(job_id=job_id)
    async for job in follow(lambda: services.jobs.WatchJob(request, metadata=call.metadata)):
        yield to_json(job)


async def _relay(websocket: WebSocket, events: AsyncIterable[dict]) -> tuple[int, str]:
    """Sends every event; the close code and reason to end with."""
    try:
        async for event in events:
            await websocket.send_json(event)
    except grpc.aio.AioRpcError as error:
        return CLOSE_CODES.get(error.code(), 1011), (error.details() or "")[:120]
    return 1000, "job finished"


async def _until_client_leaves(websocket: WebSocket) -> None:
    """Returns when the client closes (what it sends meanwhile is ignored)."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Closes the socket unless the client already has (then there is nobody to tell)."""
    if websocket.client_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect):  # the client left while the close was on its way
        await websocket.close(code=code, reason=reason)


@router.websocket("/ws/jobs/{job_id}")
async def watch_websocket(websocket: WebSocket, job_id: str) -> None:
    token, subprotocol = _websocket_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    if not token:
        await _close(websocket, 4401, "send a bearer token")
        return
    websocket.state.request_id = request_id_for(websocket)
    base = anonymous_call(websocket)
    call = Call((*base.metadata, ("authorization", f"Bearer {token}")), base.timeout, base.slow_timeout)
    relay = asyncio.ensure_future(_relay(websocket, _watch(websocket.app.state.backends, call, job_id)))
    client_left = asyncio.ensure_future(_until_client_leaves(websocket))
    try:
        await asyncio.wait((relay, client_left), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, client_left):
            task.cancel()
        await asyncio.gather(relay, client_left, return_exceptions=True)
    if relay.cancelled():  # the client left first
        return
    error = relay.exception()
    if isinstance(error, WebSocketDisconnect):  # a send found the client gone
        return
    if error is not None:
        raise error
    await _close(websocket, *relay.result())


@router.get(
    "/api/jobs/{job_id:uuid_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def watch_events(job_id: Uuid, request: Request, call: Authorised, services: Services) -> StreamingResponse:
    """Server-Sent Events: one `job` event per change, ending when the job ends."""
    await services.jobs.GetJob(jobs_pb2.GetJobRequest(job_id=job_id), metadata=call.metadata, timeout=call.timeout)

    async def events() -> AsyncIterator[str]:
        try:
            async for event in _watch(services, call, job_id):
                yield f"event: job\ndata: {json.dumps(event)}\n\n"
        except grpc.aio.AioRpcError as error:
            yield f"event: error\ndata: {json.dumps({'code': error.code().name, 'message': error.details()})}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
