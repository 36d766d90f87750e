"""Stripe and SendGrid answering 500, 429 and timeouts for a while (BILLING_BACKEND=stripe
against the Stripe double, EMAIL_BACKEND=sendgrid against the fake): the activities retry
with backoff and every order ends paid, with one invoice per order in Stripe and no email
delivered twice. Permanent refusals are not retried: Stripe's 400 to an invoice becomes the
operations task `resolve_failed_step` (retried once the cause is fixed); SendGrid's 400 to
an email is recorded on the order, which goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus

from activities.database import session_scope
from models.tables import EmailRow
from tests.activities.sendgrid_fake import FakeSendGrid, idempotency_key
from tests.activities.stripe_double import TIMEOUT, StripeDouble
from tests.chaos.conftest import (
    OrderDriver,
    Stack,
    WorkerProcess,
    check_records,
    check_sendgrid,
    check_stripe,
    log,
    scale,
    stalls,
)
from tests.eventually import eventually

pytestmark = pytest.mark.timeout(scale(150, 900))
RUNS = scale(6, 30)
# Outages count requests, not seconds: the next OUTAGE calls answer 500 / 429 / timeout in
# turn, then (Stripe) the next LOST POSTs take effect but their answers are lost. Every
# fault is served whatever the machine's load, since every failed call is retried.
OUTAGE = scale(6, 60)
LOST = scale(4, 40)
HOLD = scale(0.5, 2.0)  # how long a "timeout" holds the request before hanging up


async def wait_for_task(
    driver: OrderDriver, workflow_id: str, task: str, timeout: float = 60
) -> dict[str, Any]:
    handle = driver.client.get_workflow_handle(workflow_id)

    async def pending() -> dict[str, Any] | None:
        return next((t for t in await handle.query("pending_tasks") if t["task"] == task), None)

    return await eventually(pending, timeout=timeout, what=f"{task} pending on {workflow_id}")


async def test_flaky_stripe_and_sendgrid(
    sqlite_stack: Stack, running_workers: list[WorkerProcess]
) -> None:
    stack = sqlite_stack
    with StripeDouble() as double:
        fake = FakeSendGrid(timeout_seconds=HOLD).start()
        double.timeout_seconds = HOLD
        try:
            stack.use_stripe(double.url)
            stack.use_sendgrid(fake.url)
            began = time.monotonic()
            worker = stack.worker()
            running_workers.append(worker)
            await worker.start_ready()
            driver = OrderDriver(
                await stack.client(), stack.task_queue, manual={"resolve_failed_step"}
            )
            [refused_invoice] = await driver.start(1)
            [refused_email] = await driver.start(1)
            # Permanent refusals first (they win over the outages queued below).
            order_of = refused_invoice.removeprefix("order-")
            double.fail_next(
                1, 400, method="POST", path="/v1/invoices",
                where=lambda params: (params.get("metadata") or {}).get("order_id") == order_of,
            )  # fmt: skip
            refused_key = f"{refused_email}:acceptance:request"
            fake.fail_next(1, 400, where=lambda body: idempotency_key(body) == refused_key)
            # The outages, queued behind the refusals: SendGrid's next OUTAGE calls fail,
            # 500 / 429 / timeout in turn; so do Stripe's, then Stripe acts on the next LOST
            # POSTs but their answers are lost (the connection drops after it acted), so
            # every retry must find what the lost attempt made.
            fake.fail_next(OUTAGE, (500, 429, TIMEOUT))
            double.fail_next(OUTAGE, (500, 429, TIMEOUT))
            double.fail_next(LOST, TIMEOUT, method="POST", after_effect=True)
            await driver.start(RUNS)
            driving = asyncio.create_task(driver.drive(timeout=scale(60, 240)))

            # Stripe refused the invoice of one order for good: an operations task, no retries.
            task = await wait_for_task(driver, refused_invoice, "resolve_failed_step")
            assert task["assignee"] == "operations" and "invoice:create" in task["description"]
            handle = driver.client.get_workflow_handle(refused_invoice)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            await asyncio.sleep(1.0)  # no retry happens meanwhile
            assert double.faults_served["400"] == 1
            assert double.invoices_by_key()[f"{refused_invoice}:invoice"] == 0
            # The invoice cannot be skipped; once the cause is fixed, operations retries it.
            await handle.signal(
                "resolve_failed_step", {"decided_by": "ops@mattermost.com", "action": "skip"}
            )
            await handle.signal(
                "resolve_failed_step",
                {
                    "decided_by": "ops@mattermost.com",
                    "action": "retry",
                    "reason": "customer data fixed in Stripe",
                },
            )
            await driving
            elapsed = time.monotonic() - began
            status = await handle.query("status")
            events = [(h["step"], h["event"]) for h in status["history"]]
            assert ("invoice:create", "step_failed") in events and (
                "invoice:create",
                "retry",
            ) in events
            assert ("resolve_failed_step", "rejected") in events  # the skip

            assert {"500", "429", "timeout"} <= set(double.faults_served), double.faults_served
            assert {"500", "429", "timeout"} <= set(fake.faults_served), fake.faults_served
            # Every scheduled fault was served, whatever the load: none expired unserved.
            outage = Counter((500, 429, TIMEOUT) * (OUTAGE // 3))
            assert double.faults_served == Counter(
                {str(k): n for k, n in (outage + Counter({400: 1, TIMEOUT: LOST})).items()}
            ), double.faults_served
            assert fake.faults_served == Counter(
                {str(k): n for k, n in (outage + Counter({400: 1})).items()}
            ), fake.faults_served
            outcomes = await driver.outcomes()
            assert set(outcomes.values()) == {"paid"}, outcomes
            others = [w for w in driver.workflow_ids if w != refused_email]
            counts = check_records(stack.database_url, others)
            counts |= check_stripe(double, stack.database_url, driver.workflow_ids)
            counts |= check_sendgrid(fake, driver.workflow_ids)

            # SendGrid refused one email for good: asked once, recorded, the order went on.
            assert sum(1 for r in fake.requests if idempotency_key(r.body) == refused_key) == 1
            with session_scope(stack.database_url) as session:
                row = session.exec(
                    select(EmailRow).where(EmailRow.idempotency_key == refused_key)
                ).one()
            assert row.status == "rejected"
            history = (await driver.client.get_workflow_handle(refused_email).query("status"))[
                "history"
            ]
            assert any(
                h["step"] == "acceptance:request" and h["event"] == "email_failed" for h in history
            )
            assert fake.sends_by_key()[refused_key] == 0

            retried = Counter(
                {
                    k: v
                    for k, v in Counter(idempotency_key(r.body) for r in fake.requests).items()
                    if v > 1
                }
            )
            log(
                f"flaky deps: {RUNS + 2} runs all paid in {elapsed:.1f} s; {counts}; Stripe faults "
                f"{dict(double.faults_served)}, SendGrid faults {dict(fake.faults_served)}; emails "
                f"asked more than once {len(retried)}; stalls > 3 s: "
                f"{dict(await stalls(driver.client, driver.workflow_ids))}"
            )
        finally:
            fake.stop()
