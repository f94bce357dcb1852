"""The address a request came from, as far as the gateway can trust it.

X-Forwarded-For is written by whoever sends it, so it is read only when the connection comes from
a configured proxy, and then from the right: each entry a trusted proxy appended is skipped, and
the first one that is not a trusted proxy is the client. With no trusted proxies (the default) the
socket's peer is the client, whatever the header says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import HTTPConnection

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDR ranges ("10.0.0.0/8", "127.0.0.1") of the proxies in front of the gateway."""
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: Iterable[IPNetwork]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(connection: HTTPConnection, trusted_proxies: Iterable[str]) -> str:
    """The client's address ("" when the server does not know its peer)."""
    peer = connection.client.host if connection.client else ""
    networks = trusted_networks(tuple(trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = [hop.strip() for header in connection.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    for hop in reversed(forwarded):
        if not _is_trusted(hop, networks):
            return hop if _is_address(hop) else peer
    return forwarded[0] if forwarded and _is_address(forwarded[0]) else peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
