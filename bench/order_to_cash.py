"""a. Order to cash: deal registrations from the signed form webhook to a paid invoice.

Each deal is posted as a signed `deal-registration` form to the web app (in-process, httpx
ASGITransport), then its human tasks are completed the way the tests complete them: poll
`pending_tasks`, send the task's published example to its handler — `review_deal`,
`submit_quotation`, `sign_agreement` (the quotation), `submit_purchase_order`, then on the
child `order-{deal}` `accept_terms`, `review_license`, `record_payment` — until the deal
returns `paid`. Real activities with the local adapters (SQLite records, outbox email, local
billing ledger) on the worker `workers.main.build_worker` builds.

The baseline is `bench.baseline.BareProcess` with as many no-op activities and signals (and
a child with as many of its own) as the histories of the real deals show, started directly
with `client.start_workflow` and driven by the same poll-and-signal loop on an identical
worker. Ratio = product throughput / baseline throughput (deals completed per second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline import BareProcess, BareSpec, noop
from bench.common import WEBHOOK_SECRET, Stopwatch, address_of, bench_settings, ratio
from models.settings import Settings

DEAL_STEPS = ["review_deal", "submit_quotation", "sign_quotation", "submit_purchase_order"]
ORDER_STEPS = ["accept_terms", "review_license", "record_payment"]
COUNTED = {
    "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "signals": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    "timers": EventType.EVENT_TYPE_TIMER_STARTED,
    "workflow_tasks": EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    "children": EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
}
HUMAN = {
    "review_deal",
    "submit_quotation",
    "sign_agreement",
    "submit_purchase_order",
    "accept_terms",
    "review_license",
    "record_payment",
}
TARGET = 0.9


# --- driving ---------------------------------------------------------------------------------


async def wait_pending(
    handle: WorkflowHandle, task: str, poll: float, timeout: float = 120.0
) -> dict[str, Any]:
    """Poll `pending_tasks` until `task` is pending (the workflow may not exist yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            for t in await handle.query("pending_tasks"):
                if t["task"] == task:
                    return t
        await asyncio.sleep(poll)
    raise TimeoutError(f"{task} never became pending on {handle.id}")


async def play(client: Client, steps: list[tuple[str, str]], poll: float) -> None:
    """Complete each (workflow id, task) in turn with the task's published example."""
    for workflow_id, task in steps:
        handle = client.get_workflow_handle(workflow_id)
        pending = await wait_pending(handle, task, poll)
        await handle.signal(pending["handler"], pending["example"])


def seed_partner(settings: Settings, partner_id: str) -> None:
    from activities.partners import PartnerActivities
    from models.contracts import PartnerRecord

    record = PartnerRecord(
        partner_id=partner_id,
        program="mattermost",
        partner_type="value_added_reseller",
        company="Nordlicht IT-Systemhaus GmbH",
        country="DE",
        contact_name="Lena Hoffmann",
        contact_email="lena.hoffmann@nordlicht-it.example",
        status="active",
        discount_percent=25,  # agreed at the VAR approval
        at=datetime.now(UTC),
    )
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


def deal_form(partner_id: str) -> dict[str, Any]:
    """The form's published example for a fresh end customer (no deal conflicts)."""
    from models.forms import FORMS

    form = FORMS["deal-registration"].fresh_example()
    suffix = uuid.uuid4().hex[:10]
    form["partner_id"] = partner_id
    form["end_customer"]["legal_name"] = f"Hanse Logistik {suffix} AG"
    form["end_customer"]["contact"]["email"] = f"jonas.weber@hanse-{suffix}.example"
    return form


async def post_form(web: httpx.AsyncClient, form: str, payload: dict[str, Any]) -> httpx.Response:
    from starters.intake import SIGNATURE_HEADER, sign

    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(WEBHOOK_SECRET, body, int(time.time()), form),
    }
    return await web.post(f"/webhooks/forms/{form}", content=body, headers=headers)


async def one_deal(client: Client, web: httpx.AsyncClient, partner_id: str, poll: float) -> str:
    response = await post_form(web, "deal-registration", deal_form(partner_id))
    if response.status_code != 202:
        raise RuntimeError(
            f"deal-registration form answered {response.status_code}: {response.text[:500]}"
        )
    workflow_id = response.json()["workflow_id"]
    order_id = "order-" + workflow_id.removeprefix("deal-")
    await play(
        client, [(workflow_id, t) for t in DEAL_STEPS] + [(order_id, t) for t in ORDER_STEPS], poll
    )
    result = await client.get_workflow_handle(workflow_id).result()
    if result.get("outcome") != "paid":
        raise RuntimeError(f"{workflow_id} ended {result.get('outcome')!r}, not paid")
    return workflow_id


async def one_bare(client: Client, spec: BareSpec, task_queue: str, poll: float) -> str:
    workflow_id = f"bench-bare-{uuid.uuid4().hex[:12]}"
    await client.start_workflow(BareProcess.run, spec, id=workflow_id, task_queue=task_queue)
    steps = [(workflow_id, f"step-{i + 1}") for i in range(spec.signals)]
    if spec.child is not None:
        steps += [(f"{workflow_id}-child", f"step-{i + 1}") for i in range(spec.child.signals)]
    await play(client, steps, poll)
    await client.get_workflow_handle(workflow_id).result()
    return workflow_id


async def counts(client: Client, workflow_id: str, human: set[str]) -> dict[str, int]:
    """Events of one run by kind; `signals` split into `human_signals` (handlers in `human`,
    sent by people or their pages) and `internal_signals` (a child's progress)."""
    found: Counter[str] = Counter()
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    for event in history.events:
        found["events"] += 1
        for name, event_type in COUNTED.items():
            if event.event_type == event_type:
                found[name] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            kind = (
                "human_signals"
                if event.workflow_execution_signaled_event_attributes.signal_name in human
                else "internal_signals"
            )
            found[kind] += 1
    return {k: found[k] for k in ["events", *COUNTED, "human_signals", "internal_signals"]}


async def timed(make: Any, n: int, concurrency: int) -> tuple[float, list[float], list[str]]:
    """Run `n` flows, at most `concurrency` at a time: wall seconds, each flow's seconds and
    workflow id."""
    gate = asyncio.Semaphore(concurrency)
    durations: list[float] = []

    async def guarded() -> str:
        async with gate:
            started = time.perf_counter()
            workflow_id = await make()
            durations.append(time.perf_counter() - started)
            return workflow_id

    watch = Stopwatch()
    ids = await asyncio.gather(*(guarded() for _ in range(n)))
    return watch.elapsed, durations, list(ids)


def _median_counts(rows: list[dict[str, int]]) -> dict[str, int]:
    return {k: round(statistics.median(r[k] for r in rows)) for k in rows[0]}


def _sizes(parent: dict[str, int], child: dict[str, int]) -> str:
    """activities + human signals + internal signals, parent and child together."""
    kinds = ("activities", "human_signals", "internal_signals")
    return "+".join(str(parent[kind] + child[kind]) for kind in kinds)


# --- the benchmark ---------------------------------------------------------------------------


async def run(
    env: WorkflowEnvironment,
    workdir: Path,
    *,
    n: int = 50,
    concurrency: int | None = None,
    poll: float = 0.1,
    warm_up: bool = True,
) -> dict[str, Any]:
    from starters.web.app import create_app
    from workers.main import build_worker, workflow_runner

    client = env.client
    concurrency = concurrency or n
    queue = f"bench-o2c-{uuid.uuid4().hex[:8]}"
    settings = bench_settings(workdir / "order_to_cash", address_of(env), queue)
    partner_id = "bench-nordlicht"
    seed_partner(settings, partner_id)
    app = create_app(settings, client)

    transport = httpx.ASGITransport(app=app)
    async with (
        build_worker(client, settings),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as web,
    ):
        warm = (
            await one_deal(client, web, partner_id, poll) if warm_up else None
        )  # imports, sandbox, SQLite: not timed
        product_seconds, product_each, product_ids = await timed(
            lambda: one_deal(client, web, partner_id, poll), n, concurrency
        )
    warm = warm or product_ids[0]

    # What one deal is, from its history (the warm-up deal and a few timed ones).
    per_deal = [await counts(client, warm, HUMAN)]
    per_order = [await counts(client, "order-" + warm.removeprefix("deal-"), HUMAN)]
    deal, order = _median_counts(per_deal), _median_counts(per_order)
    payload = {"deal_number": "DR-2026-000001", "note": "x" * 200}
    spec = BareSpec(
        activities=deal["activities"],
        signals=deal["human_signals"],
        payload=payload,
        child=BareSpec(
            activities=order["activities"],
            signals=order["human_signals"],
            notify_parent=deal["internal_signals"],
            payload=payload,
        ),
    )

    bare_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    bare_worker = Worker(
        client,
        task_queue=bare_queue,
        workflows=[BareProcess],
        activities=[noop],
        workflow_runner=workflow_runner(),
        activity_executor=ThreadPoolExecutor(max_workers=16),
        max_cached_workflows=1000,
    )
    async with bare_worker:
        bare_warm = await one_bare(client, spec, bare_queue, poll) if warm_up else None
        bare_seconds, bare_each, bare_ids = await timed(
            lambda: one_bare(client, spec, bare_queue, poll), n, concurrency
        )
    bare_warm = bare_warm or bare_ids[0]
    bare_counts = await counts(client, bare_warm, {"bench_act"})
    bare_child_counts = await counts(client, f"{bare_warm}-child", {"bench_act"})

    product_rate, bare_rate = n / product_seconds, n / bare_seconds
    r = ratio(product_rate, bare_rate)
    return {
        "parameters": {
            "n": n,
            "concurrency": concurrency,
            "poll_seconds": poll,
            "warm_up": int(warm_up),
        },
        "per_deal_history": {"deal": deal, "order": order},
        "baseline_history": {"parent": bare_counts, "child": bare_child_counts},
        "product": {
            "seconds": round(product_seconds, 3),
            "deals_per_second": round(product_rate, 3),
            "median_deal_seconds": round(statistics.median(product_each), 3),
        },
        "baseline": {
            "seconds": round(bare_seconds, 3),
            "deals_per_second": round(bare_rate, 3),
            "median_deal_seconds": round(statistics.median(bare_each), 3),
        },
        "ratio": r,
        "target": f">= {TARGET}",
        "ok": r is not None and r >= TARGET,
        "rows": [
            {
                "benchmark": "order_to_cash",
                "metric": "deals/s",
                "product": round(product_rate, 3),
                "baseline": round(bare_rate, 3),
                "ratio": r,
                "target": f">= {TARGET}",
                "ok": r is not None and r >= TARGET,
            },
            {
                "benchmark": "order_to_cash",
                "metric": "median s/deal",
                "product": round(statistics.median(product_each), 3),
                "baseline": round(statistics.median(bare_each), 3),
                "ratio": ratio(statistics.median(product_each), statistics.median(bare_each)),
            },
            {
                "benchmark": "order_to_cash",
                "metric": "activities+human+internal signals/deal",
                "product": _sizes(deal, order),
                "baseline": _sizes(bare_counts, bare_child_counts),
            },
            {
                "benchmark": "order_to_cash",
                "metric": "history events/deal",
                "product": deal["events"] + order["events"],
                "baseline": bare_counts["events"] + bare_child_counts["events"],
            },
        ],
    }
