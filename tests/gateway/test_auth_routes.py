"""/api/auth over the transcoder: sign-up, refresh and sign-out take no access token; /me is the user itself."""

from __future__ import annotations

PASSWORD = "a long password"


async def test_a_session_from_sign_up_to_sign_out(gateway_factory):
    client = await gateway_factory()
    registered = await client.post(
        "/api/auth/register", json={"username": "maya", "email": "maya@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    tokens = registered.json()["tokens"]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == "maya" and "user" not in me.json()
    assert (await client.get("/api/auth/me")).status_code == 401

    # A client still sending an access token that is no longer any good can refresh and sign out.
    stale = {"Authorization": "Bearer not-a-token-any-more"}
    refreshed = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=stale)
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()["tokens"]
    signed_out = await client.post("/api/auth/logout", json={"refresh_token": renewed["refresh_token"]}, headers=stale)
    assert signed_out.status_code == 204 and signed_out.content == b""

    # Signing out ended the session (its access tokens follow within vcs's session cache: test_token_revocation).
    again = await client.post("/api/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert again.status_code == 401


async def test_bad_auth_bodies_are_400_with_the_field_named(gateway_factory):
    client = await gateway_factory()
    cases = [
        ("/api/auth/register", {"username": "short-password", "email": "s@example.com", "password": "short"}),
        ("/api/auth/register", {"username": "no-password", "email": "n@example.com"}),
        ("/api/auth/refresh", {}),
        ("/api/auth/logout", {"refresh_token": ""}),
        ("/api/auth/logout", {"refresh_token": "x" * 513}),
    ]
    for path, body in cases:
        response = await client.post(path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["code"] == "INVALID_ARGUMENT", response.text
    unknown = await client.post("/api/auth/logout", json={"refresh_token": "never issued"})
    assert unknown.status_code == 401


async def test_openapi_declares_no_security_where_no_token_is_taken(gateway_factory):
    client = await gateway_factory()
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/auth/register", "/api/auth/refresh", "/api/auth/logout"):
        assert paths[path]["post"]["security"] == [], path
    assert paths["/api/auth/register"]["post"]["responses"].keys() >= {"201"}
    assert paths["/api/auth/logout"]["post"]["responses"].keys() >= {"204"}
    me = paths["/api/auth/me"]["get"]
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/beatflow.auth.v1.User"
    }
