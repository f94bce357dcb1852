"""The contracts' protovalidate rules, enforced by the one validation interceptor in every service:
each service, started for real, refuses one bad request with INVALID_ARGUMENT, google.rpc.BadRequest
field violations (the field's path and the rule in words) and the services' usual ErrorInfo."""

from __future__ import annotations

import re

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from beatflow.generator.v1 import generator_pb2 as gen
from beatflow.generator.v1 import generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow.separator.v1 import separator_pb2 as sep
from beatflow.separator.v1 import separator_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2, version_control_pb2
from beatflow_generator.app import build_app as build_generator
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform import naming
from beatflow_platform.errors import ERROR_DOMAIN
from beatflow_platform.grpc.validation import violations_of
from beatflow_separator.app import build_app as build_separator
from beatflow_separator.settings import SeparatorSettings
from tests.fixtures.vcs import rpc_error

# What a regex looks like in a message: anchors, classes or escapes.
_REGEX = re.compile(r"\^|\$|\[.*\]|\\[a-z]")


def refusal(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str]]:
    """(the status message, field -> description) of an INVALID_ARGUMENT with the services' details."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    reasons, violations = [], {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reasons.append((info.reason, info.domain))
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations |= {v.field: v.description for v in bad.field_violations}
    assert reasons == [("INVALID_ARGUMENT", ERROR_DOMAIN)]
    assert status.message == "; ".join(f"{field}: {text}" for field, text in violations.items())
    assert not any(_REGEX.search(text) for text in violations.values()), violations
    return status.message, violations


async def test_vcs_refuses_a_bad_username_in_words(vcs):
    error = await rpc_error(
        vcs.anonymous_auth.Register(
            auth_pb2.RegisterRequest(username="No", email="no@example.com", password="long enough password")
        )
    )
    _, violations = refusal(error)
    assert violations == {"username": f"must be {naming.USERNAME_RULE}"}


async def test_vcs_reports_every_violation_of_a_commit(vcs):
    alice = await vcs.sign_up()
    request = version_control_pb2.CreateCommitRequest(
        repo_id="not-a-uuid", message="   ", bpm=5000, remove_stems=["drums", ""]
    )
    _, violations = refusal(await rpc_error(alice.vc.CreateCommit(request)))
    assert violations.keys() == {"repo_id", "message", "bpm", "remove_stems[1]"}
    assert violations["message"] == f"must be {naming.NON_BLANK_TEXT_RULE}"
    assert str(int(naming.MAX_COMMIT_BPM)) in violations["bpm"]


async def test_vcs_checks_each_message_of_an_upload_stream(vcs):
    alice = await vcs.sign_up()

    async def upload():
        yield blobs_pb2.UploadBlobRequest(metadata=blobs_pb2.UploadBlobMetadata(filename="x" * 300))
        yield blobs_pb2.UploadBlobRequest(chunk=b"RIFF")

    _, violations = refusal(await rpc_error(alice.blobs.UploadBlob(upload())))
    assert list(violations) == ["metadata.filename"]
    repos = (await alice.repos.ListRepositories(repositories_pb2.ListRepositoriesRequest())).repositories
    assert not repos


async def test_generator_names_the_item_of_a_batch(job_service_factory):
    studio = await job_service_factory(build_generator, GeneratorSettings)
    alice = await studio.vcs.sign_up()
    batch = gen.BatchGenerateRequest(
        requests=[gen.GenerationParams(prompt="jazz"), gen.GenerationParams(sampling=gen.SamplingParams(top_k=5000))]
    )
    generator = studio.stub(generator_pb2_grpc.GeneratorServiceStub, alice)
    _, violations = refusal(await rpc_error(generator.BatchGenerate(batch)))
    assert list(violations) == ["requests[1].sampling.top_k"]
    assert "2048" in violations["requests[1].sampling.top_k"]
    jobs = studio.stub(jobs_pb2_grpc.JobServiceStub, alice)
    _, violations = refusal(await rpc_error(jobs.GetJob(jobs_pb2.GetJobRequest(job_id="42"))))
    assert list(violations) == ["job_id"]
    assert not (await jobs.ListJobs(jobs_pb2.ListJobsRequest())).jobs, "nothing was queued"


async def test_separator_holds_demucs_options_to_its_limits(job_service_factory):
    desk = await job_service_factory(build_separator, SeparatorSettings)
    alice = await desk.vcs.sign_up()
    request = sep.SeparateStemsRequest(source_blob_id="0" * 64, demucs=sep.DemucsOptions(overlap=0.95, shifts=11))
    separator = desk.stub(separator_pb2_grpc.SeparatorServiceStub, alice)
    _, violations = refusal(await rpc_error(separator.SeparateStems(request)))
    assert violations.keys() == {"demucs.overlap", "demucs.shifts"}
    assert "0.9" in violations["demucs.overlap"] and "10" in violations["demucs.shifts"]


UUID = "123e4567-e89b-12d3-a456-426614174000"
SHA = "0" * 64


@pytest.mark.parametrize(
    ("request_message", "fields"),
    [
        (gen.GenerateRequest(params=gen.GenerationParams(bpm=59)), ["params.bpm"]),
        (gen.GenerateRequest(params=gen.GenerationParams(bpm=0, duration_seconds=0)), []),
        (
            gen.GenerateRequest(params=gen.GenerationParams(duration_seconds=float("nan"))),
            ["params.duration_seconds"] * 2,  # below 5, and not finite
        ),
        (gen.GenerateRequest(params=gen.GenerationParams(duration_seconds=4.9)), ["params.duration_seconds"]),
        (
            gen.GenerateRequest(params=gen.GenerationParams(sampling=gen.SamplingParams(temperature=5.1))),
            ["params.sampling.temperature"],
        ),
        (gen.GenerateRequest(params=gen.GenerationParams(sampling=gen.SamplingParams(temperature=5, top_k=2048))), []),
        (sep.ConvertAudioRequest(blob_id=SHA, sample_rate=7999), ["sample_rate"]),
        (sep.ConvertAudioRequest(blob_id=SHA), []),
        (version_control_pb2.GetDiffPictureRequest(repo_id=UUID, base="main", width=199), ["width"]),
        (version_control_pb2.GetDiffPictureRequest(repo_id=UUID, base="main"), []),
        (
            blobs_pb2.GetBlobDownloadUrlRequest(blob_id="A" * 64, expires_in_seconds=59),
            ["blob_id", "expires_in_seconds"],
        ),
        (blobs_pb2.GetBlobDownloadUrlRequest(blob_id=SHA), []),
    ],
)
def test_limits_are_where_the_services_put_them(request_message, fields):
    """0 still means "the default" where it did; the edges are the services' own."""
    assert [v.field for v in violations_of(request_message)] == fields


def test_words_name_enum_values_and_the_default():
    violations = {
        v.field: v.description for v in violations_of(sep.ConvertAudioRequest(blob_id=SHA, format=6, sample_rate=7999))
    }
    assert violations["format"].startswith("must be one of AUDIO_FORMAT_UNSPECIFIED, AUDIO_FORMAT_WAV")
    assert "MIDI" not in violations["format"]
    assert violations["sample_rate"].endswith("or 0 for the default") and "8000" in violations["sample_rate"]
