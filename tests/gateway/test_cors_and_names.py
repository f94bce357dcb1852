"""One API vocabulary: CORS as `make run` configures it, one name for the login field, and shape
errors stated in words (never a regex), through the gateway over a real vcs."""

from __future__ import annotations

import os
import re
import uuid

from beatflow_devtools.stack import service_environment
from beatflow_gateway.settings import GatewaySettings
from beatflow_platform import naming
from tests.gateway.conftest import signed_in

APP_ORIGIN = "http://localhost:3000"
# What a pattern looks like in a message: anchors, classes, quantifiers, groups.
_REGEX_SYNTAX = re.compile(r"\^|\$|\[[^\]]*\]|\{\d|\(\?|\\[dswx]")


def _make_run_gateway_settings(monkeypatch) -> GatewaySettings:
    """The gateway's settings from the environment `make run` gives it."""
    for key in [key for key in os.environ if key.startswith("BEATFLOW_GATEWAY_")]:
        monkeypatch.delenv(key)
    for key, value in service_environment("gateway", 8000, {}).items():
        if key.startswith("BEATFLOW_GATEWAY_"):
            monkeypatch.setenv(key, value)
    return GatewaySettings()


async def test_make_run_lets_a_local_web_app_call_the_gateway(gateway_factory, monkeypatch):
    origins = _make_run_gateway_settings(monkeypatch).cors_origins
    assert {APP_ORIGIN, "http://127.0.0.1:5173"} <= set(origins)
    client = await gateway_factory(cors_origins=origins)
    preflight = await client.options(
        "/api/repositories/create",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers

    headers = await signed_in(client, "corsuser")
    read = await client.get("/api/repositories", headers={**headers, "Origin": APP_ORIGIN})
    assert read.status_code == 200 and read.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "x-request-id" in read.headers["access-control-expose-headers"].lower()

    stranger = await client.options(
        "/api/repositories/create",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers


async def test_without_configured_origins_no_origin_is_allowed(gateway_factory):
    client = await gateway_factory()
    response = await client.get("/", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


async def test_login_takes_username_like_register_and_login_as_an_alias(gateway_factory):
    client = await gateway_factory()
    await signed_in(client, "samename")
    for field in ("username", "login"):
        response = await client.post("/api/auth/login", json={field: "samename", "password": "a long password"})
        assert response.status_code == 200, (field, response.text)
        assert response.json()["user"]["username"] == "samename"
    by_email = await client.post(
        "/api/auth/login", json={"username": "samename@example.com", "password": "a long password"}
    )
    assert by_email.status_code == 200
    both = await client.post(
        "/api/auth/login", json={"username": "samename", "login": "samename", "password": "a long password"}
    )
    assert both.status_code == 400

    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    register = schemas["beatflow.auth.v1.RegisterRequest.Body"]
    assert {"username", "password"} <= set(register["required"]) and "username" in schemas["LoginBody"]["required"]
    assert "login" not in schemas["LoginBody"]["properties"]


async def test_shape_errors_state_the_rule_in_words(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "wordsuser")
    cases = [
        (
            "/api/auth/register",
            {"username": "No Capitals!", "email": "x@example.com", "password": "p" * 12},
            naming.USERNAME_RULE,
        ),
        (
            "/api/auth/register",
            {"username": "fine-name", "email": "not an email", "password": "p" * 12},
            naming.EMAIL_RULE,
        ),
        ("/api/repositories/create", {"name": "-leading dash"}, naming.REPOSITORY_NAME_RULE),
        ("/api/ai/separate-stems", {"blob_id": "not-a-blob"}, naming.SHA256_RULE),
        ("/api/ai/generate", {"prompt": "house", "key": "H major"}, naming.KEY_SIGNATURE_RULE),
        (f"/api/vcs/commit/{uuid.uuid4()}", {"message": "   "}, naming.NON_BLANK_TEXT_RULE),
    ]
    for path, body, rule in cases:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 400, (path, response.text)
        message = response.json()["message"]
        assert rule in message and not _REGEX_SYNTAX.search(message), message
        details = response.json()["details"]
        violations = next(d for d in details if d["type"] == "BadRequest")["field_violations"]
        assert all(not _REGEX_SYNTAX.search(v["description"]) for v in violations)

    listing = await client.get("/api/jobs", params={"state": "bogus"}, headers=headers)
    assert listing.status_code == 400 and "queued" in listing.json()["message"]
    assert not _REGEX_SYNTAX.search(listing.json()["message"])


def test_every_shape_has_a_rule_in_words():
    patterns = {name for name, value in vars(naming).items() if name.isupper() and str(value).startswith("^")}
    assert patterns >= {"UUID", "SHA256", "USERNAME", "EMAIL", "REPOSITORY_NAME", "STEM_NAME", "REF_NAME"}
    for name in patterns:
        rule = getattr(naming, f"{name}_RULE")
        assert not _REGEX_SYNTAX.search(rule), (name, rule)
