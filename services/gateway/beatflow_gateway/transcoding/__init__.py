"""REST from the contracts: the unary routes the `google.api.http` rules describe, served by
transcoding to gRPC the way Envoy's gRPC-JSON transcoder does (the same paths, bodies, JSON
and statuses), with their OpenAPI operations derived from the same descriptors."""

from __future__ import annotations

from fastapi import FastAPI

from beatflow_gateway.paths import register_id_convertors
from beatflow_gateway.transcoding.responses import JsonBodies
from beatflow_gateway.transcoding.routes import routes
from beatflow_gateway.transcoding.rules import bindings


def install(app: FastAPI) -> None:
    """Adds the transcoded routes ahead of the included routers of hand-written ones: they never serve the same
    method and path, and matching a request against FastAPI's included routers first costs more than serving it."""
    register_id_convertors()  # the routes' shaped path variables use them
    served = list(bindings())
    table = app.router.routes
    first_included = next((i for i, route in enumerate(table) if hasattr(route, "original_router")), len(table))
    table[first_included:first_included] = routes(served)
    app.state.transcoded = served
    app.state.json_bodies = JsonBodies()
