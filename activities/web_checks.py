"""Partner website checks: does the partner's page name Rocket.Chat, the partnership type and
at least one of the partner's services (what was found and what is missing is in the result)?

The page is fetched with httpx under strict limits: a timeout per request, a cap on the
bytes read, only http(s), only hosts that resolve to public addresses (never the internal
network, loopback or the cloud metadata address: checked before every request, redirects
included), and redirects followed only within the same site (the same host, `www.` or not;
http → https allowed) up to a limit. A site that cannot be checked is a
result (`ok=False` with the reason), not an error: the workflow opens a follow-up task.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from temporalio import activity

from models.rocketchat import WebCheckRequest, WebCheckResult
from models.settings import Settings
from models.website import match_page

USER_AGENT = "Partnerflow-WebCheck/1.0 (+partner program compliance)"


def _site(host: str | None) -> str:
    host = (host or "").lower().rstrip(".")
    return host.removeprefix("www.")


def unreachable_address(host: str, port: int) -> str | None:
    """Why `host` must not be fetched (it resolves to an address that is not public: private,
    loopback, link-local such as cloud metadata, reserved, multicast), or None. Every
    address it resolves to counts. A name that does not resolve is left to the fetch."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return f"{host} resolves to {address}, which is not a public address: not fetched"
    return None


def check_website(
    settings: Settings, request: WebCheckRequest, transport: httpx.BaseTransport | None = None
) -> WebCheckResult:
    """Fetch `request.url` within the limits and match the page (`models.website.match_page`:
    Rocket.Chat, the partnership type, a service; visible text, alt/title attributes and links
    to rocket.chat count, scripts and styles do not)."""
    now = datetime.now(UTC)
    url = request.url
    redirects = 0

    def failed(reason: str, **seen: Any) -> WebCheckResult:
        """The site could not be checked: a result with the reason and what was seen."""
        return WebCheckResult(
            url=request.url,
            final_url=url,
            ok=False,
            reason=reason,
            checked_at=now,
            **{"redirects": redirects, **seen},
        )

    start = urlsplit(url)
    if start.scheme not in ("http", "https") or not start.hostname:
        return WebCheckResult(
            url=request.url, ok=False, reason="only http(s) URLs can be checked", checked_at=now
        )
    site = _site(start.hostname)
    timeout = httpx.Timeout(settings.web_check_timeout_seconds)
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"},
    ) as client:
        while True:
            parts = urlsplit(url)
            if not settings.web_check_private_networks:
                default_port = 443 if parts.scheme == "https" else 80
                refusal = unreachable_address(parts.hostname or "", parts.port or default_port)
                if refusal:
                    return failed(refusal)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        parts = urlsplit(target)
                        if parts.scheme not in ("http", "https") or _site(parts.hostname) != site:
                            return failed(
                                f"redirects off the site to {target}",
                                status_code=response.status_code,
                            )
                        if redirects + 1 > settings.web_check_max_redirects:
                            return failed(
                                f"more than {settings.web_check_max_redirects} redirects",
                                status_code=response.status_code,
                            )
                        redirects += 1
                        url = target
                        continue
                    body = bytearray()
                    truncated = False
                    for chunk in response.iter_bytes():
                        room = settings.web_check_max_bytes - len(body)
                        body += chunk[:room]
                        if len(chunk) > room:
                            truncated = True
                            break
                    status = response.status_code
                    encoding = response.encoding
            except httpx.TimeoutException:
                return failed(f"timed out after {settings.web_check_timeout_seconds:g} s")
            except httpx.HTTPError as exc:
                return failed(f"could not fetch: {type(exc).__name__}: {exc}"[:500])
            break
    if status >= 400:
        return failed(f"HTTP {status}", status_code=status, bytes_read=len(body))
    page = bytes(body).decode(encoding or "utf-8", errors="replace")
    match = match_page(page, request.terms, request.partnership_type, request.services)
    reason = None
    if not match.ok:
        reason = "the page does not show " + "; ".join(match.missing)
        reason += " (in the first bytes read)" if truncated else ""
    return WebCheckResult(
        url=request.url,
        final_url=url,
        ok=match.ok,
        mentions="Rocket.Chat" in match.found,
        found=match.found,
        missing=match.missing,
        status_code=status,
        redirects=redirects,
        bytes_read=len(body),
        truncated=truncated,
        reason=reason,
        checked_at=now,
    )


class WebCheckActivities:
    """The partner-website check, over `transport` when given (tests)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport

    @activity.defn(name="check_partner_website")
    def check_partner_website(self, request: WebCheckRequest) -> WebCheckResult:
        """Does the partner's website show Rocket.Chat, its partnership type and a service?
        (never raises for the site's faults)"""
        return check_website(self.settings, request, self.transport)
