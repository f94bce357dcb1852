"""Settings of the separator service (environment prefix BEATFLOW_SEPARATOR_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from beatflow_platform.jobs.runtime import JobServiceSettings


class SeparatorSettings(JobServiceSettings):
    model_config = JobServiceSettings.model_config | SettingsConfigDict(env_prefix="BEATFLOW_SEPARATOR_")

    service_name: str = "separator"
    grpc_port: int = Field(default=50063, ge=0, le=65535)
    # A local demucs repo: <signature>.th files and htdemucs*.yaml bags; unset disables the engine.
    demucs_model_dir: Path | None = None
    demucs_device: str = "cpu"
    # Chunks per model call; 0 means 1 on the CPU and demucs_engine.GPU_BATCH_SIZE on a GPU.
    demucs_batch_size: int = Field(default=0, ge=0, le=64)
    # Longer audio is refused outright (a 6-hour file is an error, not a job).
    max_audio_seconds: float = Field(default=1800.0, gt=0)
    # Separations of longer audio are batch jobs: every interactive job is claimed before them.
    batch_above_audio_seconds: float = Field(default=600.0, gt=0)
    # Longer audio must go through SubmitAnalysis (a job) rather than the unary AnalyzeAudio.
    max_unary_analysis_seconds: float = Field(default=600.0, gt=0)
    max_input_bytes: int = Field(default=1024**3, ge=1024)
    max_mix_inputs: int = Field(default=32, ge=1)
    stem_format: Literal["FLAC", "WAV"] = "FLAC"
