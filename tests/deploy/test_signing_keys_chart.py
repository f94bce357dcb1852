"""The chart's signing keys: each private key reaches only its own service's pods, and the rendered keys
work together (vcs's tokens verify on the job services, theirs on vcs)."""

from __future__ import annotations

import json

import yaml

from beatflow_devtools.signing_keys import StackKeys
from beatflow_platform.auth import PrincipalKind, TokenIssuer, TokenVerifier
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.settings import AuthSettings
from tests.deploy.test_helm import by_kind, render

SERVICES = ("vcs", "generator", "separator")


def pod(docs: list[dict], name: str) -> dict:
    return by_kind(docs, "Deployment")[f"demo-beatflow-{name}"]["spec"]["template"]["spec"]


def auth_of(docs: list[dict], name: str) -> AuthSettings:
    """The key settings `name` gets in its pod, with ConfigMap values and mounted files resolved."""
    spec = pod(docs, name)
    container = spec["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "signing-keys")["mountPath"]
    secret_name = next(v for v in spec["volumes"] if v["name"] == "signing-keys")["secret"]["secretName"]
    files = {f"{mount}/{key}": pem for key, pem in by_kind(docs, "Secret")[secret_name]["stringData"].items()}
    public = by_kind(docs, "ConfigMap")["demo-beatflow-public-keys"]["data"]
    prefix = f"BEATFLOW_{name.upper()}_AUTH__"
    fields = {}
    for env in container["env"]:
        if not env["name"].startswith(prefix) or env["name"].endswith(("JWT_SECRET", "_SECONDS")):
            continue
        field = env["name"].removeprefix(prefix).lower()
        if "valueFrom" in env:
            fields[field] = json.loads(public[env["valueFrom"]["configMapKeyRef"]["key"]])
        else:
            fields[field] = files.get(env["value"], env["value"])
    return AuthSettings(**fields)


def test_each_private_key_is_mounted_into_its_own_service_only():
    docs = render([])
    for name in SERVICES:
        spec = pod(docs, name)
        secrets = [v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v]
        assert secrets == [f"demo-beatflow-{name}-keys"], name
        assert next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "signing-keys")["readOnly"]
    gateway = pod(docs, "gateway")
    assert not any("secret" in v for v in gateway.get("volumes", []))
    assert not any("AUTH__" in e["name"] for e in gateway["containers"][0]["env"])
    vcs, generator = auth_of(docs, "vcs"), auth_of(docs, "generator")
    assert vcs.token_signing_key.get_secret_value().startswith("-----BEGIN PRIVATE KEY-----")
    assert not vcs.service_key.get_secret_value()
    assert generator.service_key.get_secret_value().startswith("-----BEGIN PRIVATE KEY-----")
    assert not generator.token_signing_key.get_secret_value() and not generator.service_public_keys


def test_rendered_keys_sign_and_verify_across_services():
    docs = render([])
    vcs, generator = auth_of(docs, "vcs"), auth_of(docs, "generator")
    token = TokenIssuer(vcs).issue("alice", session_id="s-1")
    for name in SERVICES:
        assert TokenVerifier(auth_of(docs, name), name).verify(token).subject_id == "alice"
    service_token = ServiceTokenSource(generator, "generator", "vcs").token()
    assert TokenVerifier(vcs, "vcs").verify(service_token).kind is PrincipalKind.SERVICE


def test_given_keys_and_a_rotation_s_extra_public_key(tmp_path):
    new, old = StackKeys.generate([]).token, StackKeys.generate([]).token
    overrides = tmp_path / "keys.yaml"
    signing = {"tokenKeyId": "users-2", "tokenPrivateKey": new.private, "extraTokenPublicKeys": {"users-1": old.public}}
    overrides.write_text(yaml.safe_dump({"auth": {"signingKeys": signing}}))
    docs = render([overrides])
    vcs = auth_of(docs, "vcs")
    assert vcs.token_signing_key_id == "users-2"
    assert vcs.token_signing_key.get_secret_value() == new.private
    old_token = TokenIssuer(
        AuthSettings(
            token_signing_key=old.private, token_signing_key_id="users-1", token_public_keys={"users-1": old.public}
        )
    ).issue("bob", session_id="s-2")
    new_token = TokenIssuer(vcs).issue("alice", session_id="s-1")
    separator = TokenVerifier(auth_of(docs, "separator"), "separator")
    assert [separator.verify(t).subject_id for t in (new_token, old_token)] == ["alice", "bob"]


def test_vcs_and_the_job_services_sign_page_tokens_with_different_keys():
    docs = render([])
    keys = {
        name: next(
            e["valueFrom"]["secretKeyRef"]["key"]
            for e in pod(docs, name)["containers"][0]["env"]
            if e["name"] == f"BEATFLOW_{name.upper()}_AUTH__JWT_SECRET"
        )
        for name in SERVICES
    }
    assert keys == {"vcs": "jwt-secret", "generator": "jobs-page-secret", "separator": "jobs-page-secret"}
    secret = by_kind(docs, "Secret")["demo-beatflow"]["stringData"]
    assert len(secret["jobs-page-secret"]) >= 32 and secret["jobs-page-secret"] != secret["jwt-secret"]
