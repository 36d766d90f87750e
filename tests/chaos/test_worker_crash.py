"""kill -9 the worker at random points of many concurrent order-to-cash runs, restarting it
each time: every order still ends paid, with exactly one invoice, one license and one email
per step, in the records database and in the Stripe double / SendGrid fake.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from tests.activities.sendgrid_fake import FakeSendGrid
from tests.activities.stripe_double import StripeDouble
from tests.chaos.conftest import (
    OrderDriver,
    Stack,
    WorkerProcess,
    check_outbox_files,
    check_records,
    check_sendgrid,
    check_stripe,
    log,
    rng,
    scale,
    stalls,
    unconfirmed_emails,
)

pytestmark = pytest.mark.timeout(scale(150, 900))
RUNS = scale(8, 50)
KILLS = scale(2, 20)
# A kill lands this long after the (re)started worker is ready: while it replays, runs
# activities and answers the humans' signals. Seconds, not a count, on purpose: no load can
# make the runs finish first (the first kill comes before any order can have its three
# human steps, each later one inside the ~10 s stall the previous kill caused), and kills
# close together share that stall; kills counted in signals spread out, each with its own
# stall (44 s instead of 18 s for the reduced run).
KILL_AFTER = scale((0.3, 1.2), (0.3, 2.0))
# After a kill, the dead worker's workflows wait before another worker takes them: a task
# queued for it waits the sticky timeout, a task it had started waits the workflow task
# timeout (both 10 s by default, as in production and the full run). The reduced run makes
# the same kills and the same checks with 3 s stalls.
STICKY_TIMEOUT = scale("3", "10")
TASK_TIMEOUT = scale(timedelta(seconds=3), None)


@pytest.mark.parametrize("backend", scale(["stripe"], ["local", "stripe"]))
async def test_kill_9_worker_mid_run(
    backend: str, sqlite_stack: Stack, running_workers: list[WorkerProcess]
) -> None:
    random = rng(f"worker-crash-{backend}")
    stack = sqlite_stack
    stack.env_extra["PARTNERFLOW_STICKY_TIMEOUT_SECONDS"] = STICKY_TIMEOUT
    double = fake = None
    if backend == "stripe":
        double, fake = StripeDouble(), FakeSendGrid()
        double.start()
        fake.start()
        stack.use_stripe(double.url)
        stack.use_sendgrid(fake.url)
    try:
        began = time.monotonic()
        worker = stack.worker()
        running_workers.append(worker)
        await worker.start_ready()
        driver = OrderDriver(await stack.client(), stack.task_queue, task_timeout=TASK_TIMEOUT)
        await driver.start(RUNS)
        kill_times: list[float] = []
        driving = asyncio.create_task(driver.drive(timeout=scale(60, 280)))
        for n in range(1, KILLS + 1):
            await asyncio.sleep(random.uniform(*KILL_AFTER))
            if driving.done():
                break
            worker.kill()
            kill_times.append(round(time.monotonic() - began, 1))
            log(f"kill -9 #{n} ({backend}): {dict(driver.progress())}")
            await asyncio.sleep(random.uniform(0.0, 0.5))
            await worker.start_ready()
        await driving
        elapsed = time.monotonic() - began
        outcomes = await driver.outcomes()
        assert set(outcomes.values()) == {"paid"}, outcomes

        # kill -9 may leave a SendGrid claim unconfirmed (reported, never resent)
        statuses = {"sent", "unconfirmed"} if backend == "stripe" else {"sent"}
        counts = check_records(stack.database_url, driver.workflow_ids, email_statuses=statuses)
        if backend == "stripe":
            counts |= check_stripe(double, stack.database_url, driver.workflow_ids)
            counts |= check_sendgrid(fake, driver.workflow_ids)
            # At most once: a send cut by the kill is "unconfirmed", delivered or not.
            unconfirmed = unconfirmed_emails(stack.database_url, driver.workflow_ids)
            delivered = fake.sends_by_key()
            counts["unconfirmed_delivered"] = sum(1 for k in unconfirmed if delivered[k])
            counts["unconfirmed_not_delivered"] = sum(1 for k in unconfirmed if not delivered[k])
        else:
            check_outbox_files(stack.data_dir, stack.database_url, driver.workflow_ids)
        log(
            f"worker crash ({backend}): {RUNS} runs, {worker.kills} kills, all paid in "
            f"{elapsed:.1f} s; {counts}"
        )
        stalled = dict(await stalls(driver.client, driver.workflow_ids))
        log(f"kills at {kill_times} s; stalls > 3 s: {stalled}")
        assert worker.kills == KILLS  # every kill landed mid-run (each one stalls the runs)
    finally:
        if double is not None:
            double.stop()
        if fake is not None:
            fake.stop()
