"""LruCache: the least recently used entries go first, by count or by weight, and nothing heavier than the bound."""

from __future__ import annotations

from beatflow_platform.lru import LruCache


def test_the_least_recently_used_entry_goes_first():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_weights_sum_to_at_most_the_bound_and_an_entry_heavier_than_it_is_not_kept():
    cache: LruCache[str, bytes] = LruCache(10, weight=lambda key, value: len(key) + len(value))
    cache.put("a", b"12345")  # 6
    cache.put("b", b"123")  # 4: 10 in all
    assert len(cache) == 2
    cache.put("c", b"1")  # 2 more: "a" goes
    assert cache.get("a") is None and cache.get("b") == b"123" and cache.get("c") == b"1"
    cache.put("d", b"1234567890")  # 11 alone
    assert cache.get("d") is None and len(cache) == 2
    cache.put("b", b"12345678")  # replaced: its old weight no longer counts, "c" goes
    assert cache.get("b") == b"12345678" and cache.get("c") is None and len(cache) == 1
