"""Settings of the gateway (environment prefix BEATFLOW_GATEWAY_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEATFLOW_GATEWAY_", env_nested_delimiter="__", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    vcs_address: str = "127.0.0.1:50061"
    generator_address: str = "127.0.0.1:50062"
    separator_address: str = "127.0.0.1:50063"
    # Every gRPC call gets this long; a backend that does not answer in time is a 504, a
    # backend that is down a 503, never a hang.
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # Long unary work (analysis, mixdown, conversion) gets longer.
    slow_call_timeout_seconds: float = Field(default=300.0, gt=0)
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    # Origins allowed by CORS; credentials are allowed only for listed origins, never for "*".
    cors_origins: list[str] = []
    # Addresses or CIDR ranges of proxies in front of the gateway (an ingress); X-Forwarded-For is
    # believed only from them. Empty: the socket's peer is the client.
    trusted_proxies: list[str] = []
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
