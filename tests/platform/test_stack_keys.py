"""`make run`'s keys: made once in its home, kept across restarts, each service given only its own."""

from __future__ import annotations

from beatflow_devtools.signing_keys import StackKeys
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform.auth import PrincipalKind, TokenIssuer, TokenVerifier
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_vcs.settings import VcsSettings


def test_keys_are_made_once_and_kept(tmp_path):
    first = StackKeys.in_directory(tmp_path, ["generator", "separator"])
    contents = {path.name: path.read_text() for path in tmp_path.iterdir()}
    assert set(contents) == {f"{n}.{e}" for n in ("users-1", "generator", "separator") for e in ("key", "pub")}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in tmp_path.glob("*.key"))
    again = StackKeys.in_directory(tmp_path, ["generator", "separator"])
    assert again == first
    assert {path.name: path.read_text() for path in tmp_path.iterdir()} == contents


def test_each_service_gets_only_its_own_keys_and_they_work_together(tmp_path, monkeypatch):
    keys = StackKeys.in_directory(tmp_path, ["generator", "separator"])
    assert keys.environment("gateway") == {}
    vcs_env, generator_env = keys.environment("vcs"), keys.environment("generator")
    assert "AUTH__SERVICE_KEY" not in vcs_env and str(tmp_path / "users-1.key") == vcs_env["AUTH__TOKEN_SIGNING_KEY"]
    assert set(generator_env) == {"AUTH__SERVICE_KEY", "AUTH__TOKEN_PUBLIC_KEYS"}
    assert generator_env["AUTH__SERVICE_KEY"] == str(tmp_path / "generator.key")
    for prefix, env in (("BEATFLOW_VCS_", vcs_env), ("BEATFLOW_GENERATOR_", generator_env)):
        for name, value in env.items():
            monkeypatch.setenv(prefix + name, value)
    vcs, generator = VcsSettings().auth, GeneratorSettings().auth

    user_token = TokenIssuer(vcs).issue("alice", session_id="s-1")
    assert TokenVerifier(generator, "generator").verify(user_token).subject_id == "alice"
    service_token = ServiceTokenSource(generator, "generator", "vcs").token()
    assert TokenVerifier(vcs, "vcs").verify(service_token).kind is PrincipalKind.SERVICE
