"""`eventually`: wait for an effect, never for the clock.

A test that skipped time (`env.sleep`), sent a signal or started a process looks for the
effect with `await eventually(probe, what=...)`. The probe is called (and awaited if it
returns an awaitable) until it returns a truthy value, which `eventually` returns. A probe
that raises is retried too: an `AssertionError` (a probe may assert, then return what it
checked) or any other error (a query to a workflow still starting, a server restarting).
After `timeout` seconds the test fails naming what it waited for and the last value or
error seen. A probe raises `GiveUp` to fail at once (a workflow task that failed for good).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL = 0.02  # seconds between two probes: a probe is a cheap query or SELECT


class GiveUp(AssertionError):
    """Raised by a probe when waiting longer cannot help: `eventually` fails at once."""


async def eventually(
    probe: Callable[[], Awaitable[T | None] | T | None],
    *,
    timeout: float = 20.0,
    what: str = "",
    interval: float = INTERVAL,
) -> T:
    """The first truthy result of `probe`; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = "never probed"
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except GiveUp:
            raise
        except Exception as error:  # retried; reported if it persists
            seen = f"last error: {error!r}"
        else:
            if value:
                return value
            seen = f"last value: {value!r}"
        if time.monotonic() >= deadline:
            name = what or getattr(probe, "__name__", "a condition")
            raise AssertionError(f"waited {timeout} s for {name}; {seen}"[:4000])
        await asyncio.sleep(interval)
