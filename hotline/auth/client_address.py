"""The address a request really comes from, for the login rate limit.

Behind a reverse proxy (nginx in front of the console) every request reaches us from the proxy's
address, so a limit per address would lock out everyone at once after one user's typos. Only when
the direct peer is a configured trusted proxy (``[http] trusted_proxies``) is ``X-Forwarded-For``
read, and then from the right: each trusted proxy appends the address it received the request
from, so the first address from the right that is not a trusted proxy is the client. Anything to
its left was written by the client and may be forged, so it is never used.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.5`` or ``10.0.0.0/24`` entries as networks; ValueError names a bad entry."""
    nets = []
    for raw in entries:
        try:
            nets.append(ipaddress.ip_network(raw.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{raw!r} is not an IP address or network") from exc
    return tuple(nets)


def _trusted(addr: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   networks: Sequence[Network]) -> str:
    """The client's address given the direct ``peer``, the ``X-Forwarded-For`` header values
    (in order) and the trusted proxy networks. A malformed hop falls back to the peer."""
    if not peer:
        return "unknown"
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",")]
    hops = [h for h in hops if h]
    for hop in reversed(hops):
        if _trusted(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a proxy wrote something that is not an address: do not trust it
    # every hop is a trusted proxy (or no header): the leftmost one is the closest we know
    return hops[0] if hops else peer
