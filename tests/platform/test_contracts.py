"""The generated contracts: every REST path of the seed document is mapped by a google.api.http rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

DESCRIPTOR_SET = Path(__file__).resolve().parents[2] / "gen" / "beatflow.pb"

# (method, path template) pairs of ../shared/seed/phase4-rest-api.md, with {file_path} and
# {filename} replaced by blob ids: clients never name server paths.
SEED_ROUTES = {
    ("post", "/api/ai/generate"),
    ("get", "/api/ai/status/{job_id}"),
    ("post", "/api/ai/hum-to-beat"),
    ("post", "/api/ai/separate-stems"),
    ("post", "/api/ai/analyze-audio"),
    ("post", "/api/ai/batch-generate"),
    ("post", "/api/vcs/commit/{repo_id}"),
    ("get", "/api/vcs/commit/{commit_id}"),
    ("get", "/api/vcs/history/{repo_id}"),
    ("post", "/api/vcs/fork"),
    ("get", "/api/audio/download/{blob_id}"),
    ("post", "/api/audio/upload"),
    ("post", "/api/repositories/create"),
    ("get", "/api/repositories/{repo_id}"),
}
# Internal methods that are deliberately not on the public REST surface.
INTERNAL_METHODS = {"beatflow.auth.v1.AuthService.VerifyToken"}


def _rules(rule: http_pb2.HttpRule):
    yield rule
    for extra in rule.additional_bindings:
        yield from _rules(extra)


@pytest.fixture(scope="module")
def routes() -> dict[str, set[tuple[str, str]]]:
    descriptors = descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR_SET.read_bytes())
    found: dict[str, set[tuple[str, str]]] = {}
    for file in descriptors.file:
        if not file.package.startswith("beatflow."):
            continue
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                name = f"{file.package}.{service.name}.{method.name}"
                found[name] = {
                    (kind, getattr(r, kind)) for r in _rules(rule) for kind in [r.WhichOneof("pattern")] if kind
                }
    return found


def test_every_seed_route_is_mapped(routes):
    mapped = set().union(*routes.values())
    assert SEED_ROUTES - mapped == set()


def test_every_public_method_has_a_rest_mapping(routes):
    unmapped = {name for name, rules in routes.items() if not rules}
    assert unmapped == INTERNAL_METHODS


def test_no_two_methods_share_a_route(routes):
    seen: dict[tuple[str, str], str] = {}
    for name, rules in routes.items():
        for route in rules:
            assert route not in seen, f"{route} is mapped by {seen[route]} and {name}"
            seen[route] = name


def test_generated_stubs_import_with_services():
    from beatflow.generator.v1 import generator_pb2_grpc
    from beatflow.jobs.v1 import jobs_pb2
    from beatflow.vcs.v1 import blobs_pb2_grpc, version_control_pb2

    assert hasattr(generator_pb2_grpc, "GeneratorServiceStub")
    assert hasattr(blobs_pb2_grpc, "BlobServiceServicer")
    assert jobs_pb2.JobState.Name(jobs_pb2.JOB_STATE_SUCCEEDED) == "JOB_STATE_SUCCEEDED"
    commit = version_control_pb2.Commit(commit_id="c" * 64, parent_ids=["p" * 64])
    assert version_control_pb2.Commit.FromString(commit.SerializeToString()) == commit
