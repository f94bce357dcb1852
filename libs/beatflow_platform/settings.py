"""Settings every service shares, read from the environment by pydantic-settings.

Each service subclasses `ServiceSettings` with its own env prefix (BEATFLOW_VCS_, ...)
and builds an instance in its `main`; nothing is read at import time. Nested groups use
a double underscore: BEATFLOW_VCS_OBJECT_STORE__KIND=s3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObjectStoreSettings(BaseModel):
    # "filesystem" is the embedded default; "s3" talks to MinIO or any S3 server.
    kind: Literal["filesystem", "s3"] = "filesystem"
    root: Path = Path(".beatflow/blobs")
    endpoint: str = "127.0.0.1:9000"
    secure: bool = False
    region: str = "us-east-1"
    access_key: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr("")
    bucket: str = "beatflow"
    # Multipart part size for streamed uploads of unknown length (S3's minimum is 5 MiB).
    part_size_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)

    @model_validator(mode="after")
    def _s3_needs_credentials(self) -> ObjectStoreSettings:
        if self.kind == "s3" and not (self.access_key.get_secret_value() and self.secret_key.get_secret_value()):
            raise ValueError("object_store.kind=s3 needs access_key and secret_key")
        return self


class DatabaseSettings(BaseModel):
    url: SecretStr = SecretStr("postgresql://beatflow@127.0.0.1:5432/beatflow")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    # How long start-up waits for the first connection before giving up.
    connect_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a call waits for a pooled connection (e.g. while PostgreSQL restarts) before it
    # fails with UNAVAILABLE instead of hanging.
    acquire_timeout_seconds: float = Field(default=5.0, gt=0)


class AuthSettings(BaseModel):
    # Shared HMAC key for access tokens; must be set (32+ characters) outside development.
    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "beatflow"
    jwt_audience: str = "beatflow"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    # How long a service trusts its last answer on whether a session is live: after logout or
    # refresh-token reuse, the session's access tokens keep working for at most this long.
    session_check_seconds: float = Field(default=5.0, ge=0, le=60)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEATFLOW_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "beatflow"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024 * 1024)
    # In-flight calls get this long to finish after SIGTERM.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    database: DatabaseSettings = DatabaseSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    auth: AuthSettings = AuthSettings()
