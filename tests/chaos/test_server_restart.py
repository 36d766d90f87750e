"""Stop the Temporal dev server mid-run and start it again from its SQLite file: nothing is
lost, the worker (a separate process) reconnects by itself, every order ends paid with
exactly its rows.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.conftest import (
    FULL,
    DevServer,
    OrderDriver,
    Stack,
    WorkerProcess,
    check_outbox_files,
    check_records,
    log,
    rng,
    scale,
    stalls,
)
from tests.eventually import eventually

pytestmark = pytest.mark.timeout(scale(150, 900))
RUNS = scale(6, 30)
RESTARTS = scale(1, 3)
DOWN_FOR = scale(1.0, 4.0)  # seconds the server stays down


async def test_dev_server_restart_loses_nothing(
    sqlite_stack: Stack, dev_server: DevServer, running_workers: list[WorkerProcess]
) -> None:
    random = rng("server-restart")
    stack = sqlite_stack
    began = time.monotonic()
    worker = stack.worker()
    running_workers.append(worker)
    await worker.start_ready()
    driver = OrderDriver(await stack.client(), stack.task_queue)
    await driver.start(RUNS)
    driving = asyncio.create_task(driver.drive(timeout=scale(60, 240)))
    # Each restart lands at a random point of the humans' work (counted in their signals,
    # three per order, never the last ones), so it meets running orders on any machine.
    signals = sorted(random.sample(range(1, 3 * RUNS - 3), RESTARTS))
    for n, after in enumerate(signals, start=1):
        await eventually(
            lambda after=after: driving.done() or len(driver.signaled) >= after,
            timeout=scale(60, 240),
            what=f"{after} signals before restart #{n}",
        )
        kill = FULL and n % 2 == 0  # the full run also kills the server (-9) every other time
        progress = dict(driver.progress())
        unreachable = await dev_server.restart(DOWN_FOR, kill=kill)
        how = "kill -9" if kill else "stop"
        log(f"server {how} #{n}: unreachable {unreachable:.1f} s at {progress}")
    await driving
    elapsed = time.monotonic() - began

    assert worker.alive(), f"the worker did not survive the server restart:\n{worker.tail()}"
    assert worker.starts == 1
    outcomes = await driver.outcomes()
    assert set(outcomes.values()) == {"paid"}, outcomes
    counts = check_records(stack.database_url, driver.workflow_ids)
    check_outbox_files(stack.data_dir, stack.database_url, driver.workflow_ids)
    log(
        f"server restart: {RUNS} runs, {RESTARTS} restarts, all paid in {elapsed:.1f} s; {counts}; "
        f"driver RPC errors {driver.rpc_errors}; "
        f"stalls > 3 s: {dict(await stalls(driver.client, driver.workflow_ids))}"
    )
