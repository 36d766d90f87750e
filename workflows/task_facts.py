"""The facts of human tasks for the insights reports: every wait on a human task records its
opening (with its due time), its reminders, its escalation and its decision (or expiry) in
the records database, once each, through the `record_task_event` activity.

One place for every process: `ProcessWorkflow.wait_for` and `TaskClock` call `record`.
`record` schedules the activity without waiting for it (a task on the workflow's loop), so
the process moves on exactly as before (an update's answer still sees the next task); the
run waits for the facts still being written before it completes (`flush`).
Runs from before the patch `insights-task-events` (asked at the start of `run`) record none,
so their histories replay unchanged.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.programs import program_of_workflow
    from models.task_events import TaskEventRecord

from workflows.calls import RECORD, call
from workflows.human_tasks import HumanTask

TASK_EVENTS_PATCH = "insights-task-events"


class TaskFacts:
    """Whether this run records task facts, and the occurrence of each task in the run."""

    def __init__(self) -> None:
        self.enabled = False
        self._occurrences: dict[str, int] = {}
        self._writing: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Ask the patch: at the start of `run`, before any local activity."""
        self.enabled = workflow.patched(TASK_EVENTS_PATCH)

    async def flush(self) -> None:
        """Wait for the facts still being written (before the run completes)."""
        writing, self._writing = self._writing, []
        if writing:
            await asyncio.gather(*writing)

    def record(
        self,
        spec: HumanTask,
        event: str,
        due_at: datetime | None,
        *,
        actor: str = "system",
        number: int = 0,
        partner_id: str | None = None,
    ) -> None:
        """Write one fact of `spec`'s current occurrence (a new one when `event` is
        `opened`) in the background; `number` tells reminders apart."""
        if not self.enabled:
            return
        if event == "opened":
            self._occurrences[spec.task] = self._occurrences.get(spec.task, 0) + 1
        occurrence = self._occurrences.get(spec.task, 1)
        info = workflow.info()
        suffix = f":{number}" if number else ""
        write = call(
            "record_task_event",
            TaskEventRecord(
                idempotency_key=f"{info.workflow_id}:{info.run_id}:{spec.task}:{occurrence}"
                f":{event}{suffix}",
                workflow_id=info.workflow_id,
                workflow_type=info.workflow_type,
                program=program_of_workflow(info.workflow_type),
                partner_id=partner_id,
                task=spec.task,
                event=event,
                at=workflow.now(),
                due_at=due_at,
                actor=actor,
            ),
            options=RECORD,
            summary=f"insights: {spec.task} {event}",
        )
        self._writing = [t for t in self._writing if not t.done()]
        self._writing.append(asyncio.create_task(write))
