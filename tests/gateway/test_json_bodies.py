"""Transcoded response bodies are remembered by the response's bytes: the same answer gets the same body without
printing it again, any other answer (another value, another type, another route) its own, and the memo stays
within its byte budget."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp

from beatflow.vcs.v1 import repositories_pb2, version_control_pb2
from beatflow_gateway.transcoding.messages import response_json
from beatflow_gateway.transcoding.responses import JsonBodies, json_body
from beatflow_gateway.transcoding.rules import bindings

RULES = {(b.http_method, b.path.template): b for b in bindings()}
HISTORY = RULES["GET", "/api/vcs/history/{repo_id}"]
REPOSITORY = RULES["GET", "/api/repositories/{repo_id}"]
REPOSITORIES = RULES["GET", "/api/repositories"]


def _history(commits: int, message: str = "take") -> version_control_pb2.GetHistoryResponse:
    nodes = [
        version_control_pb2.HistoryNode(
            commit=version_control_pb2.Commit(
                commit_id=f"{index:064x}",
                message=f"{message} {index} ✓",
                bpm=120.5,
                create_time=Timestamp(seconds=index),
            ),
            branch_heads=["main"] if index == 0 else [],
        )
        for index in range(commits)
    ]
    return version_control_pb2.GetHistoryResponse(repo_id="r", nodes=nodes, next_page_token="next")


def test_a_body_is_the_routes_proto3_json():
    response = _history(3)
    body = JsonBodies().body(HISTORY, response)
    assert body == json_body(HISTORY, response)
    assert json.loads(body) == response_json(HISTORY, response)
    assert json.loads(body)["nodes"][0]["commit"]["message"] == "take 0 ✓"


def test_the_same_answer_is_printed_once():
    bodies = JsonBodies()
    first = bodies.body(HISTORY, _history(50))
    # Another message with the same bytes (as parsed from the next identical gRPC answer): the same body object.
    again = bodies.body(HISTORY, version_control_pb2.GetHistoryResponse.FromString(_history(50).SerializeToString()))
    assert again is first and len(bodies) == 1


def test_other_answers_get_their_own_bodies():
    bodies = JsonBodies()
    one, other = bodies.body(HISTORY, _history(2)), bodies.body(HISTORY, _history(2, message="mix"))
    assert json.loads(one)["nodes"][0]["commit"]["message"] == "take 0 ✓"
    assert json.loads(other)["nodes"][0]["commit"]["message"] == "mix 0 ✓"
    # Two types whose (empty) messages have the same bytes print their own defaults.
    empty_history = bodies.body(HISTORY, version_control_pb2.GetHistoryResponse())
    empty_listing = bodies.body(REPOSITORIES, repositories_pb2.ListRepositoriesResponse())
    assert json.loads(empty_listing) == {"repositories": [], "next_page_token": ""}
    assert json.loads(empty_history)["nodes"] == [] and "repositories" not in json.loads(empty_history)
    # A route that answers with one field of the response prints that field only.
    repository = repositories_pb2.GetRepositoryResponse(
        repository=repositories_pb2.Repository(repo_id="r", name="Song")
    )
    assert json.loads(bodies.body(REPOSITORY, repository))["name"] == "Song"


def test_the_memo_keeps_within_its_bytes_least_recently_used_out():
    one = _history(20, message="m0")  # m1 and m2 are as long
    bodies = JsonBodies(max_bytes=int(2.5 * (len(one.SerializeToString()) + len(json_body(HISTORY, one)))))
    first = bodies.body(HISTORY, _history(20, message="m0"))
    bodies.body(HISTORY, _history(20, message="m1"))
    assert bodies.body(HISTORY, _history(20, message="m0")) is first  # the most recently used now
    bodies.body(HISTORY, _history(20, message="m2"))  # over budget: m1 goes
    assert len(bodies) == 2
    assert bodies.body(HISTORY, _history(20, message="m0")) is first
