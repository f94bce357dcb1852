"""Login throttling over real PostgreSQL: per (login, client address) with growing delays, a ceiling
per address, and no way for a guesser to lock the owner out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from beatflow_platform.auth import TokenIssuer
from beatflow_platform.db.pool import open_pool
from beatflow_platform.errors import Unauthenticated
from beatflow_platform.settings import DatabaseSettings
from beatflow_vcs.accounts import Accounts
from beatflow_vcs.login_throttle import FailureCounts, LoginThrottle, LoginThrottled, client_key, peer_host
from tests.fixtures.keys import auth_settings
from tests.fixtures.vcs import VcsUnderTest, rpc_error

PASSWORD = "correct horse battery"
ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


def from_address(address: str) -> tuple[tuple[str, str], ...]:
    return (("x-beatflow-client-address", address),)


async def login(vcs: VcsUnderTest, name: str, password: str, address: str):
    return await vcs.anonymous_auth.Login(
        auth_pb2.LoginRequest(login=name, password=password), metadata=from_address(address)
    )


def retry_seconds(error: grpc.aio.AioRpcError) -> int:
    """The RetryInfo's delay of a RESOURCE_EXHAUSTED."""
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    for packed in rpc_status.from_call(error).details:
        if packed.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            packed.Unpack(info)
            return info.retry_delay.seconds
    raise AssertionError("no RetryInfo in the status")


async def test_the_owner_signs_in_from_another_address_while_a_guesser_is_throttled(vcs_factory):
    vcs = await vcs_factory(login_max_failures=3)
    await vcs.sign_up("hana")
    for _ in range(3):
        error = await rpc_error(login(vcs, "hana", "guess guess", ATTACKER))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # The guesser's address must wait, even with the right password ...
    assert retry_seconds(await rpc_error(login(vcs, "hana", PASSWORD, ATTACKER))) >= 1
    assert retry_seconds(await rpc_error(login(vcs, "HANA", "another guess", ATTACKER))) >= 1
    # ... while the owner, from anywhere else, is let in at once.
    assert (await login(vcs, "hana", PASSWORD, OWNER)).user.username == "hana"
    assert (await login(vcs, "hana@example.com", PASSWORD, "2001:db8:1::5")).user.username == "hana"


async def test_delays_double_with_each_failure_and_expire(vcs_factory):
    vcs = await vcs_factory(login_max_failures=2)
    await vcs.sign_up("ines")
    for _ in range(2):
        await rpc_error(login(vcs, "ines", "wrong wrong", ATTACKER))
    first_wait = retry_seconds(await rpc_error(login(vcs, "ines", "wrong wrong", ATTACKER)))
    assert first_wait == 2
    await asyncio.sleep(first_wait)
    error = await rpc_error(login(vcs, "ines", "wrong wrong", ATTACKER))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, "the wait was served, so this guess was checked"
    assert retry_seconds(await rpc_error(login(vcs, "ines", "wrong wrong", ATTACKER))) in (3, 4)
    await asyncio.sleep(4)
    assert (await login(vcs, "ines", PASSWORD, ATTACKER)).user.username == "ines"
    # A success forgets that address's failures on that login: it starts afresh.
    for _ in range(2):
        await rpc_error(login(vcs, "ines", "wrong wrong", ATTACKER))
    assert retry_seconds(await rpc_error(login(vcs, "ines", PASSWORD, ATTACKER))) == 2


@pytest.fixture
async def accounts_factory(database_dsn):
    pools = []

    async def make(**limits) -> tuple[Accounts, str]:
        pool = await open_pool(DatabaseSettings(url=database_dsn, pool_max_size=4), application_name="throttle-test")
        pools.append(pool)
        return Accounts(pool, TokenIssuer(auth_settings("vcs")), timedelta(days=1), **limits)

    yield make
    for pool in pools:
        await pool.close()


async def test_one_address_spraying_guesses_over_many_logins_hits_its_ceiling(accounts_factory):
    accounts = await accounts_factory(max_failures=5, address_max_failures=4)
    await accounts.register("owner", "owner@example.com", PASSWORD, "")
    for name in ("anna", "ben", "carl", "dora"):  # one guess each: no pair reaches its free failures
        with pytest.raises(Unauthenticated):
            await accounts.login(name, "spray spray", client_address=ATTACKER)
    with pytest.raises(LoginThrottled) as throttled:
        await accounts.login("owner", PASSWORD, client_address=ATTACKER)
    assert 890 <= throttled.value.retry_after_seconds <= 900, "until the oldest failure leaves the window"
    user, _ = await accounts.login("owner", PASSWORD, client_address=OWNER)
    assert user.username == "owner"


async def test_concurrent_guesses_are_counted_before_their_passwords_are_checked(accounts_factory):
    accounts = await accounts_factory(max_failures=3)
    await accounts.register("owner", "owner@example.com", PASSWORD, "")
    outcomes = await asyncio.gather(
        *(accounts.login("owner", f"guess {i}", client_address=ATTACKER) for i in range(12)), return_exceptions=True
    )
    kinds = sorted(type(outcome).__name__ for outcome in outcomes)
    assert kinds.count("Unauthenticated") == 3 and kinds.count("LoginThrottled") == 9, kinds


async def test_an_address_s_failures_older_than_the_window_are_deleted_when_it_fails_again(
    accounts_factory, database_dsn
):
    """Only that address's: another address's old rows are left to `beatflow-admin prune`."""
    accounts = await accounts_factory(failure_window=timedelta(seconds=1))
    for name, address in (("anna", ATTACKER), ("ben", ATTACKER), ("carl", OWNER)):
        with pytest.raises(Unauthenticated):
            await accounts.login(name, "wrong wrong", client_address=address)
    await asyncio.sleep(1.2)
    with pytest.raises(Unauthenticated):
        await accounts.login("dora", "wrong wrong", client_address=ATTACKER)
    with psycopg.connect(database_dsn) as conn:
        rows = conn.execute("SELECT login, client_address FROM vcs.login_failures ORDER BY login").fetchall()
    assert rows == [("carl", OWNER), ("dora", ATTACKER)]


def test_the_delay_doubles_from_the_free_failures_up_to_its_cap():
    throttle = LoginThrottle(free_failures=5, first_delay=timedelta(seconds=2), max_delay=timedelta(minutes=15))
    delays = [throttle.delay_after(n).total_seconds() for n in range(4, 16)]
    assert delays == [0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert throttle.delay_after(10**9) == timedelta(minutes=15)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    counts = FailureCounts(pair=6, last_pair_failure=now - timedelta(seconds=1), address=6, oldest_address_failure=now)
    assert throttle.wait(counts, now) == timedelta(seconds=3)
    assert throttle.wait(FailureCounts(0, None, 0, None), now) == timedelta(0)


def test_client_keys_group_an_ipv6_host_by_its_64_and_read_grpc_peers():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.4") == "192.0.2.4" and client_key("192.0.2.4") == "192.0.2.4"
    assert peer_host("ipv4:10.1.2.3:5555") == "10.1.2.3" and peer_host("ipv6:[::1]:5555") == "::1"
    assert peer_host("unix:/tmp/socket") == "unix"


async def test_callers_without_a_forwarded_address_are_known_by_their_peer(vcs_factory):
    vcs = await vcs_factory(login_max_failures=1)
    await vcs.sign_up("omar")
    await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="omar", password="wrong wrong")))
    error = await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="omar", password=PASSWORD)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, "the peer 127.0.0.1 is throttled"
    assert (await login(vcs, "omar", PASSWORD, OWNER)).user.username == "omar"
