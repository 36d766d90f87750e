"""b. Webhook intake: signed `order` form posts per second and their latency.

A real uvicorn serves the web app on loopback (a subprocess by default, so the load
generator does not share its event loop); an httpx AsyncClient posts signed `order` forms
open-loop at fixed offered rates (each request is sent at its scheduled time whether or not
the earlier ones have answered). Each post is verified, validated and starts
`OrderFulfillment` with its search attributes, memo and summary (`submit_form`).

The baseline starts the same workflows (same input, id and task queue) with a bare
`client.start_workflow` from the bench process at the same rates. No worker polls the task
queue in either phase: this measures intake only.

Latency is measured from each request's scheduled send time (so a client that falls
behind is counted, not hidden); achieved rate = successful starts / seconds from the first
scheduled send to the last answer. Ratio = product achieved rate / baseline achieved rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.common import (
    ROOT,
    WEBHOOK_SECRET,
    address_of,
    bench_settings,
    percentile,
    ratio,
    settings_env,
)

RATE_TARGET = 0.8
P99_TARGET_MS = 50.0
P99_TARGET_RATE = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def web_server(
    data: Path, address: str, task_queue: str, mode: str = "process"
) -> Iterator[tuple[str, int | None]]:
    """The web service on loopback: (base URL, server pid or None when in a thread)."""
    port = free_port()
    if mode == "thread":
        with _thread_server(data, address, task_queue, port):
            yield f"http://127.0.0.1:{port}", None
        return
    env = {**os.environ, **settings_env(data, address, task_queue), "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "starters.web.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_healthy(port, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def _thread_server(data: Path, address: str, task_queue: str, port: int) -> Iterator[None]:
    import uvicorn

    from models.settings import Settings
    from starters.web.app import create_app

    settings = Settings(**settings_env(data, address, task_queue), _env_file=None)  # type: ignore[arg-type]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_healthy(port, None)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_healthy(
    port: int, process: subprocess.Popen[bytes] | None, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the web service exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if (
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json().get("temporal")
                == "connected"
            ):
                return
        time.sleep(0.1)
    raise RuntimeError("the web service did not become healthy")


async def open_loop(
    rate: float, duration: float, send: Callable[[int], Awaitable[bool]]
) -> dict[str, Any]:
    """Send `rate × duration` requests at their scheduled times; count, rate and latency."""
    total = max(1, round(rate * duration))
    latencies: list[float] = []
    service: list[float] = []
    lag: list[float] = []
    outcomes: Counter[str] = Counter()
    finished = 0.0
    t0 = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        nonlocal finished
        sent = time.perf_counter()
        lag.append(sent - scheduled)
        try:
            ok = await send(i)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            outcomes[type(exc).__name__] += 1
            return
        done = time.perf_counter()
        finished = max(finished, done)
        outcomes["ok" if ok else "failed"] += 1
        if ok:
            latencies.append(done - scheduled)
            service.append(done - sent)

    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    ok = outcomes["ok"]
    span = max(finished - t0, total / rate) if ok else None

    def ms(values: list[float], p: float) -> float | None:
        value = percentile(values, p)
        return None if value is None else round(value * 1000, 2)

    return {
        "offered_rate": rate,
        "requests": total,
        "outcomes": dict(outcomes),
        "achieved_rate": round(ok / span, 2) if span else 0.0,
        "p50_ms": ms(latencies, 50),
        "p99_ms": ms(latencies, 99),
        "max_ms": ms(latencies, 100),
        "service_p50_ms": ms(service, 50),
        "service_p99_ms": ms(service, 99),
        "send_lag_p99_ms": ms(lag, 99),
    }


def signed_bodies(count: int) -> list[tuple[bytes, str]]:
    from models.forms import FORMS
    from starters.intake import sign

    now = int(time.time())
    bodies = [json.dumps(FORMS["order"].fresh_example()).encode() for _ in range(count)]
    return [(body, sign(WEBHOOK_SECRET, body, now, "order")) for body in bodies]


def direct_starts(count: int) -> list[tuple[Any, str]]:
    """(workflow input, workflow id) of `count` fresh order forms, as intake would build them."""
    from models.forms import FORMS

    spec = FORMS["order"]
    starts = []
    for _ in range(count):
        form = spec.model.model_validate(spec.fresh_example())
        starts.append((spec.to_workflow_input(form), spec.workflow_id(form)))
    return starts


async def measure_product(base_url: str, rate: float, duration: float) -> dict[str, Any]:
    from starters.intake import SIGNATURE_HEADER

    bodies = signed_bodies(max(1, round(rate * duration)))
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as web:
        # Warm the connection pool and the server (not timed).
        await asyncio.gather(*(web.get("/healthz") for _ in range(min(20, len(bodies)))))

        async def send(i: int) -> bool:
            body, signature = bodies[i]
            response = await web.post(
                "/webhooks/forms/order",
                content=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
            )
            return response.status_code == 202

        return await open_loop(rate, duration, send)


async def measure_baseline(
    client: Client, task_queue: str, rate: float, duration: float
) -> dict[str, Any]:
    starts = direct_starts(max(1, round(rate * duration)))

    async def send(i: int) -> bool:
        arg, workflow_id = starts[i]
        await client.start_workflow(
            "OrderFulfillment", arg, id=f"bare-{workflow_id}", task_queue=task_queue
        )
        return True

    return await open_loop(rate, duration, send)


async def run(
    env: WorkflowEnvironment,
    workdir: Path,
    *,
    rates: list[float] | None = None,
    duration: float = 5.0,
    server: str = "process",
) -> dict[str, Any]:
    rates = rates or [50, 100, 200]
    queue = f"bench-intake-{uuid.uuid4().hex[:8]}"  # no worker: intake only
    data = workdir / "intake"
    settings = bench_settings(data, address_of(env), queue)
    # The order example's prerequisites: its active, trained VAR and approved registration.
    from starters.order_prerequisites import seed_order_example

    seed_order_example(settings)
    levels = []
    with web_server(data, address_of(env), queue, server) as (base_url, _pid):
        warm, pause = (
            min(1.0, duration / 2),
            min(0.5, duration / 5),
        )  # let the server drain between phases
        await measure_product(base_url, min(rates), warm)  # warm-up, not reported
        await measure_baseline(env.client, queue, min(rates), warm)
        for rate in rates:
            product = await measure_product(base_url, rate, duration)
            await asyncio.sleep(pause)
            baseline = await measure_baseline(env.client, queue, rate, duration)
            await asyncio.sleep(pause)
            levels.append(
                {
                    "rate": rate,
                    "product": product,
                    "baseline": baseline,
                    "ratio": ratio(product["achieved_rate"], baseline["achieved_rate"]),
                }
            )
    rows = []
    for level in levels:
        p, b, r = level["product"], level["baseline"], level["ratio"]
        rows.append(
            {
                "benchmark": "intake",
                "metric": f"req/s @ {level['rate']:g}/s offered",
                "product": p["achieved_rate"],
                "baseline": b["achieved_rate"],
                "ratio": r,
                "target": f">= {RATE_TARGET}",
                "ok": r is not None and r >= RATE_TARGET,
            }
        )
        p99_target = f"< {P99_TARGET_MS:g} ms" if level["rate"] == P99_TARGET_RATE else None
        p99_ok = (p["p99_ms"] is not None and p["p99_ms"] < P99_TARGET_MS) if p99_target else None
        rows.append(
            {
                "benchmark": "intake",
                "metric": f"p50 ms @ {level['rate']:g}/s",
                "product": p["p50_ms"],
                "baseline": b["p50_ms"],
                "ratio": ratio(p["p50_ms"], b["p50_ms"]),
            }
        )
        rows.append(
            {
                "benchmark": "intake",
                "metric": f"p99 ms @ {level['rate']:g}/s",
                "product": p["p99_ms"],
                "baseline": b["p99_ms"],
                "ratio": ratio(p["p99_ms"], b["p99_ms"]),
                "target": p99_target,
                "ok": p99_ok,
            }
        )
    return {
        "parameters": {
            "rates": rates,
            "duration_seconds": duration,
            "server": server,
            "form": "order",
        },
        "levels": levels,
        "rows": rows,
    }
