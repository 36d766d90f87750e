"""The records database (PostgreSQL, a fresh schema) goes away for a while: the worker reaches
it through a TCP proxy that cuts the open connections and refuses the next few new ones (an
outage counted in connections, so it lasts until the worker has met it, whatever the load).
Activities fail and retry, workflows wait, and afterwards every order has exactly its rows:
nothing half-written, nothing twice.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.engine import make_url

from activities.database import migrate
from tests.chaos.conftest import (
    DevServer,
    OrderDriver,
    Stack,
    TcpProxy,
    WorkerProcess,
    check_outbox_files,
    check_records,
    log,
    rng,
    scale,
    stalls,
)
from tests.eventually import eventually
from tests.postgres import postgres_schema

pytestmark = pytest.mark.timeout(scale(150, 900))
RUNS = scale(6, 30)
OUTAGES = scale(1, 2)
REFUSED = scale(4, 20)  # connections refused per outage


async def test_records_database_outage(
    tmp_path,
    dev_server: DevServer,
    running_workers: list[WorkerProcess],  # type: ignore[no-untyped-def]
) -> None:
    random = rng("database-outage")
    with postgres_schema() as direct_url:
        migrate(direct_url)
        target = make_url(direct_url)
        proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
        proxy.start()
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        stack = Stack(tmp_path, dev_server, proxied)
        try:
            began = time.monotonic()
            worker = stack.worker()
            running_workers.append(worker)
            await worker.start_ready()
            driver = OrderDriver(await stack.client(), stack.task_queue)
            await driver.start(RUNS)
            driving = asyncio.create_task(driver.drive(timeout=scale(60, 240)))
            # Each outage lands at a random point of the humans' work (counted in their
            # signals, three per order), never after the last order is done.
            signals = sorted(random.sample(range(1, 3 * RUNS - 3), OUTAGES))
            for n, after in enumerate(signals, start=1):
                await eventually(
                    lambda after=after: driving.done() or len(driver.signaled) >= after,
                    timeout=scale(60, 240),
                    what=f"{after} signals before outage #{n}",
                )
                progress = dict(driver.progress())
                down = time.monotonic()
                proxy.refuse(REFUSED)
                await eventually(
                    lambda: driving.done() or proxy.refusing == 0,
                    timeout=scale(60, 240),
                    what=f"the worker to meet outage #{n}",
                )
                log(
                    f"database outage #{n}: {REFUSED} connections refused in "
                    f"{time.monotonic() - down:.1f} s from {progress}"
                )
            await driving
            elapsed = time.monotonic() - began
            worker.stop()

            outcomes = await driver.outcomes()
            assert set(outcomes.values()) == {"paid"}, outcomes
            counts = check_records(direct_url, driver.workflow_ids)
            check_outbox_files(stack.data_dir, direct_url, driver.workflow_ids)
            failed = worker.count("OperationalError")
            assert proxy.refused == OUTAGES * REFUSED, "an outage ended before the worker met it"
            assert failed > 0, "no activity met the outage: the test proved nothing"
            log(
                f"database outage: {RUNS} runs, {OUTAGES} x {REFUSED} connections refused, "
                f"all paid in {elapsed:.1f} s; "
                f"{counts}; activity attempts failed on the database: {failed}; stalls > 3 s: "
                f"{dict(await stalls(driver.client, driver.workflow_ids))}"
            )
        finally:
            proxy.stop()
