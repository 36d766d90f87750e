"""The records database (PostgreSQL, a fresh schema) goes away for a while: the worker reaches
it through a TCP proxy that the test stops (open connections are cut, new ones refused) and
starts again. Activities fail and retry, workflows wait, and afterwards every order has
exactly its rows: nothing half-written, nothing twice.
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
from tests.postgres import postgres_schema

pytestmark = pytest.mark.timeout(scale(150, 900))
RUNS = scale(6, 30)
OUTAGES = scale(1, 2)
DOWN_FOR = scale(1.5, 8.0)  # seconds without a database


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
            for n in range(1, OUTAGES + 1):
                await asyncio.sleep(random.uniform(0.3, 1.2))
                progress = dict(driver.progress())
                proxy.stop()
                await asyncio.sleep(DOWN_FOR)
                proxy.start()
                log(f"database outage #{n}: {DOWN_FOR} s from {progress}")
            await driving
            elapsed = time.monotonic() - began
            worker.stop()

            outcomes = await driver.outcomes()
            assert set(outcomes.values()) == {"paid"}, outcomes
            counts = check_records(direct_url, driver.workflow_ids)
            check_outbox_files(stack.data_dir, direct_url, driver.workflow_ids)
            failed = worker.count("OperationalError")
            assert failed > 0, "no activity met the outage: the test proved nothing"
            log(
                f"database outage: {RUNS} runs, {OUTAGES} x {DOWN_FOR} s, all paid in {elapsed:.1f} s; "
                f"{counts}; activity attempts failed on the database: {failed}; stalls > 3 s: "
                f"{dict(await stalls(driver.client, driver.workflow_ids))}"
            )
        finally:
            proxy.stop()
