"""One Starlette route per `Binding`: HTTP in, one gRPC call through the SDK's stubs, JSON out.

Failures need nothing here: a gRPC error propagates to the app's handler (errors.py), which
answers with the status from the one gRPC -> HTTP table and the gateway's error body.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from beatflow_gateway.backends import Backends
from beatflow_gateway.context import forwarded_call
from beatflow_gateway.transcoding.messages import request_message
from beatflow_gateway.transcoding.rules import Binding

# Unary calls that may run long (analysis of a diff, comments moved along a history, mixes).
SLOW_METHODS = frozenset(
    {
        "beatflow.vcs.v1.VersionControlService.DiffCommits",
        "beatflow.vcs.v1.VersionControlService.ListComments",
        "beatflow.vcs.v1.VersionControlService.RenderCommit",
        "beatflow.separator.v1.SeparatorService.MixStems",
        "beatflow.separator.v1.SeparatorService.ConvertAudio",
    }
)


def route(binding: Binding) -> Route:
    # The method of each Backends (a stub binds every method of its service: made once, not per request).
    methods: weakref.WeakKeyDictionary[Backends, Callable] = weakref.WeakKeyDictionary()
    slow = binding.name in SLOW_METHODS

    async def endpoint(request: Request) -> Response:
        path_fields = {binding.path.fields[name]: value for name, value in request.path_params.items()}
        message = request_message(binding, path_fields, request.query_params.multi_items(), await request.body())
        call = forwarded_call(request)
        backends = request.app.state.backends
        if (method := methods.get(backends)) is None:
            method = methods[backends] = getattr(getattr(backends, binding.stub), binding.method.name)
        response = await method(message, metadata=call.metadata, timeout=call.slow_timeout if slow else call.timeout)
        if binding.success_status == 204:
            return Response(status_code=204)
        content = request.app.state.json_bodies.body(binding, response)
        return Response(content, status_code=binding.success_status, media_type="application/json")

    return Route(binding.path.route_path, endpoint, methods=[binding.http_method], name=binding.name)


def routes(bindings: list[Binding]) -> list[Route]:
    """Routes whose template ends in a custom verb (`{id}:cancel`) come first: `{id}` alone would match them too."""
    return [route(b) for b in sorted(bindings, key=lambda b: ":" not in b.path.template.rsplit("}", 1)[-1])]
