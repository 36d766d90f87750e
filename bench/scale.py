"""c. Scale: many open partnerships waiting on timers, and history per partner-year.

1. Start `--partners` `RocketChatPartnership` workflows (the state onboarding hands over at
   the signature, with the first year's fee already invoiced and paid, so each one's first
   task only publishes its stage and tasks and sets its timers) with at most `--in-flight`
   starts at a time; the start rate is compared with starting as many
   `bench.baseline.BareTimer` workflows (one search attribute, one 30-day timer).
2. The worker (a subprocess built by `workers.main.build_worker`, `max_cached_workflows`
   from `PARTNERFLOW_MAX_CACHED_WORKFLOWS`'s default; the baseline's worker has the same
   runner and bound) runs every first
   task; when visibility shows them all waiting, its RSS is read from /proc/<pid>/status.
3. One partnership is played for a simulated year on the time-skipping test server (monthly
   reports, the yearly fee, quarterly reviews with the proposed outcome): its history
   events across all continue-as-new runs, scaled to 365 days.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.common import (
    ROOT,
    Stopwatch,
    address_of,
    bench_settings,
    ratio,
    rss_mb,
    settings_env,
    time_skipping_server,
)
from models.settings import Settings
from tests.workflows.harness import partner_site

RSS_TARGET_MB = 300.0
EVENTS_TARGET = 1000
START_RATIO_TARGET = None  # reported only: no target is set
BARE_TIMER_DAYS = 30
PRODUCT_CACHE: int = Settings.model_fields[
    "max_cached_workflows"
].default  # build_worker's bound (PARTNERFLOW_MAX_CACHED_WORKFLOWS)


# --- inputs ----------------------------------------------------------------------------------


def partnership_input(
    partner_id: str,
    signed_at: datetime,
    site: str = "https://partner.example",
    term_months: int = 36,
) -> Any:
    from models.rocketchat import (
        YEARLY_PROGRAM_FEE_CENTS,
        FeeInvoice,
        Goal,
        RocketChatApplication,
        RocketChatPartnershipInput,
        add_months,
    )

    app = RocketChatApplication(
        partner_id=partner_id,
        company="Porto Chat Lda",
        country="PT",
        website=site + "/",  # type: ignore[arg-type]
        contact={"name": "Ana Costa", "email": "ana.costa@portochat.example"},  # type: ignore[arg-type]
        partner_type="technology_provider",
        services=["installation"],
    )
    return RocketChatPartnershipInput(
        application=app,
        goals=[Goal(metric="deals_closed", quarter_target=3, year_target=12)],
        signed_at=signed_at,
        term_months=term_months,
        support_contract_reference="SUP-1",
        term_end=add_months(signed_at, term_months),
        website_url=site + "/partners",
        fee_invoices=[
            FeeInvoice(
                year=1, invoice_id="in_bench", amount_cents=YEARLY_PROGRAM_FEE_CENTS, paid=True
            )
        ],
    )


# --- the worker subprocess -------------------------------------------------------------------


async def _serve(kind: str, settings_args: dict[str, str], max_cached: int) -> None:
    from models.settings import Settings
    from workers.client import connect

    settings = Settings(**settings_args, _env_file=None)  # type: ignore[arg-type]
    client = await connect(settings)
    worker = build(kind, client, settings, max_cached)
    async with worker:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(
            None, sys.stdin.read
        )  # until the bench closes stdin


def build(kind: str, client: Client, settings: Any, max_cached: int = PRODUCT_CACHE) -> Any:
    """The product's worker (`build_worker`, with the given cache bound), or the baseline's:
    same runner, executor and cache bound."""
    from temporalio.worker import Worker

    from bench.baseline import BareTimer, noop
    from workers.main import build_worker, workflow_runner

    if kind == "product":
        return build_worker(
            client, settings.model_copy(update={"max_cached_workflows": max_cached})
        )
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[BareTimer],
        activities=[noop],
        workflow_runner=workflow_runner(),
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=max_cached,
    )


def _drain(stream: IO[bytes], kind: str, counts: dict[str, int]) -> None:
    """Read the worker's stdout to its end. Temporal's Rust core logs to stdout: a pipe nobody
    reads fills up (64 KiB, ~130 "Workflow task duration exceeded 5 seconds" warnings) and its
    next log line blocks core's workflow thread, so the worker stops polling for good. Counts
    the lines; the first few warnings go to the bench's stderr."""
    for raw in iter(stream.readline, b""):
        line = _ANSI.sub("", raw.decode(errors="replace")).rstrip()
        counts["lines"] = counts.get("lines", 0) + 1
        for key, marker in _LOG_MARKERS.items():
            if marker in line:
                counts[key] = counts.get(key, 0) + 1
        if " WARN " in line or " ERROR " in line:
            counts["warnings"] = counts.get("warnings", 0) + 1
            if counts["warnings"] <= 3:
                print(f"worker {kind}: {line[:300]}", file=sys.stderr, flush=True)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_MARKERS = {
    "slow_workflow_tasks": "TMPRL1104",
    "workflow_tasks_not_found": "Task not found when completing",
}


@contextlib.asynccontextmanager
async def worker_process(
    kind: str,
    data: Path,
    address: str,
    task_queue: str,
    max_cached: int,
    log: dict[str, int] | None = None,
) -> AsyncIterator[int]:
    """A worker in its own process (its RSS is the worker's alone); yields its pid. Its
    stdout is read to the end (counts of its log lines in `log`)."""
    env = {
        **os.environ,
        **settings_env(data, address, task_queue),
        "PYTHONPATH": str(ROOT),
        "BENCH_MAX_CACHED": str(max_cached),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.scale", "--worker", kind],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
        if line.strip() != b"ready":
            raise RuntimeError(f"the {kind} worker did not start ({line!r})")
        threading.Thread(
            target=_drain, args=(process.stdout, kind, log if log is not None else {}), daemon=True
        ).start()
        yield process.pid
    finally:
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 10)


@contextlib.asynccontextmanager
async def worker_inline(
    kind: str, data: Path, address: str, task_queue: str, max_cached: int, client: Client
) -> AsyncIterator[int]:
    """The worker in this process (smoke test): RSS then includes the bench itself."""
    from models.settings import Settings

    settings = Settings(**settings_env(data, address, task_queue), _env_file=None)  # type: ignore[arg-type]
    async with build(kind, client, settings, max_cached):
        yield os.getpid()


# --- start rate and RSS ----------------------------------------------------------------------


async def start_all(client: Client, count: int, in_flight: int, start_one: Any) -> float:
    gate = asyncio.Semaphore(in_flight)

    async def guarded(i: int) -> None:
        async with gate:
            await start_one(i)

    watch = Stopwatch()
    await asyncio.gather(*(guarded(i) for i in range(count)))
    return watch.elapsed


async def wait_all_waiting(
    client: Client, query: str, count: int, timeout: float
) -> tuple[float | None, int]:
    """(seconds, count) once visibility shows `count` workflows matching `query` (their first
    tasks run); (None, how many did) if they did not within `timeout` seconds, or if none
    progressed for a minute (a stalled worker is reported, not waited on)."""
    watch = Stopwatch()
    last, last_change = -1, 0.0
    while watch.elapsed < timeout:
        found = (await client.count_workflows(query)).count
        if found >= count:
            return watch.elapsed, found
        if found != last:
            last, last_change = found, watch.elapsed
        elif watch.elapsed - last_change > 60:
            break
        await asyncio.sleep(0.5 if count >= 1000 else 0.1)
    return None, (await client.count_workflows(query)).count


async def one_population(
    env: WorkflowEnvironment,
    data: Path,
    kind: str,
    count: int,
    in_flight: int,
    worker: str,
    max_cached: int,
) -> dict[str, Any]:
    from bench.baseline import BareTimer
    from workflows.rocketchat_partnership import RocketChatPartnership

    client = env.client
    queue = f"bench-scale-{kind}-{uuid.uuid4().hex[:8]}"
    signed_at = datetime.now().astimezone()
    run_tag = uuid.uuid4().hex[:6]

    async def start_one(i: int) -> None:
        if kind == "product":
            partner_id = f"bench-{run_tag}-{i}"
            await client.start_workflow(
                RocketChatPartnership.run,
                partnership_input(partner_id, signed_at),
                id=f"rc-partnership-{partner_id}",
                task_queue=queue,
            )
        else:
            await client.start_workflow(
                BareTimer.run, BARE_TIMER_DAYS, id=f"bench-timer-{run_tag}-{i}", task_queue=queue
            )

    stage = "quarter_1" if kind == "product" else "waiting"
    query = f'TaskQueue = "{queue}" AND Stage = "{stage}" AND ExecutionStatus = "Running"'
    log: dict[str, int] = {}
    if worker == "process":
        context = worker_process(kind, data, address_of(env), queue, max_cached, log)
    else:
        context = worker_inline(kind, data, address_of(env), queue, max_cached, client)
    async with context as pid:
        idle = rss_mb(pid)
        seconds = await start_all(client, count, in_flight, start_one)
        settled, waiting = await wait_all_waiting(
            client, query, count, timeout=max(120.0, count / 5)
        )
        pause = 0.2 if count >= 1000 else 0.02  # RSS: the largest of 5 samples after they all wait
        samples = []
        for _ in range(5):
            await asyncio.sleep(pause)
            samples.append(rss_mb(pid))
    return {
        "workflows": count,
        "start_seconds": round(seconds, 3),
        "starts_per_second": round(count / seconds, 1),
        "seconds_until_all_waiting": None if settled is None else round(seconds + settled, 3),
        "waiting": waiting,
        "stalled": settled is None,
        "worker_rss_idle_mb": idle,
        "worker_rss_mb": max(samples),
        "worker": worker,
        "max_cached_workflows": max_cached,
        "task_queue": queue,
        "worker_log": log,
    }


# --- a partner-year on the time-skipping server ----------------------------------------------
# The partner's website is the test suite's fake (it names Rocket.Chat, so the check passes).


def report(month: str) -> dict[str, Any]:
    return {
        "month": month,
        "submitted_by": "ana.costa@portochat.example",
        "deals_closed": 1,
        "sales_closed_cents": 500_000,
        "prospective_sales": 2,
        "hosting_revenue_cents": 0,
        "referred_projects": [{"name": "Clinic chat", "amount_cents": 1_000_001}],
        "premium_offers": [
            {
                "product": "support_plan",
                "description": "Pro support",
                "quantity": 3,
                "list_price_cents": 33_333,
            }
        ],
        "certified_staff": 1,
        "share_statistics": True,
    }


async def _settle(handle: Any, before: dict[str, Any]) -> None:
    for _ in range(100):
        try:
            now = {t["task"]: t for t in await handle.query("pending_tasks")}
        except Exception:  # noqa: BLE001 - between runs
            return
        if all(now.get(k) != v for k, v in before.items()):
            return
        await asyncio.sleep(0.02)


async def partner_year(workdir: Path, days: int = 365, step_days: int = 4) -> dict[str, Any]:
    """Play one partnership for `days` simulated days; its events across runs per 365 days."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.worker import Worker

    from workers.main import WORKFLOWS, activities_for, workflow_runner
    from workflows.rocketchat_partnership import RocketChatPartnership

    watch = Stopwatch()
    async with time_skipping_server() as env:
        client = env.client
        queue = f"bench-year-{uuid.uuid4().hex[:8]}"
        settings = bench_settings(workdir / "partner_year", address_of(env), queue)
        with partner_site() as site:
            async with Worker(
                client,
                task_queue=queue,
                workflows=WORKFLOWS,
                workflow_runner=workflow_runner(),
                activities=activities_for(settings),
                activity_executor=ThreadPoolExecutor(8),
            ):
                signed_at = await env.get_current_time()
                partner_id = f"bench-{uuid.uuid4().hex[:8]}"
                state = partnership_input(partner_id, signed_at, site)
                # the yearly fee is part of the year: invoiced on the signature
                state.fee_invoices = []
                handle = await client.start_workflow(
                    RocketChatPartnership.run,
                    state,
                    id=f"rc-partnership-{partner_id}",
                    task_queue=queue,
                )
                first_run = handle.first_execution_run_id or handle.result_run_id
                submitted: set[str] = set()
                end = signed_at + timedelta(days=days)
                while await env.get_current_time() < end:
                    try:
                        status = await handle.query("status")
                    except Exception:  # noqa: BLE001 - between runs
                        await asyncio.sleep(0.05)
                        continue
                    tasks = {t["task"]: t for t in status["pending_tasks"]}
                    acted = False
                    for month in status["facts"].get("outstanding_reports", []):
                        if month not in submitted:
                            submitted.add(month)
                            await handle.signal("submit_sales_report", report(month))
                            acted = True
                    for task, handler in (
                        ("record_fee_payment", "record_fee_payment"),
                        ("quarterly_review", "decide_review"),
                        ("decide_renewal", "decide_renewal"),
                    ):
                        if t := tasks.get(task):
                            await handle.signal(handler, t["example"])
                            acted = True
                    if acted:
                        await _settle(handle, tasks)
                    else:
                        await env.sleep(timedelta(days=step_days))
                simulated = (await env.get_current_time() - signed_at).total_seconds() / 86400
                runs, events, per_run = 0, 0, []
                run_id: str | None = first_run
                while run_id:
                    history = await client.get_workflow_handle(
                        handle.id, run_id=run_id
                    ).fetch_history()
                    runs += 1
                    per_run.append(len(history.events))
                    events += len(history.events)
                    last = history.events[-1]
                    run_id = None
                    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                        continued = last.workflow_execution_continued_as_new_event_attributes
                        run_id = continued.new_execution_run_id
                with contextlib.suppress(Exception):
                    await handle.terminate("benchmark finished")
                await asyncio.sleep(0.3)  # let in-flight activities finish
    per_year = round(events * 365 / simulated) if simulated else None
    return {
        "simulated_days": round(simulated, 1),
        "runs": runs,
        "events": events,
        "events_per_run": per_run,
        "events_per_partner_year": per_year,
        "reports_submitted": len(submitted),
        "wall_seconds": round(watch.elapsed, 1),
    }


# --- the benchmark ---------------------------------------------------------------------------


async def run(
    env: WorkflowEnvironment,
    workdir: Path,
    *,
    partners: int = 10_000,
    in_flight: int = 100,
    worker: str = "process",
    year_days: int = 365,
    max_cached: int = PRODUCT_CACHE,
) -> dict[str, Any]:
    data = workdir / "scale"
    bench_settings(data, address_of(env), "unused")
    product = await one_population(env, data, "product", partners, in_flight, worker, max_cached)
    baseline = await one_population(env, data, "bare", partners, in_flight, worker, max_cached)
    year = await partner_year(workdir, days=year_days)
    start_ratio = ratio(product["starts_per_second"], baseline["starts_per_second"])
    rss_ok = product["worker_rss_mb"] < RSS_TARGET_MB and not product["stalled"]
    per_year = year["events_per_partner_year"]
    return {
        "parameters": {
            "partners": partners,
            "in_flight": in_flight,
            "worker": worker,
            "max_cached_workflows": max_cached,
            "year_days": year_days,
        },
        "product": product,
        "baseline": baseline,
        "partner_year": year,
        "rows": [
            {
                "benchmark": "scale",
                "metric": f"starts/s ({partners:,} open)",
                "product": product["starts_per_second"],
                "baseline": baseline["starts_per_second"],
                "ratio": start_ratio,
            },
            {
                "benchmark": "scale",
                "metric": "workflows at their first timer",
                "product": product["waiting"],
                "baseline": baseline["waiting"],
                "target": f"= {partners:,}",
                "ok": not product["stalled"] and not baseline["stalled"],
            },
            {
                "benchmark": "scale",
                "metric": "s until all waiting",
                "product": product["seconds_until_all_waiting"],
                "baseline": baseline["seconds_until_all_waiting"],
                "ratio": ratio(
                    product["seconds_until_all_waiting"], baseline["seconds_until_all_waiting"]
                ),
            },
            {
                "benchmark": "scale",
                "metric": f"worker RSS MB (cache {max_cached})",
                "product": product["worker_rss_mb"],
                "baseline": baseline["worker_rss_mb"],
                "ratio": ratio(product["worker_rss_mb"], baseline["worker_rss_mb"]),
                "target": f"< {RSS_TARGET_MB:g}",
                "ok": rss_ok,
            },
            {
                "benchmark": "scale",
                "metric": "history events/partner-year",
                "product": per_year,
                "target": f"< {EVENTS_TARGET}",
                "ok": per_year is not None and per_year < EVENTS_TARGET,
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="bench.scale's worker process")
    parser.add_argument("--worker", choices=["product", "bare"], required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="worker %(levelname)s %(name)s: %(message)s")
    from bench.common import settings_env as _env_keys

    keys = _env_keys(Path("."), "", "")
    asyncio.run(
        _serve(
            args.worker,
            {k: os.environ[k] for k in keys},
            int(os.environ.get("BENCH_MAX_CACHED", PRODUCT_CACHE)),
        )
    )


if __name__ == "__main__":
    main()
