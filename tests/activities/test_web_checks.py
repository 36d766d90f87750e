"""The partner website check against a real loopback HTTP server: mentions, redirects within
the site and off it, the redirect limit, the size cap, timeouts, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from activities import web_checks
from activities.web_checks import (
    WebCheckActivities,
    WebCheckRequest,
    check_website,
    unreachable_address,
)
from models.rocketchat import website_request
from models.settings import Settings

PAGES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/partners": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html><body><h1>Our partners</h1>"
        b"<img alt='Rocket.Chat partner badge' src='/b.png'></body></html>",
    ),
    "/full": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html><head><script>var type='Hosting Partner'</script></head><body>"
        b"<a href='https://rocket.chat/partners'><img alt='Rocket.Chat' src='/b.svg'></a>"
        b"<p>Official Technology&nbsp;Provider:\n  brand theming and more.</p></body></html>",
    ),
    "/no-type": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b"<html><body><p>Rocket.Chat partner: Brand Theming.</p>"
        b"<script>document.write('Technology Provider')</script></body></html>",
    ),
    "/to-full": (301, {"Location": "/full"}, b""),
    "/plain": (
        200,
        {"Content-Type": "text/html"},
        b"<html><body>We host chat servers.</body></html>",
    ),
    "/script-only": (
        200,
        {"Content-Type": "text/html"},
        b"<html><script>var x='rocket.chat'</script><body>Nothing here</body></html>",
    ),
    "/old": (301, {"Location": "/partners"}, b""),
    "/offsite": (302, {"Location": "http://localhost:{port}/partners"}, b""),
    "/loop": (302, {"Location": "/loop"}, b""),
    "/missing": (404, {}, b"not found"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>" + b"x" * 200_000 + b" Rocket.Chat</p>")
            return
        status, headers, body = PAGES.get(self.path, (200, {}, b"ok"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value.replace("{port}", str(self.server.server_address[1])))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "web_check_timeout_seconds": 0.5,
            "web_check_max_bytes": 10_000,
            "web_check_max_redirects": 3,
        }
    )


def check(settings: Settings, url: str):  # type: ignore[no-untyped-def]
    return check_website(settings, WebCheckRequest(url=url))


def test_page_that_names_rocketchat_passes(limited: Settings, site: str) -> None:
    result = WebCheckActivities(limited).check_partner_website(
        WebCheckRequest(url=site + "/partners")
    )
    assert result.ok and result.mentions and result.status_code == 200 and result.redirects == 0


def requirements(url: str) -> WebCheckRequest:
    return website_request(url, "technology_provider", ["installation", "brand_theming"])


def test_page_with_rocketchat_type_and_a_service_passes(limited: Settings, site: str) -> None:
    result = WebCheckActivities(limited).check_partner_website(requirements(site + "/to-full"))
    assert result.ok and result.reason is None and result.missing == []
    assert result.found == [
        "Rocket.Chat",
        "partnership type: Technology Provider",
        "service: Brand Theming",
    ]
    assert result.redirects == 1 and result.final_url == site + "/full"


def test_page_without_the_type_lists_what_is_missing(limited: Settings, site: str) -> None:
    result = check_website(limited, requirements(site + "/no-type"))  # the type only in a script
    assert not result.ok and result.mentions
    assert result.found == ["Rocket.Chat", "service: Brand Theming"]
    assert result.missing == ["partnership type: Technology Provider"]
    assert result.reason == "the page does not show partnership type: Technology Provider"


def test_a_redirect_hop_to_a_private_address_is_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first host resolves to a public address, the redirect (same site, so followed)
    to 10.0.0.1: refused before the hop is requested. No real DNS, no real network."""
    production = settings.model_copy(update={"web_check_private_networks": False})
    addresses = {"partner.example": "93.184.215.14", "www.partner.example": "10.0.0.1"}

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[object]:
        return [(2, 1, 6, "", (addresses[host], port))]

    monkeypatch.setattr(web_checks.socket, "getaddrinfo", getaddrinfo)
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://www.partner.example/rc"})

    transport = httpx.MockTransport(handler)
    result = check_website(production, requirements("https://partner.example/"), transport)
    assert requested == ["https://partner.example/"]  # the private hop was never requested
    assert not result.ok and result.redirects == 1 and result.bytes_read == 0
    assert result.reason == (
        "www.partner.example resolves to 10.0.0.1, which is not a public address: not fetched"
    )


def test_page_without_mention_fails_with_reason(limited: Settings, site: str) -> None:
    result = check(limited, site + "/plain")
    assert not result.ok and result.reason == "the page does not show Rocket.Chat"
    assert result.missing == ["Rocket.Chat"] and result.found == []
    assert not check(limited, site + "/script-only").ok  # scripts are not content


def test_redirect_within_the_site_is_followed(limited: Settings, site: str) -> None:
    result = check(limited, site + "/old")
    assert result.ok and result.redirects == 1 and result.final_url == site + "/partners"


def test_redirect_off_the_site_is_refused(limited: Settings, site: str) -> None:
    result = check(limited, site + "/offsite")
    assert (
        not result.ok
        and "off the site" in (result.reason or "")
        and "localhost" in (result.reason or "")
    )


def test_redirect_limit(limited: Settings, site: str) -> None:
    result = check(limited, site + "/loop")
    assert not result.ok and "more than 3 redirects" in (result.reason or "")


def test_size_cap_stops_reading(limited: Settings, site: str) -> None:
    result = check(limited, site + "/huge")
    assert result.truncated and result.bytes_read == 10_000 and not result.ok


def test_timeout_and_errors_are_results(limited: Settings, site: str) -> None:
    slow = check(limited, site + "/slow")
    assert not slow.ok and "timed out" in (slow.reason or "")
    missing = check(limited, site + "/missing")
    assert not missing.ok and missing.status_code == 404
    closed = check(limited, "http://127.0.0.1:9/")
    assert not closed.ok and "could not fetch" in (closed.reason or "")
    assert "only http" in (check(limited, "ftp://example.com/").reason or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/partners",
        "http://localhost/partners",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.8/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_internal_addresses_are_never_fetched(settings: Settings, url: str) -> None:
    production = settings.model_copy(update={"web_check_private_networks": False})
    assert Settings(_env_file=None).web_check_private_networks is False  # the default
    result = check(production, url)
    assert not result.ok and result.status_code is None and result.bytes_read == 0
    assert "not a public address: not fetched" in (result.reason or "")


def test_a_public_host_is_not_refused_for_its_address() -> None:
    assert unreachable_address("93.184.215.14", 80) is None
