"""The Helm chart: lint, render with default, GPU and external values, and validate every manifest
against the Kubernetes schemas (kubernetes-validate --strict)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import kubernetes_validate
import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "k8s" / "beatflow"
EXAMPLES = ROOT / "deploy" / "k8s" / "examples"
HELM = ROOT / "tools" / "bin" / "helm"
# Custom resources whose schemas kubernetes-validate does not ship.
CUSTOM_KINDS = {"ScaledObject"}
VALUES = {"default": [], "gpu": [EXAMPLES / "gpu-values.yaml"], "external": [EXAMPLES / "external-values.yaml"]}


def render(values_files: list[Path]) -> list[dict]:
    command = [str(HELM), "template", "demo", str(CHART), "--namespace", "studio"]
    for path in values_files:
        command += ["--values", str(path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_spec(doc: dict) -> dict | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers(docs: list[dict]):
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield doc, spec, container


def test_chart_lints():
    result = subprocess.run([str(HELM), "lint", str(CHART), "--strict"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(VALUES))
def test_every_manifest_is_valid(name):
    version = kubernetes_validate.latest_version()
    docs = render(VALUES[name])
    assert docs
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_pods_run_as_non_root_on_a_read_only_root(name):
    for doc, spec, container in containers(render(VALUES[name])):
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False


def test_default_install_is_a_complete_dev_cluster():
    docs = render([])
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {f"demo-beatflow-{n}" for n in ("gateway", "vcs", "generator", "separator")}
    assert set(by_kind(docs, "StatefulSet")) == {"demo-beatflow-postgresql", "demo-beatflow-minio"}
    assert set(by_kind(docs, "HorizontalPodAutoscaler")) == {"demo-beatflow-gateway", "demo-beatflow-vcs"}
    assert len(by_kind(docs, "PodDisruptionBudget")) == 4
    job = next(iter(by_kind(docs, "Job").values()))
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    vcs = deployments["demo-beatflow-vcs"]["spec"]["template"]["spec"]["containers"][0]
    assert vcs["readinessProbe"]["grpc"]["port"] == 50061
    generator = deployments["demo-beatflow-generator"]["spec"]["template"]["spec"]
    assert generator["containers"][0]["startupProbe"]["failureThreshold"] * 5 >= 600
    assert "nvidia.com/gpu" not in generator["containers"][0]["resources"].get("limits", {})
    secret = by_kind(docs, "Secret")["demo-beatflow"]
    assert len(secret["stringData"]["jwt-secret"]) >= 32


def test_gpu_values_put_model_services_on_gpu_nodes():
    docs = render(VALUES["gpu"])
    deployments = by_kind(docs, "Deployment")
    for name in ("generator", "separator"):
        spec = deployments[f"demo-beatflow-{name}"]["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
        assert spec["tolerations"][0]["key"] == "nvidia.com/gpu" and spec["runtimeClassName"] == "nvidia"
        assert container["image"].endswith(":0.1.0-cuda")
        assert spec["volumes"][1]["persistentVolumeClaim"]["claimName"] == "beatflow-weights"
        assert "replicas" not in deployments[f"demo-beatflow-{name}"]["spec"], "KEDA owns the replicas"
    env = {
        e["name"]: e.get("value")
        for e in deployments["demo-beatflow-generator"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["BEATFLOW_GENERATOR_MUSICGEN_MODEL_DIR"] == "/models/musicgen-small"
    assert env["BEATFLOW_GENERATOR_MUSICGEN_DEVICE"] == "cuda"
    for name in ("gateway", "vcs"):
        spec = deployments[f"demo-beatflow-{name}"]["spec"]["template"]["spec"]
        assert "nodeSelector" not in spec
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == {"demo-beatflow-generator", "demo-beatflow-separator"}
    assert scaled["demo-beatflow-generator"]["spec"]["triggers"][0]["type"] == "postgresql"
    assert scaled["demo-beatflow-generator"]["spec"]["triggers"][0]["metadata"]["targetQueryValue"] == "240"
    assert by_kind(docs, "Ingress")["demo-beatflow"]["spec"]["tls"][0]["secretName"] == "beatflow-tls"


def test_external_values_bundle_nothing_and_use_existing_secrets():
    docs = render(VALUES["external"])
    assert by_kind(docs, "StatefulSet") == {}
    vcs = by_kind(docs, "Deployment")["demo-beatflow-vcs"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in vcs["env"]}
    assert env["BEATFLOW_VCS_DATABASE__URL"]["valueFrom"]["secretKeyRef"]["name"] == "beatflow-database"
    assert env["BEATFLOW_VCS_OBJECT_STORE__ENDPOINT"]["value"] == "s3.eu-west-1.amazonaws.com"
    assert env["BEATFLOW_VCS_OBJECT_STORE__SECURE"]["value"] == "true"
    assert env["BEATFLOW_VCS_AUTH__JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "beatflow-auth"


def test_retention_cronjob_prunes_daily_within_the_vcs_throttle_window(tmp_path):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    cron = by_kind(render([]), "CronJob")["demo-beatflow-prune"]
    minute, hour, *every_day = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and every_day == ["*", "*", "*"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = pod_spec(cron)["containers"][0]
    assert container["args"] == ["beatflow-admin", "prune"] and "beatflow-admin" in scripts
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BEATFLOW_ADMIN_IDEMPOTENCY_KEY_TTL_SECONDS"] == "86400"
    assert env["BEATFLOW_ADMIN_LOGIN_FAILURE_WINDOW_SECONDS"] == "900"
    assert env["BEATFLOW_ADMIN_FINISHED_JOB_RETENTION_SECONDS"] == str(30 * 24 * 3600)

    overrides = tmp_path / "retention.yaml"
    overrides.write_text(
        yaml.safe_dump({"vcs": {"env": {"LOGIN_FAILURE_WINDOW_SECONDS": 1800}}, "retention": {"batchSize": 200}})
    )
    cron = by_kind(render([VALUES["external"][0], overrides]), "CronJob")["demo-beatflow-prune"]
    env = {e["name"]: e for e in pod_spec(cron)["containers"][0]["env"]}
    assert env["BEATFLOW_ADMIN_LOGIN_FAILURE_WINDOW_SECONDS"]["value"] == "1800"
    assert env["BEATFLOW_ADMIN_BATCH_SIZE"]["value"] == "200"
    for name in ("BEATFLOW_ADMIN_VCS_DATABASE_URL", "BEATFLOW_ADMIN_JOBS_DATABASE_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "beatflow-database", "key": "database-url"}

    overrides.write_text(yaml.safe_dump({"retention": {"enabled": False}}))
    assert by_kind(render([overrides]), "CronJob") == {}


async def test_keda_triggers_count_audio_seconds_queued_or_running(database_dsn):
    """The rendered scaler queries, run on a real jobs schema: audio-seconds, not rows."""
    triggers = {
        name: doc["spec"]["triggers"][0]["metadata"]["query"]
        for name, doc in by_kind(render(VALUES["gpu"]), "ScaledObject").items()
    }
    async with await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as db:
        for kind, state, audio_seconds in [
            ("generator.generate", "queued", 30.0),
            ("generator.generate", "running", 12.5),
            ("generator.generate", "succeeded", 1000.0),
            ("separator.separate", "queued", 0.0),  # length unknown: counts as unknownLengthAudioSeconds
            ("separator.separate", "queued", 90.0),
        ]:
            await db.execute(
                "INSERT INTO jobs.jobs (id, kind, owner_id, state, payload, audio_seconds)"
                " VALUES (gen_random_uuid(), %s, 'alice', %s, '{}', %s)",
                (kind, state, audio_seconds),
            )
        generator = await (await db.execute(triggers["demo-beatflow-generator"])).fetchone()
        separator = await (await db.execute(triggers["demo-beatflow-separator"])).fetchone()
    assert (generator[0], separator[0]) == (42.5, 150.0)
