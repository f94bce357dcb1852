"""UploadBlobMetadata.size: an upload's length announced in the request itself (the gateway knows it), refused
when negative by its protovalidate rule and checked against the stream."""

from __future__ import annotations

import hashlib

import grpc

from tests.audio import tone
from tests.fixtures.vcs import VcsUnderTest, rpc_error


async def test_a_negative_size_is_refused_by_its_rule(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    error = await rpc_error(alice.upload(tone(0.5), size=-1))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "size" in (error.details() or "")


async def test_an_announced_size_the_stream_does_not_hold_stores_nothing(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    data = tone(0.5)
    sha256 = hashlib.sha256(data).hexdigest()
    error = await rpc_error(alice.upload(data, expected_sha256=sha256, size=len(data) + 100))
    assert error.code() == grpc.StatusCode.DATA_LOSS
    assert (await alice.upload(data, expected_sha256=sha256, size=len(data))).size_bytes == len(data)
