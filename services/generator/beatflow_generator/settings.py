"""Settings of the generator service (environment prefix BEATFLOW_GENERATOR_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from beatflow_platform.jobs.runtime import JobServiceSettings


class GeneratorSettings(JobServiceSettings):
    model_config = JobServiceSettings.model_config | SettingsConfigDict(env_prefix="BEATFLOW_GENERATOR_")

    service_name: str = "generator"
    grpc_port: int = Field(default=50062, ge=0, le=65535)
    # Local directories with MusicGen weights (save_pretrained layout); unset disables the engine.
    musicgen_model_dir: Path | None = None
    musicgen_melody_model_dir: Path | None = None
    # "cpu", "cuda" or "cuda:N", for both MusicGen engines.
    musicgen_device: str = "cpu"
    # Variations of one batch request MusicGen renders in one forward pass.
    musicgen_max_batch: int = Field(default=4, ge=1, le=64)
    stem_format: Literal["FLAC", "WAV"] = "FLAC"
    max_batch: int = Field(default=16, ge=1, le=256)
    max_hum_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_hum_seconds: float = Field(default=120.0, gt=0)
    # The largest stem of a source commit an audio engine continues from.
    max_source_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
