"""Wires the separator: engines, job handlers and the SeparatorService on the shared job runtime."""

from __future__ import annotations

from beatflow.separator.v1 import separator_pb2_grpc
from beatflow_platform.grpc.server import ServiceRegistration
from beatflow_platform.jobs.runtime import JobRuntime, JobServiceApp
from beatflow_separator.cache import SeparationCache
from beatflow_separator.engines.registry import default_separators
from beatflow_separator.jobs import SEPARATE, SeparatorJobs
from beatflow_separator.servicer import SERVICE_NAME, SeparatorServicer
from beatflow_separator.settings import SeparatorSettings


async def build_app(settings: SeparatorSettings) -> JobServiceApp:
    separators = default_separators(
        settings.demucs_model_dir, device=settings.demucs_device, batch_size=settings.demucs_batch_size
    )
    runtime = await JobRuntime.open(settings)
    handlers = SeparatorJobs(
        separators,
        runtime.blobs,
        max_bytes=settings.max_input_bytes,
        max_seconds=settings.max_audio_seconds,
        stem_format=settings.stem_format,
    ).handlers
    cache = SeparationCache(runtime.pool, SEPARATE)
    separator = SeparatorServicer(runtime.queue, separators, runtime.blobs, settings, cache)
    service = ServiceRegistration(
        SERVICE_NAME, lambda s: separator_pb2_grpc.add_SeparatorServiceServicer_to_server(separator, s)
    )
    return runtime.app(handlers, [service])
