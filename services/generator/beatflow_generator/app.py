"""Wires the generator: engines, job handlers and the GeneratorService on the shared job runtime."""

from __future__ import annotations

import asyncio

from beatflow.generator.v1 import generator_pb2_grpc
from beatflow_generator.engines.musicgen import MusicgenEngine
from beatflow_generator.engines.musicgen_melody import MusicgenMelodyEngine
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.engines.registry import Engines
from beatflow_generator.jobs import GenerationJobs
from beatflow_generator.landing import VersionControl
from beatflow_generator.provenance import weights_revision
from beatflow_generator.servicer import SERVICE_NAME, GeneratorServicer
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform.grpc.server import ServiceRegistration
from beatflow_platform.jobs.runtime import JobRuntime, JobServiceApp


async def load_engines(settings: GeneratorSettings) -> tuple[Engines, dict[str, str]]:
    """The engines, and the revision of each model engine's weights (recorded in provenance)."""
    musicgen = MusicgenEngine(
        settings.musicgen_model_dir, device=settings.musicgen_device, max_batch=settings.musicgen_max_batch
    )
    melody = MusicgenMelodyEngine(settings.musicgen_melody_model_dir, device=settings.musicgen_device)
    revisions = {}
    # Configured weights that fail to load stop the start-up rather than leave an engine half there.
    for engine, directory in ((musicgen, settings.musicgen_model_dir), (melody, settings.musicgen_melody_model_dir)):
        if directory is not None:
            await asyncio.to_thread(engine.load)
            revisions[engine.name] = await asyncio.to_thread(weights_revision, directory)
    return Engines([ProceduralEngine(), musicgen, melody]), revisions


async def build_app(settings: GeneratorSettings) -> JobServiceApp:
    engines, revisions = await load_engines(settings)
    runtime = await JobRuntime.open(settings)
    versions = VersionControl(runtime.vcs_channel, runtime.vcs_tokens)
    handlers = GenerationJobs(
        engines,
        runtime.blobs,
        versions,
        stem_format=settings.stem_format,
        max_hum_bytes=settings.max_hum_bytes,
        max_hum_seconds=settings.max_hum_seconds,
        max_source_bytes=settings.max_source_bytes,
        model_revisions=revisions,
    ).handlers
    generator = GeneratorServicer(
        runtime.queue,
        engines,
        runtime.projects,
        versions,
        max_batch=settings.max_batch,
        max_attempts=settings.job_max_attempts,
    )
    service = ServiceRegistration(
        SERVICE_NAME, lambda s: generator_pb2_grpc.add_GeneratorServiceServicer_to_server(generator, s)
    )
    return runtime.app(handlers, [service])
