"""Wires the vcs service: pool, migrations, object store, use cases, servicers, gRPC host."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from beatflow.auth.v1 import auth_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2_grpc, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow_platform.auth import TokenIssuer, TokenVerifier
from beatflow_platform.db.migrations import load_migrations, migrate
from beatflow_platform.db.pool import DictPool, connect, open_pool, ping
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.objectstore import ObjectStore, create_object_store
from beatflow_platform.pagination import PageTokens
from beatflow_platform.sessions import SessionGuard
from beatflow_vcs.accounts import Accounts
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.comments import Comments
from beatflow_vcs.history import History
from beatflow_vcs.merges import Merges
from beatflow_vcs.renders import Renders
from beatflow_vcs.repositories import Repositories
from beatflow_vcs.servicers import auth as auth_servicer
from beatflow_vcs.servicers import blobs as blobs_servicer
from beatflow_vcs.servicers import repositories as repositories_servicer
from beatflow_vcs.servicers import version_control as version_control_servicer
from beatflow_vcs.settings import VcsSettings
from beatflow_vcs.stem_diffs import StemDiffs
from beatflow_vcs.stem_merges import StemMerges
from beatflow_vcs.versioning import VersionControl

SCHEMA = "vcs"
# Methods callable without a token: sign-up and sign-in, and the reads of public repositories.
PUBLIC_METHODS = (
    auth_servicer.PUBLIC_METHODS
    | repositories_servicer.PUBLIC_METHODS
    | blobs_servicer.PUBLIC_METHODS
    | version_control_servicer.PUBLIC_METHODS
)


def _methods(service: str, *names: str) -> frozenset[str]:
    return frozenset(f"/{service}/{name}" for name in names)


# What each service may call with its own token (service tokens, acting for a user with
# x-beatflow-on-behalf-of): blobs for its jobs' audio, reading the project a job names, and, for the
# generator, landing its results as commits. No other service, and no other method.
_JOB_SERVICE_CALLS = _methods(blobs_servicer.SERVICE_NAME, "UploadBlob", "GetBlob", "DownloadBlob") | _methods(
    repositories_servicer.SERVICE_NAME, "GetRepository"
)
SERVICE_CALLERS = {
    "generator": _JOB_SERVICE_CALLS
    | _methods(version_control_servicer.SERVICE_NAME, "GetCommit", "ListBranches", "CreateCommit"),
    "separator": _JOB_SERVICE_CALLS | _methods(version_control_servicer.SERVICE_NAME, "GetCommit"),
}


@dataclass
class VcsApp:
    host: GrpcHost
    pool: DictPool
    store: ObjectStore


async def apply_migrations(settings: VcsSettings) -> None:
    async with await connect(settings.database.url.get_secret_value()) as conn:
        await migrate(conn, SCHEMA, load_migrations(resources.files("beatflow_vcs.migrations")))


async def build_app(settings: VcsSettings) -> VcsApp:
    # Keys are checked first: a missing or bad one stops the start before anything is touched.
    issuer = TokenIssuer(settings.auth)
    verifier = TokenVerifier(settings.auth, settings.service_name)
    if settings.migrate_on_start:
        await apply_migrations(settings)
    pool = await open_pool(settings.database, application_name=f"beatflow-{settings.service_name}")
    store = await create_object_store(settings.object_store)
    page_tokens = PageTokens(settings.auth.jwt_secret.get_secret_value())
    accounts = Accounts(
        pool,
        issuer,
        timedelta(seconds=settings.refresh_token_ttl_seconds),
        max_failures=settings.login_max_failures,
        failure_window=timedelta(seconds=settings.login_failure_window_seconds),
        address_max_failures=settings.login_address_max_failures,
        max_delay=timedelta(seconds=settings.login_max_delay_seconds),
    )
    request_ttl = timedelta(seconds=settings.idempotency_key_ttl_seconds)
    repositories = Repositories(pool, accounts, page_tokens, request_ttl=request_ttl)
    blobs = Blobs(pool, store, max_bytes=settings.max_blob_bytes, max_audio_seconds=settings.max_audio_seconds)
    stem_diffs = StemDiffs(
        store, max_audio_seconds=settings.diff_max_audio_seconds, concurrency=settings.diff_concurrency
    )
    history = History(pool, repositories, page_tokens, stem_diffs)
    versions = VersionControl(pool, repositories, blobs, store, request_ttl=request_ttl)
    stem_merges = StemMerges(
        store, blobs, max_audio_seconds=settings.diff_max_audio_seconds, concurrency=settings.diff_concurrency
    )
    merges = Merges(pool, repositories, stem_merges)
    comments = Comments(pool, repositories, stem_diffs, page_tokens)
    renders = Renders(
        pool, history, store, max_seconds=settings.render_max_audio_seconds, concurrency=settings.render_concurrency
    )

    auth = auth_servicer.AuthServicer(accounts, verifier)
    sessions = SessionGuard(accounts.session_is_live, settings.auth.session_check_seconds)
    repos = repositories_servicer.RepositoryServicer(repositories)
    blob_service = blobs_servicer.BlobServicer(blobs)
    version_service = version_control_servicer.VersionControlServicer(
        history, versions, merges, renders=renders, comments=comments
    )
    services = [
        ServiceRegistration(
            auth_servicer.SERVICE_NAME, lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(auth, s)
        ),
        ServiceRegistration(
            repositories_servicer.SERVICE_NAME,
            lambda s: repositories_pb2_grpc.add_RepositoryServiceServicer_to_server(repos, s),
        ),
        ServiceRegistration(
            blobs_servicer.SERVICE_NAME, lambda s: blobs_pb2_grpc.add_BlobServiceServicer_to_server(blob_service, s)
        ),
        ServiceRegistration(
            version_control_servicer.SERVICE_NAME,
            lambda s: version_control_pb2_grpc.add_VersionControlServiceServicer_to_server(version_service, s),
        ),
    ]

    async def close_pool() -> None:
        await pool.close()

    host = GrpcHost(
        settings,
        services,
        scopes=[
            rpc_outcome_scope,
            AuthScope(
                verifier,
                PUBLIC_METHODS,
                sessions=sessions,
                service_callers=SERVICE_CALLERS,
                credential_free_methods=auth_servicer.CREDENTIAL_FREE_METHODS,
            ),
        ],
        readiness_checks=[lambda: ping(pool), store.check],
        on_shutdown=[close_pool],
    )
    return VcsApp(host, pool, store)
