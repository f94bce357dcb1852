"""The separator service end to end: separation jobs, analysis, mixdown and conversion on blobs."""

from __future__ import annotations

import hashlib
import io
import re
import time

import grpc
import numpy as np
import pytest
import soundfile

from beatflow.common.v1 import audio_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2 as pb
from beatflow.vcs.v1 import blobs_pb2
from beatflow_audio import codec
from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from tests.audio import tone
from tests.fixtures.vcs import rpc_error


def song_bytes(bpm=124, key="F major", seconds=10.0, audio_format="FLAC") -> bytes:
    spec = GenerationSpec(
        prompt="house", bpm=bpm, mood="", duration_seconds=seconds, key=Key.parse(key), engine="procedural", seed=11
    )
    rendering = ProceduralEngine().render(spec, lambda *_: None)
    return codec.encode(rendering.stems["mix"], rendering.sample_rate, audio_format)


async def download(caller, blob_id: str) -> bytes:
    data = b""
    async for message in caller.blobs.DownloadBlob(blobs_pb2.DownloadBlobRequest(blob_id=blob_id)):
        data += message.chunk
    return data


async def test_separation_job_yields_stems_that_sum_to_the_track(desk):
    alice = await desk.vcs.sign_up()
    track = await alice.upload(song_bytes(seconds=6), filename="track.flac")
    job = (await desk.separator(alice).SeparateStems(pb.SeparateStemsRequest(source_blob_id=track.blob_id))).job
    assert job.kind == "separator.separate"
    done = await desk.finished(alice, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    result = pb.SeparationResult()
    assert done.result.detail.Unpack(result) and result.engine == "dsp" and result.model_name == "dsp"
    assert len(result.model_revision) == 64
    assert [s.stem for s in result.quality.stems] == [a.name for a in done.result.artifacts]
    assert result.quality.residual_db < -100 and all(0 <= s.energy_share < 1.5 for s in result.quality.stems)
    stems = {a.name: codec.decode(await download(alice, a.blob.blob_id))[0] for a in done.result.artifacts}
    assert set(stems) == {"drums", "bass", "vocals", "other"}
    original, _ = codec.decode(await download(alice, track.blob_id))
    assert np.abs(sum(stems.values()) - original).max() < 2e-3  # 16-bit FLAC rounding of four stems
    repo = await alice.create_repo("Stems")
    commit = await alice.commit(repo.repo_id, {a.name: a.blob.blob_id for a in done.result.artifacts})
    assert len(commit.stems) == 4


async def watch(desk, caller, job_id: str) -> list[jobs_pb2.Job]:
    return [event.job async for event in desk.jobs(caller).WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id))]


async def test_demucs_separation_reports_chunks_and_is_cached(desk_factory, demucs_weights):
    desk = await desk_factory(demucs_model_dir=demucs_weights)
    alice, bob = await desk.vcs.sign_up(), await desk.vcs.sign_up()
    data = song_bytes(seconds=4)
    track = await alice.upload(data)
    request = pb.SeparateStemsRequest(
        source_blob_id=track.blob_id, engine="demucs", demucs=pb.DemucsOptions(model_name="htdemucs")
    )
    job = (await desk.separator(alice).SeparateStems(request)).job
    events = await watch(desk, alice, job.job_id)
    done = events[-1]
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert [a.name for a in done.result.artifacts] == ["drums", "bass", "other", "vocals"]
    chunks = [e.progress for e in events if e.progress.stage == "separating"]
    assert chunks
    for progress in chunks:  # the watcher may skip some, never misreport one
        k, n = map(int, re.fullmatch(r"chunk (\d+)/(\d+)", progress.message).groups())
        assert progress.fraction == pytest.approx(k / n) and n == 6  # 4 s in 1 s chunks every 0.75 s
    result = pb.SeparationResult()
    assert done.result.detail.Unpack(result) and len(result.quality.stems) == 4
    assert result.model_name == "htdemucs" and len(result.model_revision) == 64

    started = time.perf_counter()
    again = (await desk.separator(alice).SeparateStems(request)).job
    assert time.perf_counter() - started < 5.0
    assert again.job_id == job.job_id and again.state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert [a.blob.blob_id for a in again.result.artifacts] == [a.blob.blob_id for a in done.result.artifacts]

    other_overlap = pb.SeparateStemsRequest(
        source_blob_id=track.blob_id, engine="demucs", demucs=pb.DemucsOptions(overlap=0.5)
    )
    assert (await desk.separator(alice).SeparateStems(other_overlap)).job.job_id != job.job_id
    # Bob uploads the same bytes: his own separation, whose stems are the same content-addressed blobs.
    await bob.upload(data)
    bobs = (await desk.separator(bob).SeparateStems(request)).job
    assert bobs.job_id != job.job_id
    bobs_done = await desk.finished(bob, bobs.job_id)
    assert [a.blob.blob_id for a in bobs_done.result.artifacts] == [a.blob.blob_id for a in done.result.artifacts]


async def test_separation_models_are_listed_and_chosen_by_name(desk_factory, demucs_weights):
    desk = await desk_factory(demucs_model_dir=demucs_weights)
    alice = await desk.vcs.sign_up()
    listed = (await desk.separator(alice).ListSeparationModels(pb.ListSeparationModelsRequest())).models
    by_name = {(m.engine, m.model_name): m for m in listed}
    assert by_name[("dsp", "dsp")].weights_present
    htdemucs = by_name[("demucs", "htdemucs")]
    assert htdemucs.weights_present and list(htdemucs.stems) == ["drums", "bass", "other", "vocals"]
    request = pb.SeparateStemsRequest(source_blob_id="a" * 64, engine="demucs", demucs=pb.DemucsOptions(model_name="x"))
    error = await rpc_error(desk.separator(alice).SeparateStems(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "available: htdemucs" in error.details()


async def test_analysis_reports_tempo_key_loudness_and_peaks(desk):
    alice = await desk.vcs.sign_up()
    track = await alice.upload(song_bytes(bpm=124, key="F major", seconds=12))
    analysis = (
        await desk.separator(alice).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=track.blob_id, waveform_points=200))
    ).analysis
    assert analysis.audio.format == audio_pb2.AUDIO_FORMAT_FLAC
    assert analysis.audio.duration_seconds == pytest.approx(12.0, abs=0.01)
    assert analysis.audio.sample_rate == 44100 and analysis.audio.channels == 2
    assert abs(analysis.bpm - 124) < 2
    assert (analysis.key.tonic, analysis.key.mode) == (audio_pb2.PITCH_CLASS_F, audio_pb2.MODE_MAJOR)
    assert 0 <= analysis.key_confidence <= 1
    assert -30 < analysis.integrated_loudness_lufs < 0
    assert analysis.peak_dbfs == pytest.approx(-1.0, abs=0.2)
    assert len(analysis.waveform_peaks) == 200 and max(analysis.waveform_peaks) <= 1.0
    assert len(analysis.beat_times_seconds) > 10


async def test_surround_files_are_analysed(desk):
    alice = await desk.vcs.sign_up()
    front, rate = codec.decode(song_bytes(seconds=6))
    five_one = np.zeros((len(front), 6), np.float32)
    five_one[:, :2] = front  # L and R of a 5.1 file, in the WAV channel order
    track = await alice.upload(codec.encode(five_one, rate, "WAV"))
    analysis = (await desk.separator(alice).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=track.blob_id))).analysis
    assert analysis.audio.channels == 6
    assert -30 < analysis.integrated_loudness_lufs < 0
    assert abs(analysis.bpm - 124) < 2


async def test_conversions_fit_the_format_or_are_refused_in_words(desk):
    alice = await desk.vcs.sign_up()
    studio_take = await alice.upload(tone(1.0, 440.0, sample_rate=96000))
    request = pb.ConvertAudioRequest(blob_id=studio_take.blob_id, format=audio_pb2.AUDIO_FORMAT_MP3)
    converted = (await desk.separator(alice).ConvertAudio(request)).blob  # MP3 holds 48 kHz at most
    assert converted.content_type == "audio/mpeg" and converted.audio.sample_rate == 48000
    request.sample_rate = 96000
    error = await rpc_error(desk.separator(alice).ConvertAudio(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "96000 Hz" in error.details()
    surround = await alice.upload(tone(1.0, channels=6))
    error = await rpc_error(
        desk.separator(alice).ConvertAudio(
            pb.ConvertAudioRequest(blob_id=surround.blob_id, format=audio_pb2.AUDIO_FORMAT_MP3)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "6" in error.details()


async def test_a_source_with_more_channels_than_the_stems_hold_is_refused_before_it_is_queued(desk):
    alice = await desk.vcs.sign_up()
    nine_channels = await alice.upload(tone(1.0, channels=9))
    request = pb.SeparateStemsRequest(source_blob_id=nine_channels.blob_id)
    error = await rpc_error(desk.separator(alice).SeparateStems(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "9" in error.details()
    assert not (await desk.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs


async def test_audio_with_samples_that_are_not_numbers_is_refused_in_words(desk):
    alice = await desk.vcs.sign_up()
    samples, rate = codec.decode(song_bytes(seconds=4))
    samples[1000:1010] = np.nan  # as a faulty plug-in can leave in a float file
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
    glitched = await alice.upload(buffer.getvalue())  # stored as it came
    error = await rpc_error(desk.separator(alice).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=glitched.blob_id)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not finite" in error.details()
    job = (await desk.separator(alice).SeparateStems(pb.SeparateStemsRequest(source_blob_id=glitched.blob_id))).job
    done = await desk.finished(alice, job.job_id)
    assert (done.state, done.error.code) == (jobs_pb2.JOB_STATE_FAILED, "INVALID_ARGUMENT")
    assert "not finite" in done.error.message


async def test_long_files_are_analysed_as_jobs(desk_factory):
    desk = await desk_factory(max_unary_analysis_seconds=5)
    alice = await desk.vcs.sign_up()
    track = await alice.upload(song_bytes(seconds=8))
    error = await rpc_error(desk.separator(alice).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=track.blob_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "SubmitAnalysis" in error.details()
    job = (await desk.separator(alice).SubmitAnalysis(pb.SubmitAnalysisRequest(blob_id=track.blob_id))).job
    done = await desk.finished(alice, job.job_id)
    analysis = pb.AudioAnalysis()
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED and done.result.detail.Unpack(analysis)
    assert abs(analysis.bpm - 124) < 2


async def test_too_long_audio_is_refused(desk_factory):
    desk = await desk_factory(max_audio_seconds=3)
    alice = await desk.vcs.sign_up()
    long_tone = await alice.upload(tone(4.0, sample_rate=8000, channels=1))
    error = await rpc_error(desk.separator(alice).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=long_tone.blob_id)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in error.details()
    error = await rpc_error(
        desk.separator(alice).SeparateStems(pb.SeparateStemsRequest(source_blob_id=long_tone.blob_id))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in error.details()  # refused, not queued
    assert not (await desk.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs


async def test_separations_count_their_audio_and_long_ones_are_batch(desk_factory):
    desk = await desk_factory(worker_concurrency=0, batch_above_audio_seconds=2, user_max_audio_seconds_per_day=6)
    alice = await desk.vcs.sign_up()
    short, long, another = [
        await alice.upload(tone(seconds, frequency, sample_rate=8000, channels=1))
        for seconds, frequency in ((1.0, 440.0), (3.0, 440.0), (3.0, 660.0))
    ]

    async def separate(blob) -> jobs_pb2.Job:
        return (await desk.separator(alice).SeparateStems(pb.SeparateStemsRequest(source_blob_id=blob.blob_id))).job

    interactive, batch = await separate(short), await separate(long)
    assert interactive.audio_seconds == pytest.approx(1.0, abs=0.01)
    assert interactive.priority == jobs_pb2.JOB_PRIORITY_INTERACTIVE
    assert batch.audio_seconds == pytest.approx(3.0, abs=0.01) and batch.priority == jobs_pb2.JOB_PRIORITY_BATCH
    error = await rpc_error(separate(another))  # 4 s used, 3 s more would pass the 6 s per day
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "per day" in error.details()


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"source_blob_id": "nope"}, "source_blob_id"),
        ({"source_blob_id": "a" * 64, "engine": "spleeter"}, "engine"),
        ({"source_blob_id": "a" * 64, "demucs": pb.DemucsOptions(overlap=0.95)}, "demucs.overlap"),
        ({"source_blob_id": "a" * 64, "demucs": pb.DemucsOptions(shifts=11)}, "demucs.shifts"),
    ],
)
async def test_bad_separation_requests(desk, request_fields, field):
    alice = await desk.vcs.sign_up()
    error = await rpc_error(desk.separator(alice).SeparateStems(pb.SeparateStemsRequest(**request_fields)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith(field)


async def test_demucs_without_weights_is_a_failed_precondition(desk):
    alice = await desk.vcs.sign_up()
    request = pb.SeparateStemsRequest(source_blob_id="a" * 64, engine="demucs")
    error = await rpc_error(desk.separator(alice).SeparateStems(request))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_others_blobs_and_unknown_blobs_are_not_found(desk):
    alice, mallory = await desk.vcs.sign_up(), await desk.vcs.sign_up()
    track = await alice.upload(tone(1.0))
    for blob_id in (track.blob_id, hashlib.sha256(b"never").hexdigest()):
        error = await rpc_error(desk.separator(mallory).AnalyzeAudio(pb.AnalyzeAudioRequest(blob_id=blob_id)))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        request = pb.SeparateStemsRequest(source_blob_id=blob_id)
        error = await rpc_error(desk.separator(mallory).SeparateStems(request))
        assert error.code() == grpc.StatusCode.NOT_FOUND  # at submit: no job is queued for it


async def test_mixdown_with_gains_and_conversion(desk):
    alice = await desk.vcs.sign_up()
    low = await alice.upload(tone(1.0, 220.0, sample_rate=44100))
    high = await alice.upload(tone(2.0, 880.0, sample_rate=22050, channels=1))
    mixed = (
        await desk.separator(alice).MixStems(
            pb.MixStemsRequest(
                inputs=[pb.MixInput(blob_id=low.blob_id), pb.MixInput(blob_id=high.blob_id, gain_db=-6.0)],
                format=audio_pb2.AUDIO_FORMAT_WAV,
            )
        )
    ).blob
    assert mixed.content_type == "audio/wav" and mixed.audio.sample_rate == 44100
    assert mixed.audio.duration_seconds == pytest.approx(2.0, abs=0.01)
    samples, rate = codec.decode(await download(alice, mixed.blob_id))
    spectrum = np.abs(np.fft.rfft(samples[:rate, 0]))
    frequencies = np.fft.rfftfreq(rate, 1 / rate)
    level = {f: spectrum[np.argmin(np.abs(frequencies - f))] for f in (220, 880)}
    assert level[880] / level[220] == pytest.approx(10 ** (-6 / 20), rel=0.05)

    for audio_format, content_type in (
        (audio_pb2.AUDIO_FORMAT_MP3, "audio/mpeg"),
        (audio_pb2.AUDIO_FORMAT_OGG, "audio/ogg"),
    ):
        converted = (
            await desk.separator(alice).ConvertAudio(
                pb.ConvertAudioRequest(blob_id=mixed.blob_id, format=audio_format, sample_rate=32000)
            )
        ).blob
        assert converted.content_type == content_type and converted.audio.sample_rate == 32000
    error = await rpc_error(desk.separator(alice).MixStems(pb.MixStemsRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = await rpc_error(
        desk.separator(alice).MixStems(pb.MixStemsRequest(inputs=[pb.MixInput(blob_id=low.blob_id, gain_db=100)]))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
