"""EdDSA tokens: users' access tokens signed by the issuer alone, service tokens signed by each service,
key ids, rotation and the start-up errors of bad key settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from beatflow_devtools.signing_keys import TOKEN_KEY_ID, StackKeys
from beatflow_platform.auth import PrincipalKind, TokenIssuer, TokenVerifier
from beatflow_platform.errors import Unauthenticated
from beatflow_platform.keys import KeyConfigurationError, load_private_key, write_key_pair
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.settings import AuthSettings
from tests.fixtures.keys import KEYS, auth_settings, service_tokens, signed

VCS = auth_settings("vcs")
GENERATOR = auth_settings("generator")


def verifier(settings: AuthSettings = VCS, service: str = "vcs") -> TokenVerifier:
    return TokenVerifier(settings, service)


def user_claims(**changes) -> dict:
    now = int(time.time())
    claims = {"sub": "alice", "kind": "user", "sid": "s-1", "iss": "beatflow", "aud": "beatflow"}
    return {**claims, "iat": now, "exp": now + 60, **changes}


def refused(token: str, settings: AuthSettings = VCS, service: str = "vcs") -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier(settings, service).verify(token)
    return caught.value.reason


def test_user_tokens_round_trip_on_every_service_with_the_public_key_only():
    token = TokenIssuer(VCS).issue("alice", session_id="s-1")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": TOKEN_KEY_ID, "typ": "JWT"}
    for settings, service in [(VCS, "vcs"), (GENERATOR, "generator"), (auth_settings("separator"), "separator")]:
        principal = verifier(settings, service).verify(token)
        assert (principal.subject_id, principal.kind, principal.session_id) == ("alice", PrincipalKind.USER, "s-1")
        assert principal.expires_at > datetime.now(UTC)
    assert not GENERATOR.token_signing_key.get_secret_value(), "a job service holds no issuer key"


def _resigned_hs256_with_the_public_key(token: str) -> str:
    """The classic algorithm-confusion forgery: HMAC over the token with the public key as secret."""
    public_pem = KEYS.token.public.encode()
    header = {"alg": "HS256", "kid": TOKEN_KEY_ID, "typ": "JWT"}
    claims = {**jwt.decode(token, options={"verify_signature": False}), "sub": "mallory"}

    def part(data: dict) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    signing_input = part(header) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        lambda token: signed(
            {**jwt.decode(token, options={"verify_signature": False}), "sub": "mallory"},
            key=StackKeys.generate([]).token.private,
        ),
        lambda token: jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, algorithm="none"),
        _resigned_hs256_with_the_public_key,
    ],
    ids=["signature", "claims-resigned-other-key", "alg-none", "hs256-with-public-key"],
)
def test_tampered_tokens_are_refused(tamper):
    assert refused(tamper(TokenIssuer(VCS).issue("alice", session_id="s-1"))) == "TOKEN_INVALID"


@pytest.mark.parametrize("changes", [{"aud": "other-app"}, {"iss": "someone-else"}, {"kind": "service"}])
def test_audience_issuer_and_kind_are_checked(changes):
    assert refused(signed(user_claims(**changes))) == "TOKEN_INVALID"


def test_expired_tokens_are_refused():
    token = TokenIssuer(VCS).issue("alice", session_id="s-1", now=datetime.now(UTC) - timedelta(hours=1))
    assert refused(token) == "TOKEN_EXPIRED"


def test_a_remembered_token_is_refused_once_it_expires():
    """The verifier remembers tokens it verified (no second signature check), but never past their expiry."""
    lifetime = timedelta(seconds=VCS.access_token_ttl_seconds)
    token = TokenIssuer(VCS).issue("alice", session_id="s-1", now=datetime.now(UTC) - lifetime + timedelta(seconds=1.5))
    checker = verifier()
    first = checker.verify(token)
    assert checker.verify(token) is first, "the second call answers from memory"
    time.sleep(max(0.0, first.expires_at.timestamp() - time.time()) + 0.05)
    with pytest.raises(Unauthenticated) as caught:
        checker.verify(token)
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_unknown_missing_and_odd_key_ids_are_refused():
    assert refused(signed(user_claims(), key_id="users-0")) == "TOKEN_INVALID"
    no_kid = jwt.encode(user_claims(), load_private_key(KEYS.token.private, "test key"), algorithm="EdDSA")
    assert refused(no_kid) == "TOKEN_INVALID"
    for odd in (["users-1"], 7, None):
        forged = signed(user_claims(), key_id="users-1").split(".")
        header = base64.urlsafe_b64encode(json.dumps({"alg": "EdDSA", "kid": odd}).encode()).rstrip(b"=").decode()
        assert refused(".".join([header, *forged[1:]])) == "TOKEN_INVALID"


def test_service_tokens_identify_their_service_to_the_service_they_address():
    token = service_tokens("generator", audience="vcs").token()
    assert jwt.get_unverified_header(token)["kid"] == "generator"
    principal = verifier().verify(token)
    assert (principal.subject_id, principal.kind, principal.session_id) == ("generator", PrincipalKind.SERVICE, "")
    # Addressed to another service: not accepted here.
    assert refused(service_tokens("generator", audience="separator").token()) == "TOKEN_INVALID"
    # A job service trusts no service keys at all.
    assert refused(token, GENERATOR, "generator") == "TOKEN_INVALID"


def test_a_service_key_cannot_sign_a_user_token_or_another_service():
    generator_key = KEYS.callers["generator"].private
    # Claims of a user, under the service's own key id: a service token that says "user".
    assert refused(signed(user_claims(), key=generator_key, key_id="generator")) == "TOKEN_INVALID"
    # Under the issuer's key id: the signature does not match the issuer's public key.
    assert refused(signed(user_claims(), key=generator_key, key_id=TOKEN_KEY_ID)) == "TOKEN_INVALID"
    # Another service's identity under the generator's key: separator's and vcs's.
    now = int(time.time())
    for name in ("separator", "vcs"):
        claims = {"sub": name, "kind": "service", "iss": name, "aud": "vcs", "iat": now, "exp": now + 60}
        assert refused(signed(claims, key=generator_key, key_id=name)) == "TOKEN_INVALID"
        assert refused(signed({**claims, "iss": "generator"}, key=generator_key, key_id="generator")) == "TOKEN_INVALID"


def test_rotation_accepts_old_and_new_keys_until_the_old_one_is_removed():
    old, new = StackKeys.generate([]).token, StackKeys.generate([]).token
    both = {"users-old": old.public, "users-new": new.public}
    old_issuer = TokenIssuer(
        AuthSettings(token_signing_key=old.private, token_signing_key_id="users-old", token_public_keys=both)
    )
    new_issuer = TokenIssuer(
        AuthSettings(token_signing_key=new.private, token_signing_key_id="users-new", token_public_keys=both)
    )
    old_token, new_token = old_issuer.issue("alice", session_id="s"), new_issuer.issue("bob", session_id="t")
    during = verifier(AuthSettings(token_public_keys=both), "generator")
    assert [during.verify(t).subject_id for t in (old_token, new_token)] == ["alice", "bob"]
    after = AuthSettings(token_public_keys={"users-new": new.public})
    assert verifier(after, "generator").verify(new_token).subject_id == "bob"
    assert refused(old_token, after, "generator") == "TOKEN_INVALID"


def test_service_keys_rotate_as_several_public_keys_under_the_service_name():
    old, new = StackKeys.generate(["generator"]).callers["generator"], KEYS.callers["generator"]
    rotating = auth_settings("vcs", service_public_keys={"generator": old.public + "\n" + new.public})
    old_token = ServiceTokenSource(AuthSettings(service_key=old.private), "generator", "vcs").token()
    new_token = service_tokens("generator").token()
    assert [verifier(rotating).verify(t).subject_id for t in (old_token, new_token)] == ["generator", "generator"]
    assert refused(old_token) == "TOKEN_INVALID", "the fixture's vcs trusts the new key only"


def test_keys_load_from_files(tmp_path):
    private, public = write_key_pair(tmp_path, "users-2")
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    settings = AuthSettings(
        token_signing_key=str(private), token_signing_key_id="users-2", token_public_keys={"users-2": str(public)}
    )
    token = TokenIssuer(settings).issue("alice", session_id="s")
    assert verifier(settings).verify(token).subject_id == "alice"


def _ec_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (AuthSettings(), "auth.token_public_keys is empty"),
        (AuthSettings(token_public_keys={"k": "/nonexistent/users.pub"}), r"cannot read the key file /nonexistent"),
        (
            AuthSettings(token_public_keys={"k": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}),
            "unreadable",
        ),
        (AuthSettings(token_public_keys={"k": "just text"}), "cannot read the key file"),
        (
            AuthSettings(
                token_public_keys={"generator": KEYS.token.public}, service_public_keys={"generator": KEYS.token.public}
            ),
            "in both",
        ),
    ],
    ids=["none", "missing-file", "bad-pem", "not-pem", "shared-key-id"],
)
def test_bad_verification_keys_stop_the_start_with_a_clear_error(settings, message):
    with pytest.raises(KeyConfigurationError, match=message):
        TokenVerifier(settings, "vcs")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_signing_key": ""}, "auth.token_signing_key is not set"),
        ({"token_signing_key_id": ""}, "auth.token_signing_key_id is not set"),
        ({"token_signing_key_id": "users-9"}, "'users-9' is not in auth.token_public_keys"),
        ({"token_public_keys": {TOKEN_KEY_ID: StackKeys.generate([]).token.public}}, "not the public half"),
        ({"token_signing_key": _ec_private_key_pem()}, "an Ed25519 key is required, not"),
    ],
    ids=["no-key", "no-key-id", "unpublished-key-id", "mismatched-public-key", "not-ed25519"],
)
def test_bad_issuer_keys_stop_the_start_with_a_clear_error(changes, message):
    with pytest.raises(KeyConfigurationError, match=message):
        TokenIssuer(auth_settings("vcs", **changes))


def test_a_service_without_its_own_key_cannot_start_its_calls():
    with pytest.raises(KeyConfigurationError, match=r"auth\.service_key is not set"):
        ServiceTokenSource(auth_settings("vcs"), "vcs", "generator")
