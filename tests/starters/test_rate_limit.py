"""Per-source rate limiting of `POST /webhooks/forms/{form}`: a token bucket per client address,
checked before the body is read or verified; 429 with `Retry-After` over the limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from models.settings import Settings
from starters.web.app import create_app
from starters.web.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class NoTemporal:
    """Fails the test if the app tries to reach Temporal."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Temporal used: {name}")


def test_bucket_allows_a_burst_then_one_request_per_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    wait = limiter.hit("a")
    assert wait is not None and wait == pytest.approx(20.0)  # 60 s / 3 requests
    assert limiter.hit("b") is None  # another source has its own bucket
    clock.now += 10
    assert limiter.hit("a") == pytest.approx(10.0)
    clock.now += 10
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    clock.now += 3600  # refills to the burst size, never beyond
    assert [limiter.hit("a") for _ in range(4)][-1] is not None


def test_zero_means_unlimited_and_idle_sources_are_forgotten() -> None:
    assert all(RateLimiter(0).hit("a") is None for _ in range(1000))
    clock = Clock()
    limiter = RateLimiter(1, clock=clock, max_sources=10)
    for i in range(10):
        assert limiter.hit(f"10.0.0.{i}") is None
    clock.now += 61
    assert limiter.hit("10.0.1.1") is None
    assert len(limiter._buckets) == 1
    for i in range(30):  # all busy: memory stays bounded
        limiter.hit(f"10.0.2.{i}")
    assert len(limiter._buckets) <= 10


def app_for(settings: Settings, per_minute: int, client: str = "203.0.113.7") -> httpx.AsyncClient:
    app = create_app(
        settings.model_copy(update={"rate_limit_per_minute": per_minute}), NoTemporal()
    )  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=(client, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_form_webhook_answers_429_with_retry_after_before_reading_the_body(
    settings: Settings,
) -> None:
    async with app_for(settings, 2) as http:
        # unsigned: each allowed request is refused for its signature (401), never started
        statuses = [
            (
                await http.post(
                    "/webhooks/forms/order",
                    content=b"{}",
                    headers={"Content-Type": "application/json"},
                )
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [401, 401]
        limited = await http.post(
            "/webhooks/forms/order",
            content=b"x" * (1024 * 1024),  # larger than the body limit: not even looked at
            headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.1"},
        )
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        body = limited.json()
        assert "rate limit" in body["detail"] and body["retry_after"] == int(
            limited.headers["Retry-After"]
        )
        # unknown forms count too (the check runs first); other endpoints are not limited
        assert (await http.post("/webhooks/forms/nope", content=b"{}")).status_code == 429
        assert (await http.get("/webhooks/forms")).status_code == 200
    async with app_for(settings, 2, client="203.0.113.8") as other:  # another source, fresh app
        response = await other.post(
            "/webhooks/forms/order", content=b"{}", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401


async def test_sources_are_limited_separately_and_zero_is_unlimited(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_per_minute": 1}), NoTemporal())  # type: ignore[arg-type]
    statuses = []
    for host in ["192.0.2.1", "192.0.2.2", "192.0.2.1"]:
        transport = httpx.ASGITransport(app=app, client=(host, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            statuses.append((await http.post("/webhooks/forms/order", content=b"{}")).status_code)
    assert statuses == [401, 401, 429]
    async with app_for(settings, 0) as http:
        for _ in range(200):
            assert (await http.post("/webhooks/forms/order", content=b"{}")).status_code == 401
