"""Shared harness of the partner-lifecycle workflow tests (issue 4): a worker with every
workflow and the real local activities, helpers to wait for tasks, read the outbox and the
records, and to terminate what a test leaves running (children included)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import session_scope
from models.settings import Settings
from models.tables import EmailRow
from tests.workflows.recording import record_histories, recording
from workers.main import WORKFLOWS, activities_for, workflow_runner

TIMEOUT = timedelta(days=5 * 366)


@dataclass
class Lifecycle:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    task_queue: str
    ids: list[str] = field(default_factory=list)

    async def start(self, workflow: str, arg: Any, workflow_id: str) -> WorkflowHandle:
        handle = await self.client.start_workflow(
            workflow, arg, id=workflow_id, task_queue=self.task_queue, execution_timeout=TIMEOUT
        )
        self.ids.append(workflow_id)
        return handle

    def handle(self, workflow_id: str) -> WorkflowHandle:
        self.ids.append(workflow_id)
        return self.client.get_workflow_handle(workflow_id)

    async def task(self, handle: WorkflowHandle, task: str, attempts: int = 300) -> dict[str, Any]:
        """The pending task named `task`, once it is open."""
        for _ in range(attempts):
            with contextlib.suppress(Exception):
                for pending in await handle.query("pending_tasks"):
                    if pending["task"] == task:
                        return pending
            await asyncio.sleep(0.03)
        status = await handle.query("status")
        raise AssertionError(
            f"{task} never pending; stage {status['stage']}, tasks {[t['task'] for t in status['pending_tasks']]}, history {status['history'][-3:]}"
        )

    async def complete(self, handle: WorkflowHandle, task: str, **changes: Any) -> dict[str, Any]:
        """Wait for `task`, then send its published example (with `changes`)."""
        pending = await self.task(handle, task)
        await handle.signal(pending["handler"], {**pending["example"], **changes})
        return pending

    async def gone(self, handle: WorkflowHandle, task: str) -> None:
        for _ in range(300):
            if task not in [t["task"] for t in await handle.query("pending_tasks")]:
                return
            await asyncio.sleep(0.03)
        raise AssertionError(f"{task} still pending")

    def email_steps(self, workflow_id: str) -> list[str]:
        with session_scope(self.settings.resolved_database_url) as session:
            return sorted(
                row.step
                for row in session.exec(select(EmailRow).where(EmailRow.workflow_id == workflow_id))
            )

    def emails(self, workflow_id: str) -> list[EmailRow]:
        with session_scope(self.settings.resolved_database_url) as session:
            return list(session.exec(select(EmailRow).where(EmailRow.workflow_id == workflow_id)))


@contextlib.asynccontextmanager
async def lifecycle(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Lifecycle]:
    queue = f"lifecycle-{uuid.uuid4().hex[:8]}"
    # Forms started through the intake land on this worker's task queue.
    harness = Lifecycle(
        env, env.client, settings.model_copy(update={"temporal_task_queue": queue}), queue
    )
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        activities=activities_for(settings),
        activity_executor=ThreadPoolExecutor(8),
    ):
        try:
            yield harness
            if recording():
                await record_histories(harness.client, harness.ids)
        finally:
            for workflow_id in dict.fromkeys(harness.ids):
                with contextlib.suppress(Exception):
                    await env.client.get_workflow_handle(workflow_id).terminate("test over")


def uid() -> str:
    return uuid.uuid4().hex[:8]
