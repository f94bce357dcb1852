"""schemathesis over the gateway's OpenAPI against the running stack: no input yields a server error."""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway_schema(stack):
    url = stack.url("gateway")
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    registered = httpx.post(
        f"{url}/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "fuzzing password"},
        timeout=30,
    ).json()
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.update(headers={"Authorization": f"Bearer {registered['tokens']['access_token']}"})
    return schema


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(timeout=60)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
