"""The address a request really comes from, for the login rate limit.

Behind a reverse proxy (nginx in front of the console) every request reaches us from the proxy's
address, so a limit per address would lock out everyone at once after one user's typos. Only when
the direct peer is a configured trusted proxy (``[http] trusted_proxies``) is ``X-Forwarded-For``
read, and then from the right: each trusted proxy appends the address it received the request
from, so the first address from the right that is not a trusted proxy is the client. Anything to
its left was written by the client and may be forged, so it is never used. Only list real
proxies: a trusted network that also holds client machines lets those clients name any address.
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


def parse_hop(hop: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One ``X-Forwarded-For`` entry as an address: ``198.51.100.7``, ``198.51.100.7:5123``,
    ``2001:db8::1``, ``[2001:db8::1]`` or ``[2001:db8::1]:443`` (some proxies add the port);
    None for anything else (``unknown``, garbage)."""
    hop = hop.strip()
    if hop.startswith("["):
        host, sep, _ = hop[1:].partition("]")
        hop = host if sep else hop
    elif hop.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        hop = hop.split(":", 1)[0]
    try:
        return ipaddress.ip_address(hop)
    except ValueError:
        return None


def _trusted(addr: str, networks: Sequence[Network]) -> bool:
    ip = parse_hop(addr)
    return ip is not None and any(ip in net for net in networks)


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
        ip = parse_hop(hop)
        # a proxy wrote something that is not an address ("unknown"): do not trust it
        return str(ip) if ip is not None else peer
    # every hop is a trusted proxy (or no header): the leftmost one is the closest we know
    first = parse_hop(hops[0]) if hops else None
    return str(first) if first is not None else peer
