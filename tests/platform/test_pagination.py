"""Signed page tokens."""

from __future__ import annotations

import pytest

from beatflow_platform.errors import InvalidArgument
from beatflow_platform.pagination import PageTokens, page_size


def test_round_trip_and_scope_binding():
    tokens = PageTokens("secret-one")
    token = tokens.encode("ListRepositories|owner=alice", {"after": ["2026-01-01", "id-9"]})
    assert tokens.decode("ListRepositories|owner=alice", token) == {"after": ["2026-01-01", "id-9"]}
    assert tokens.decode("ListRepositories|owner=alice", "") is None
    with pytest.raises(InvalidArgument):
        tokens.decode("ListRepositories|owner=bob", token)


@pytest.mark.parametrize("token", ["garbage", "!!!", "A" * 40])
def test_forged_tokens_are_invalid_argument(token):
    with pytest.raises(InvalidArgument) as caught:
        PageTokens("secret-one").decode("scope", token)
    assert caught.value.violations[0].field == "page_token"


def test_tokens_from_another_secret_are_refused():
    token = PageTokens("secret-one").encode("scope", {"n": 1})
    with pytest.raises(InvalidArgument):
        PageTokens("secret-two").decode("scope", token)


def test_page_size_rules():
    assert page_size(0) == 20
    assert page_size(5) == 5
    assert page_size(10_000, maximum=100) == 100
    with pytest.raises(InvalidArgument):
        page_size(-1)
