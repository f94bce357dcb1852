"""Settings of `beatflow-admin` (environment prefix BEATFLOW_ADMIN_; nested groups with a double underscore,
e.g. BEATFLOW_ADMIN_OBJECT_STORE__KIND=s3)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from beatflow_platform.settings import DatabaseSettings, ObjectStoreSettings
from beatflow_vcs.settings import VcsSettings

_DEFAULT_DATABASE_URL = DatabaseSettings().url


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEATFLOW_ADMIN_", env_nested_delimiter="__", extra="ignore")

    # Databases holding the vcs schema and the jobs schema (the same one in the Helm chart).
    vcs_database_url: SecretStr = _DEFAULT_DATABASE_URL
    jobs_database_url: SecretStr = _DEFAULT_DATABASE_URL
    # Keys older than the vcs service's BEATFLOW_VCS_IDEMPOTENCY_KEY_TTL_SECONDS are no longer recalled
    # (its default is taken); pruning them only frees the rows.
    idempotency_key_ttl_seconds: int = Field(
        default=VcsSettings.model_fields["idempotency_key_ttl_seconds"].default, ge=60
    )
    # Must be at least the vcs service's BEATFLOW_VCS_LOGIN_FAILURE_WINDOW_SECONDS (its default is taken).
    login_failure_window_seconds: int = Field(
        default=VcsSettings.model_fields["login_failure_window_seconds"].default, ge=1
    )
    # Succeeded, failed and cancelled jobs are deleted this long after they ended.
    finished_job_retention_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    # Rows deleted per statement (one short transaction each).
    batch_size: int = Field(default=1000, ge=1, le=100_000)
    # `gc`: the vcs service's object store (where blobs and renders are).
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    # `gc` deletes a blob nothing names only when its last upload is older than this: it must outlast the
    # longest time between uploading a blob and naming it in a commit or job (0 only in tests).
    gc_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # `gc` deletes cached commit mixdowns rendered longer ago than this (the next request renders again).
    render_retention_seconds: int = Field(default=30 * 24 * 3600, ge=0)

    @property
    def idempotency_key_ttl(self) -> timedelta:
        return timedelta(seconds=self.idempotency_key_ttl_seconds)

    @property
    def login_failure_window(self) -> timedelta:
        return timedelta(seconds=self.login_failure_window_seconds)

    @property
    def finished_job_retention(self) -> timedelta:
        return timedelta(seconds=self.finished_job_retention_seconds)

    @property
    def gc_grace(self) -> timedelta:
        return timedelta(seconds=self.gc_grace_seconds)

    @property
    def render_retention(self) -> timedelta:
        return timedelta(seconds=self.render_retention_seconds)
