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
    # Lossless audio (WAV, AIFF) stored as content-defined chunks of its samples, each chunk once
    # (docs/storage.md); off stores every blob whole. Blobs stored either way stay readable.
    chunk_lossless_audio: bool = True
    # The chunks' average size: smaller shares more between takes, larger means fewer objects.
    chunk_bytes: int = Field(default=128 * 1024, ge=16 * 1024, le=4 * 1024 * 1024)

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
    # HMAC key of page tokens (opaque list cursors), the same on every replica of a service. It signs
    # no access token (the name is historical); see docs/reliability.md, "Keys and who holds them".
    jwt_secret: SecretStr = SecretStr("")
    jwt_issuer: str = "beatflow"
    jwt_audience: str = "beatflow"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    # Ed25519 keys, each PEM text or the path of a PEM file (beatflow_platform.keys).
    # The private key users' access tokens are signed with: the issuer (vcs) alone sets it.
    token_signing_key: SecretStr = SecretStr("")
    # Its key id, written into each token's header ("kid"); must be a key of token_public_keys.
    token_signing_key_id: str = ""
    # Key id -> public key a user's access token may be signed with: the current key and, during a
    # rotation, the next or the previous one. Every service that verifies user tokens needs it.
    token_public_keys: dict[str, str] = Field(default_factory=dict)
    # This service's own private key, for the service tokens it calls other services with.
    service_key: SecretStr = SecretStr("")
    # Service name -> public key(s) of the services whose service tokens this one accepts
    # (several PEM blocks during a rotation). What each may call is decided by the receiver's code.
    service_public_keys: dict[str, str] = Field(default_factory=dict)
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
