"""Inputs that used to make 500s: each is now a 4xx with the reason, and reaches nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from activities.database import session_scope
from models.settings import Settings
from models.tables import DirectoryListingRow
from starters.intake import SIGNATURE_HEADER, sign
from starters.web.app import create_app
from starters.web.auth import LOGIN_CSRF_COOKIE
from starters.web.billing_webhooks import STRIPE_MAX_BODY_BYTES
from starters.web.operators import SESSION_COOKIE, hash_password
from starters.web.proxies import PROXY_SECRET_HEADER
from tests.starters.conftest import login_form_fields

DEEP = b"[" * 100_000 + b"]" * 100_000


class NoTemporal:
    """Every use of Temporal fails the test: these requests must be refused before it."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"Temporal was used: {name}")


@pytest_asyncio.fixture
async def web(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_timestamp_of_hundreds_of_digits_is_a_401(web: httpx.AsyncClient) -> None:
    response = await web.post(
        "/webhooks/forms/order",
        content=b"{}",
        headers={SIGNATURE_HEADER: "t=" + "9" * 400 + ",v1=00", "Content-Type": "application/json"},
    )
    assert response.status_code == 401, response.text
    assert "t=<unix seconds>" in response.json()["detail"]


async def test_json_nested_past_the_recursion_limit_is_a_422_naming_the_body(
    web: httpx.AsyncClient, settings: Settings
) -> None:
    signature = sign(settings.secret("webhook_secret"), DEEP, int(time.time()), "order")
    response = await web.post(
        "/webhooks/forms/order",
        content=DEEP,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "body" and "levels deep" in error["message"]


async def test_non_ascii_cookies_are_not_a_session_and_not_a_crash(
    web: httpx.AsyncClient,
) -> None:
    planted = f"{SESSION_COOKIE}=\xe9\xe9.\xe9\xe9; {LOGIN_CSRF_COOKIE}=\xe9".encode("latin-1")
    tasks = await web.get("/tasks.json", headers={"Cookie": planted})
    assert tasks.status_code == 401, tasks.text
    login = await web.post(
        "/login",
        content=b"name=anna&password=x&csrf=%C3%A9",
        headers={"Cookie": planted, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert login.status_code in (400, 403), login.text


async def test_the_stripe_webhook_stops_reading_past_its_limit(settings: Settings) -> None:
    configured = settings.model_copy(update={"stripe_webhook_secret": SecretStr("whsec_test")})
    app = create_app(configured, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:
        response = await web.post(
            "/webhooks/stripe",
            content=b"x" * (STRIPE_MAX_BODY_BYTES + 1),
            headers={"Stripe-Signature": "t=1,v1=00"},
        )
    assert response.status_code == 413, response.text
    assert str(STRIPE_MAX_BODY_BYTES) in response.json()["detail"]


async def test_a_malformed_operators_entry_is_logged_not_shown(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    leaked = "anna:plaintext-password-by-mistake"
    misconfigured = settings.model_copy(update={"operators": SecretStr(leaked)})
    app = create_app(misconfigured, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:
        page = await web.get("/login")
    assert page.status_code == 200 and "not configured correctly" in page.text
    assert "plaintext-pa" not in page.text and "anna" not in page.text
    assert any("PARTNERFLOW_OPERATORS" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("public", "refused"),
    [
        ("https://partners.example.com", True),
        ("http://10.0.0.7:8000", True),
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("http://[::1]:8000", False),
    ],
)
def test_a_public_service_refuses_to_start_on_made_up_secrets(
    settings: Settings, public: str, refused: bool
) -> None:
    unset = settings.model_copy(
        update={"public_base_url": public, "session_secret": None, "internal_secret": None}
    )
    if not refused:
        create_app(unset, NoTemporal())  # type: ignore[arg-type]
        return
    with pytest.raises(ValueError) as refusal:
        create_app(unset, NoTemporal())  # type: ignore[arg-type]
    assert "PARTNERFLOW_SESSION_SECRET, PARTNERFLOW_INTERNAL_SECRET" in str(refusal.value)
    complete = unset.model_copy(
        update={"session_secret": SecretStr("s"), "internal_secret": SecretStr("i")}
    )
    assert complete.missing_production_secrets() == []


def _proxied(settings: Settings, peer: str, **changes: Any) -> httpx.AsyncClient:
    configured = settings.model_copy(update={"auth_mode": "proxy-header", **changes})
    app = create_app(configured, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_the_operator_header_counts_only_from_the_trusted_proxy(settings: Settings) -> None:
    operator = {"X-Forwarded-User": "mallory"}
    async with _proxied(settings, "192.0.2.50", trusted_proxies="10.0.0.0/8") as web:
        forged = await web.get("/tasks.json", headers=operator)
        assert forged.status_code == 401 and "X-Forwarded-User" not in forged.text
        page = await web.get("/login", headers=operator)
        assert "mallory" not in page.text and "X-Forwarded-User" not in page.text
    async with _proxied(settings, "10.0.0.7", trusted_proxies="10.0.0.0/8") as web:
        assert "<strong>mallory</strong>" in (await web.get("/login", headers=operator)).text
    secret = {"proxy_secret": SecretStr("proxy-shared-secret")}
    async with _proxied(settings, "192.0.2.50", **secret) as web:
        assert "<strong>mallory</strong>" not in (await web.get("/login", headers=operator)).text
        with_secret = {**operator, PROXY_SECRET_HEADER: "proxy-shared-secret"}
        assert "<strong>mallory</strong>" in (await web.get("/login", headers=with_secret)).text
        wrong = {**operator, PROXY_SECRET_HEADER: "guess"}
        assert "<strong>mallory</strong>" not in (await web.get("/login", headers=wrong)).text


def test_proxy_header_mode_without_a_trusted_proxy_refuses_to_start(settings: Settings) -> None:
    with pytest.raises(ValueError, match="PARTNERFLOW_TRUSTED_PROXIES"):
        create_app(
            settings.model_copy(update={"auth_mode": "proxy-header"}),
            NoTemporal(),  # type: ignore[arg-type]
        )


async def test_login_lockout_is_per_account_and_forwarded_address(settings: Settings) -> None:
    """Behind the proxy every request comes from its address: five bad passwords for one
    name from one client lock out only that name from that client."""
    configured = settings.model_copy(
        update={
            "trusted_proxies": "10.0.0.0/8",
            "operators": SecretStr(f"anna:{hash_password('right', iterations=1000)}"),
        }
    )
    app = create_app(configured, NoTemporal())  # type: ignore[arg-type]
    app.state.login_failure_delay = 0
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("10.0.0.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:

        async def attempt(name: str, password: str, client: str) -> int:
            fields = login_form_fields((await web.get("/login")).text)
            response = await web.post(
                "/login",
                data={**fields, "name": name, "password": password},
                headers={"X-Forwarded-For": f"{client}, 10.0.0.9"},
            )
            return response.status_code

        assert [await attempt("anna", "wrong", "198.51.100.1") for _ in range(5)] == [400] * 5
        assert await attempt("anna", "right", "198.51.100.1") == 429
        assert await attempt("anna", "right", "198.51.100.2") == 303  # another client
        assert await attempt("bob", "wrong", "198.51.100.1") == 400  # another name


async def test_signing_out_ends_the_session_on_every_replica(settings: Settings) -> None:
    """A copied session cookie stops working the moment its owner signs out, also on
    another replica of the web service."""
    configured = settings.model_copy(
        update={"operators": SecretStr(f"anna:{hash_password('right', iterations=1000)}")}
    )

    def replica() -> httpx.AsyncClient:
        app = create_app(configured, NoTemporal())  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async with replica() as first, replica() as second:
        fields = login_form_fields((await first.get("/login")).text)
        signed_in = await first.post("/login", data={**fields, "name": "anna", "password": "right"})
        assert signed_in.status_code == 303
        stolen = {"Cookie": f"{SESSION_COOKIE}={first.cookies[SESSION_COOKIE]}"}
        assert "<strong>anna</strong>" in (await second.get("/login", headers=stolen)).text
        assert (await first.post("/logout")).status_code == 303
        for web in (first, second):
            page = await web.get("/login", headers=stolen)
            assert "<strong>anna</strong>" not in page.text
        assert (await second.get("/tasks.json", headers=stolen)).status_code == 401


async def test_the_sign_in_form_is_read_only_up_to_its_limit(web: httpx.AsyncClient) -> None:
    huge = await web.post(
        "/login",
        content=b"name=anna&password=" + b"x" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413 and "larger than" in huge.text
    many = await web.post(
        "/login",
        content="&".join(f"f{i}=1" for i in range(100)).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert many.status_code == 400 and "too many fields" in many.text.lower()


async def test_a_public_service_answers_only_its_hosts_and_links_to_its_public_url(
    settings: Settings,
) -> None:
    public = settings.model_copy(
        update={
            "public_base_url": "https://partners.example.com",
            "session_secret": SecretStr("s"),
            "internal_secret": SecretStr("i"),
            "allowed_hosts": "web.internal",
        }
    )
    with session_scope(public.resolved_database_url) as db:
        db.add(
            DirectoryListingRow(
                partner_id="nordlicht", workflow_id="directory-nordlicht", program="mattermost",
                partner_type="var", name="Nordlicht IT", description="Mattermost in the north",
                city="Kiel", country="DE", website="https://nordlicht.example",
                logo_id="0" * 32, logo_content_type="image/png",
            )
        )  # fmt: skip
    app = create_app(public, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:
        forged = await web.get("/partners.json", headers={"Host": "evil.example"})
        assert forged.status_code == 400
        for host in ("partners.example.com", "web.internal", "localhost"):
            page = await web.get("/webhooks/forms", headers={"Host": host})
            assert page.status_code == 200, host
        feed = await web.get("/partners.json", headers={"Host": "web.internal"})
        assert feed.status_code == 200
        [entry] = feed.json()
        assert entry["logo_url"] == f"https://partners.example.com/partners/logos/{'0' * 32}"


def test_the_access_log_never_shows_a_link_or_codec_token(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    create_app(settings, NoTemporal())  # type: ignore[arg-type]
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        for path in (
            "/accept/eyJ3IjoiLi4uIn0.c2lnbmF0dXJl",
            "/sign/eyJ3IjoiLi4uIn0.c2lnbmF0dXJl/done",
            "/listing/eyJ3IjoiLi4uIn0.c2lnbmF0dXJl?x=1",
            "/codec/9f86d081884c7d659a2feaa0c55ad015/decode",
            "/codec/decode",
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:5000", "GET", path, "1.1", 200)
    lines = [r.getMessage() for r in caplog.records]
    assert not any("c2lnbmF0dXJl" in line or "9f86d081" in line for line in lines), lines
    assert "GET /accept/[token] HTTP" in lines[0] and "/sign/[token]/done" in lines[1]
    assert "/codec/[token]/decode" in lines[3] and "/codec/decode" in lines[4]
