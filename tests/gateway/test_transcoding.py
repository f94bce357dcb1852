"""The transcoder's mapping of HTTP onto request messages and of responses onto JSON, from the protos' rules."""

from __future__ import annotations

import pytest

from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import repositories_pb2, version_control_pb2
from beatflow_gateway.errors import ApiError
from beatflow_gateway.transcoding.messages import request_message, response_json
from beatflow_gateway.transcoding.rules import HAND_WRITTEN, bindings
from beatflow_gateway.transcoding.templates import parse

RULES = {(b.http_method, b.path.template): b for b in bindings()}


def test_path_templates_become_routes():
    template = parse("/api/vcs/repos/{repo_id}/branches/{name=**}")
    assert template.route_path == "/api/vcs/repos/{p0}/branches/{p1:path}"
    assert template.openapi_path == "/api/vcs/repos/{repo_id}/branches/{name}"
    assert parse("/api/vcs/commit/{render.commit_id}/render").fields == {"p0": "render.commit_id"}
    with pytest.raises(ValueError, match="unsupported"):
        parse("/api/{name=things/*}")


def test_rules_carry_statuses_response_fields_and_additional_bindings():
    create = RULES["POST", "/api/repositories/create"]
    assert (create.success_status, create.response_body, create.body) == (201, "repository", "*")
    assert RULES["DELETE", "/api/repositories/{repo_id}"].success_status == 204
    # Ids have their shape in the route: `/api/repositories/create` is not a repository id.
    assert RULES["GET", "/api/repositories/{repo_id}"].path.route_path == "/api/repositories/{p0:uuid_id}"
    assert RULES["GET", "/api/ai/status/{job_id}"].method is RULES["GET", "/api/jobs/{job_id}"].method
    served = {b.name for b in RULES.values()}
    assert not served & set(HAND_WRITTEN) and "beatflow.jobs.v1.JobService.WatchJob" not in served


def test_body_path_and_query_fill_the_request():
    commit = RULES["POST", "/api/vcs/commit/{repo_id}"]
    body = b'{"message": "take", "bpm": 96, "stems": [{"name": "keys", "blob_id": "ab"}], "repo_id": "ignored"}'
    request = request_message(commit, {"repo_id": "r1"}, [], body)
    assert request == version_control_pb2.CreateCommitRequest(
        repo_id="r1", message="take", bpm=96, stems=[version_control_pb2.StemInput(name="keys", blob_id="ab")]
    )
    diff = RULES["GET", "/api/vcs/repos/{repo_id}/diff"]
    request = request_message(diff, {"repo_id": "r1"}, [("base", "main"), ("stems_only", "true")], b"")
    assert request == version_control_pb2.DiffCommitsRequest(repo_id="r1", base="main", stems_only=True)
    render = RULES["GET", "/api/vcs/commit/{commit_id}/render:info"]
    request = request_message(render, {"commit_id": "c"}, [("mute", "bass"), ("mute", "drums")], b"")
    assert list(request.mute) == ["bass", "drums"]
    read = RULES["GET", "/api/repositories/{repo_id}"]
    assert request_message(read, {"repo_id": "r1"}, [], b"") == repositories_pb2.GetRepositoryRequest(repo_id="r1")


@pytest.mark.parametrize(
    ("method", "template", "query", "body", "field"),
    [
        ("GET", "/api/vcs/repos/{repo_id}/diff", [("bogus", "1")], b"", "bogus"),
        ("GET", "/api/vcs/repos/{repo_id}/diff", [("stems_only", "yes")], b"", "stems_only"),
        ("POST", "/api/repositories/create", [], b'{"name": "x", "bogus": 1}', "body"),
        ("POST", "/api/repositories/create", [], b'{"name": 5}', "body"),
        ("POST", "/api/repositories/create", [], b"[1]", "body"),
        ("POST", "/api/repositories/create", [], b'{"name": NaN}', "body"),
        ("POST", "/api/repositories/create", [], b"{", "body"),
    ],
)
def test_what_does_not_map_is_a_400_naming_the_field(method, template, query, body, field):
    with pytest.raises(ApiError) as refused:
        request_message(RULES[method, template], {"repo_id": "r1"}, query, body)
    assert refused.value.status == 400
    assert refused.value.details[0]["field_violations"][0]["field"] == field


def test_responses_print_proto_names_and_unwrap_the_response_field():
    get = RULES["GET", "/api/repositories/{repo_id}"]
    response = repositories_pb2.GetRepositoryResponse(repository=repositories_pb2.Repository(repo_id="r", id="r"))
    document = response_json(get, response)
    assert document["repo_id"] == document["id"] == "r" and document["is_public"] is False
    listing = RULES["GET", "/api/repositories"]
    assert response_json(listing, repositories_pb2.ListRepositoriesResponse()) == {
        "repositories": [],
        "next_page_token": "",
    }
    job = response_json(RULES["GET", "/api/jobs/{job_id}"], jobs_pb2.GetJobResponse(job=jobs_pb2.Job(task_id="t")))
    assert job["task_id"] == "t" and job["state"] == "JOB_STATE_UNSPECIFIED"
