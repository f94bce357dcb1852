"""schemathesis over the gateway's OpenAPI against the running stack, with all of its checks."""

from __future__ import annotations

import os
import re
import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.strategies._internal import regex as hypothesis_regex
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.slow
# Cases per operation: 57 operations x 15 keep `make test` within its time on 2 cores; a longer hunt runs with
# e.g. BEATFLOW_FUZZ_EXAMPLES=200 pytest tests/e2e/test_openapi_fuzz.py.
EXAMPLES_PER_OPERATION = int(os.environ.get("BEATFLOW_FUZZ_EXAMPLES", "15"))
# Operations with rules no JSON Schema can state, where a schema-valid request may still be
# refused with 400, 413 or 415. Every other operation must accept whatever its schema allows.
RULES_BEYOND_THE_SCHEMA = {
    "POST /api/ai/generate": "max duration per engine; a real key; a prompt or an operation",
    "POST /api/ai/rerender": "the commit must be one the generator made",
    "POST /api/vcs/repos/{repo_id}/commits/{commit_id}/comments": "the anchor lies in the stem; a parent exists",
    "GET /api/vcs/repos/{repo_id}/commits/{commit_id}/comments": "a page token must come from an earlier page",
    "POST /api/ai/batch-generate": "as generate",
    "POST /api/ai/hum-to-beat": "the upload must be a non-silent recording",
    "POST /api/ai/separate-stems": "the blob must be an uploaded audio file",
    "POST /api/ai/analyze-audio": "the blob must be an uploaded audio file",
    "POST /api/ai/analysis-jobs": "the blob must be an uploaded audio file",
    "POST /api/audio/upload": "the file must be audio and not empty",
    "GET /api/jobs": "a page token must come from an earlier page",
    "GET /api/repositories": "a page token must come from an earlier page",
    "GET /api/vcs/history/{repo_id}": "a page token must come from an earlier page",
    "GET /api/vcs/repos/{repo_id}/log": "a page token must come from an earlier page",
    "POST /api/vcs/commit/{repo_id}": "stems must name uploaded audio blobs; generation params must fit 16 KiB",
}


@pytest.fixture(autouse=True)
def regex_strategies_built_once(monkeypatch):
    """Builds each pattern's strategy once for the whole run instead of once per operation and phase.

    Stem names allow every Unicode lowercase letter and digit, so their pattern spells out hundreds of
    ranges; Hypothesis takes 1.5-2 s to build a strategy for it, and rebuilds it for every operation,
    phase, mode and filter that has a stem name: two thirds of this test's time before. Strategies are
    immutable, so sharing one per (pattern, fullmatch, alphabet) changes no case drawn. Hypothesis has
    no public hook for this: it is pinned (requirements/dev.txt), and if the private function moves, setattr
    fails loudly here.
    """
    build = hypothesis_regex.regex_strategy
    built: dict[tuple, st.SearchStrategy] = {}

    def regex_strategy(regex, fullmatch, *, alphabet, **options):
        compiled = regex if isinstance(regex, re.Pattern) else re.compile(regex)
        key = (compiled.pattern, compiled.flags, fullmatch, repr(alphabet), tuple(sorted(options.items())))
        if key not in built:
            built[key] = build(regex, fullmatch, alphabet=alphabet, **options)
        return built[key]

    monkeypatch.setattr(hypothesis_regex, "regex_strategy", regex_strategy)


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
@pytest.mark.timeout(900)  # one pytest item for all operations: minutes on a busy 2-core machine
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    # Every check schemathesis has: no server errors, documented status codes, content types,
    # headers and bodies, bad data rejected, valid data accepted, auth not ignored.
    excluded = [positive_data_acceptance] if case.operation.label in RULES_BEYOND_THE_SCHEMA else []
    case.call_and_validate(timeout=60, excluded_checks=excluded)
