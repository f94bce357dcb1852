"""Settings of the vcs service (environment prefix BEATFLOW_VCS_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from beatflow_platform.settings import ServiceSettings


class VcsSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | SettingsConfigDict(env_prefix="BEATFLOW_VCS_")

    service_name: str = "vcs"
    grpc_port: int = Field(default=50061, ge=0, le=65535)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    # A write retried with the same request id after this long is executed again.
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Largest blob UploadBlob accepts.
    max_blob_bytes: int = Field(default=2 * 1024**3, ge=1024)
    # Longest audio a blob may hold (6-hour files are refused).
    max_audio_seconds: float = Field(default=2 * 3600.0, gt=0)
    # Failed logins per (login, client address) within the window before each further attempt from
    # that address waits (2 s, 4 s, ... up to login_max_delay_seconds); other addresses are not slowed.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    # Failed logins one address may make across all logins within the window.
    login_address_max_failures: int = Field(default=100, ge=1)
    login_max_delay_seconds: int = Field(default=900, ge=1)
    # Diffs compare the audio of modified stems up to this length (longer ones: trees only).
    diff_max_audio_seconds: float = Field(default=20 * 60.0, gt=0)
    # Audio comparisons and diff pictures computed at once (each takes one core for a few seconds).
    diff_concurrency: int = Field(default=1, ge=1)
    # Listening: renders mix commits whose longest stem is up to this long, this many at once (each
    # decodes, mixes and encodes on one core).
    render_max_audio_seconds: float = Field(default=20 * 60.0, gt=0)
    render_concurrency: int = Field(default=1, ge=1)
    # Apply pending migrations at start (one replica wins the advisory lock, the others wait).
    migrate_on_start: bool = True
