"""Which requests come through the trusted reverse proxy, and who is behind it.

A proxy is trusted when the TCP peer is one of `PARTNERFLOW_TRUSTED_PROXIES` (addresses or
networks, comma-separated) or when the request carries the proxy's shared secret in
`X-Partnerflow-Proxy-Secret` (`PARTNERFLOW_PROXY_SECRET`, set by the proxy). Only then are
its headers believed: the operator's name in proxy-header mode, and `X-Forwarded-For` for
the client's address (rate limits, login lockouts, the address kept with a signature).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from models.constant_time import same_secret
from models.settings import Settings

PROXY_SECRET_HEADER = "X-Partnerflow-Proxy-Secret"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """`PARTNERFLOW_TRUSTED_PROXIES` parsed (validated by the settings)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _trusted_address(address: str, settings: Settings) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in trusted_networks(settings.trusted_proxies))


def from_trusted_proxy(request: Request, settings: Settings) -> bool:
    """Did this request come through the trusted proxy (its address or its secret)?"""
    peer = request.client.host if request.client else ""
    if _trusted_address(peer, settings):
        return True
    secret = settings.proxy_secret
    sent = request.headers.get(PROXY_SECRET_HEADER)
    return secret is not None and sent is not None and same_secret(sent, secret.get_secret_value())


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: the TCP peer, or behind the trusted proxy the last address in
    `X-Forwarded-For` that is not itself a trusted proxy (addresses further left were
    written by the client and prove nothing)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not from_trusted_proxy(request, settings):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted_address(hop, settings):
            return hop[:64]
    return hops[0][:64] if hops else peer
