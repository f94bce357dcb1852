"""The chart's garbage-collection CronJob: `beatflow-admin gc` daily after the prune, with the grace period,
the render retention and the services' object store; valid manifests; off with its own switch or retention's."""

from __future__ import annotations

import kubernetes_validate
import yaml

from tests.deploy.test_helm import VALUES, by_kind, pod_spec, render


def gc_env(docs: list[dict]) -> dict[str, dict]:
    cron = by_kind(docs, "CronJob")["demo-beatflow-gc"]
    container = pod_spec(cron)["containers"][0]
    assert container["args"] == ["beatflow-admin", "gc"]
    return {e["name"]: e for e in container["env"]}


def test_gc_runs_daily_after_the_prune_and_reads_the_services_object_store():
    docs = render([])
    crons = by_kind(docs, "CronJob")
    prune_minute, prune_hour = map(int, crons["demo-beatflow-prune"]["spec"]["schedule"].split()[:2])
    minute, hour, *every_day = crons["demo-beatflow-gc"]["spec"]["schedule"].split()
    assert every_day == ["*", "*", "*"] and (int(hour), int(minute)) > (prune_hour, prune_minute)
    assert crons["demo-beatflow-gc"]["spec"]["concurrencyPolicy"] == "Forbid"
    kubernetes_validate.validate(crons["demo-beatflow-gc"], kubernetes_validate.latest_version(), strict=True)
    env = gc_env(docs)
    assert env["BEATFLOW_ADMIN_GC_GRACE_SECONDS"]["value"] == "86400"
    assert env["BEATFLOW_ADMIN_FINISHED_JOB_RETENTION_SECONDS"]["value"] == str(30 * 24 * 3600)
    assert env["BEATFLOW_ADMIN_OBJECT_STORE__ENDPOINT"]["value"] == "demo-beatflow-minio:9000"
    vcs = by_kind(docs, "Deployment")["demo-beatflow-vcs"]["spec"]["template"]["spec"]["containers"][0]
    vcs_env = {e["name"]: e for e in vcs["env"]}
    for name in ("KIND", "ENDPOINT", "SECURE", "REGION", "BUCKET", "ACCESS_KEY", "SECRET_KEY"):
        assert env[f"BEATFLOW_ADMIN_OBJECT_STORE__{name}"] == {
            **vcs_env[f"BEATFLOW_VCS_OBJECT_STORE__{name}"],
            "name": f"BEATFLOW_ADMIN_OBJECT_STORE__{name}",
        }


def test_gc_settings_follow_values_and_it_can_be_switched_off(tmp_path):
    overrides = tmp_path / "gc.yaml"
    overrides.write_text(yaml.safe_dump({"retention": {"gc": {"graceSeconds": 7 * 86400, "batchSize": 200}}}))
    env = gc_env(render([VALUES["external"][0], overrides]))
    assert env["BEATFLOW_ADMIN_GC_GRACE_SECONDS"]["value"] == str(7 * 86400)
    assert env["BEATFLOW_ADMIN_BATCH_SIZE"]["value"] == "200"
    assert env["BEATFLOW_ADMIN_OBJECT_STORE__SECURE"]["value"] == "true"
    for switch in ({"gc": {"enabled": False}}, {"enabled": False}):
        overrides.write_text(yaml.safe_dump({"retention": switch}))
        assert "demo-beatflow-gc" not in by_kind(render([overrides]), "CronJob")
