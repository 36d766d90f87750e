"""`docker stop` sends SIGTERM, Ctrl-C SIGINT: the worker stops polling, lets its running
activities finish and exits with 0, instead of waiting on its open long polls until the
container runtime kills it."""

from __future__ import annotations

import signal

from tests.chaos.conftest import Stack, WorkerProcess
from tests.eventually import eventually


async def test_worker_stops_cleanly_on_sigterm(
    sqlite_stack: Stack, running_workers: list[WorkerProcess]
) -> None:
    """SIGTERM here; every chaos test's teardown stops its workers with SIGINT."""
    worker = sqlite_stack.worker()
    running_workers.append(worker)
    await worker.start_ready()
    assert worker.process is not None
    worker.process.send_signal(signal.SIGTERM)
    code = await eventually(
        lambda: worker.process is not None and worker.process.poll() is not None,
        timeout=30,
        what="the worker to exit",
    )
    assert code and worker.process.returncode == 0, worker.tail()
    assert worker.count("worker stopped") == 1, worker.tail()
