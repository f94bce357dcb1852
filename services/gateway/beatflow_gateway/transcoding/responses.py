"""Response message -> JSON body, remembered for responses seen before.

The JSON of a transcoded response is a function of the route (its `response_body`), the response's type
and its bytes alone, so a response whose bytes were transcoded before gets the same body again without printing
the message anew. Reads answered alike many times (a page of history, a repository) then cost the gateway
one serialization (C) and a dictionary look-up instead of the proto3 JSON printing (Python) of every field:
about 2 ms of CPU for a 50-commit history page. Every request still goes to the service, which decides what
the caller may read; only identical answers share their body.

Bounded by the bytes it holds (keys and bodies), least recently used first out.
"""

from __future__ import annotations

import json

from google.protobuf.message import Message

from beatflow_gateway.transcoding.messages import response_json
from beatflow_gateway.transcoding.rules import Binding
from beatflow_platform.lru import LruCache

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Larger responses are printed every time: one would take a large share of the memo.
MAX_REMEMBERED_BYTES = 1024 * 1024
# (response type, route's response_body, response bytes): two types may serialize alike (empty, say).
_Key = tuple[str, str, bytes]


def json_body(binding: Binding, response: Message) -> bytes:
    """The route's JSON body of `response` (proto3 JSON, compact, UTF-8)."""
    return json.dumps(response_json(binding, response), ensure_ascii=False, separators=(",", ":")).encode()


class JsonBodies:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self._bodies: LruCache[_Key, bytes] = LruCache(max_bytes, weight=lambda key, body: len(key[2]) + len(body))

    def body(self, binding: Binding, response: Message) -> bytes:
        """`json_body(binding, response)`, remembered by the response's bytes."""
        wire = response.SerializeToString(deterministic=True)
        if len(wire) > MAX_REMEMBERED_BYTES:
            return json_body(binding, response)
        key = (response.DESCRIPTOR.full_name, binding.response_body, wire)
        body = self._bodies.get(key)
        if body is None:
            body = json_body(binding, response)
            self._bodies.put(key, body)
        return body

    def __len__(self) -> int:
        return len(self._bodies)
