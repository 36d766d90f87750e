"""Per-source rate limiting of the form webhooks: an in-memory token bucket per client address.

Each source may send `per_minute` requests in a burst, and one more every `60 / per_minute`
seconds after that (0 = unlimited). The key is the client's address: the TCP peer, or behind
the trusted proxy its `X-Forwarded-For` (`starters.web.proxies`; a client's own header is not
believed). Buckets live in the process, so each web-service replica limits on its own; idle
buckets are forgotten.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse

from starters.web.proxies import client_address


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by source; `hit(key)` takes one token or says how long to wait."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 10_000,
    ) -> None:
        self.per_minute = max(0, int(per_minute))
        self.rate = self.per_minute / 60.0  # tokens per second
        self.clock = clock
        self.max_sources = max_sources
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def hit(self, key: str) -> float | None:
        """None when the request may proceed, else the seconds until it would be allowed."""
        if not self.enabled:
            return None
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that are full again (idle a minute or more); if every source is busy,
        drop the oldest half so memory stays bounded."""
        full = 60.0
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full]:
            del self._buckets[key]
        if len(self._buckets) >= self.max_sources:
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]


def client_key(request: Request) -> str:
    """The source of a request: the client's address (`X-Forwarded-For` only from the
    trusted proxy, see `starters.web.proxies`)."""
    return client_address(request, request.app.state.settings)


def too_many_requests(retry_after: float, per_minute: int) -> JSONResponse:
    """429 with `Retry-After` (whole seconds, at least 1) and a JSON detail."""
    seconds = max(1, math.ceil(retry_after))
    return JSONResponse(
        {
            "detail": f"rate limit exceeded: at most {per_minute} requests per minute per source; "
            f"retry after {seconds} s",
            "retry_after": seconds,
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def check(limiter: RateLimiter, request: Request) -> JSONResponse | None:
    """The 429 response when `request`'s source is over its limit, else None."""
    wait = limiter.hit(client_key(request))
    return None if wait is None else too_many_requests(wait, limiter.per_minute)
