"""How long a login attempt must wait, from the failures recorded before it.

Failures count per (login, client address): after `free_failures` within the window, each further
attempt from that address on that login waits twice as long as the one before (capped), so a
guesser is slowed to a crawl while the owner, from any other address, signs in as usual. A
ceiling per address across logins stops one address from spraying guesses over many accounts.
Nothing here locks an account as a whole: that would hand the lock to whoever knows the login.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from beatflow_platform.errors import ResourceExhausted

# IPv6 clients get a whole /64 each (a privacy-address host rotates through it), so they count per /64.
_IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class FailureCounts:
    """Failures within the window: for this login from this address, and from this address on any login."""

    pair: int
    last_pair_failure: datetime | None
    address: int
    oldest_address_failure: datetime | None


@dataclass(frozen=True)
class LoginThrottle:
    free_failures: int = 5
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=15)
    address_max_failures: int = 100
    window: timedelta = timedelta(minutes=15)

    def delay_after(self, pair_failures: int) -> timedelta:
        """The wait after the `pair_failures`-th failure of one login from one address."""
        if pair_failures < self.free_failures:
            return timedelta(0)
        doublings = min(pair_failures - self.free_failures, 40)  # 2**40 s is far past any cap
        return min(self.max_delay, self.first_delay * 2**doublings)

    def wait(self, counts: FailureCounts, now: datetime) -> timedelta:
        """How long from `now` the next attempt must wait (zero when it may go ahead)."""
        waits = [timedelta(0)]
        if counts.last_pair_failure is not None:
            waits.append(counts.last_pair_failure + self.delay_after(counts.pair) - now)
        if counts.address >= self.address_max_failures and counts.oldest_address_failure is not None:
            waits.append(counts.oldest_address_failure + self.window - now)
        return max(waits)


class LoginThrottled(ResourceExhausted):
    """RESOURCE_EXHAUSTED with a RetryInfo (and retry_after_seconds in the ErrorInfo for plain clients)."""

    def __init__(self, wait: timedelta):
        self.retry_after_seconds = max(1, math.ceil(wait.total_seconds()))
        super().__init__(
            "too many failed logins from your address; try again later",
            reason="LOGIN_RATE_LIMITED",
            metadata={"retry_after_seconds": str(self.retry_after_seconds)},
        )

    def details(self) -> list[Message]:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=self.retry_after_seconds))
        return [*super().details(), retry]


def client_key(address: str) -> str:
    """The address failures are counted under: an IPv4 address, an IPv6 /64, or the text as given."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{_IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


def peer_host(peer: str) -> str:
    """The host part of a gRPC peer string ("ipv4:10.0.0.7:5123", "ipv6:[::1]:5123", "unix:/path")."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return kind
