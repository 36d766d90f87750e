"""A real deal registration on the time-skipping server records the facts of its review
task (opened with its due time, reminded, escalated, decided late) in `task_events`, and the
SLA report reads them as one late decision after an escalation. The run completes, so
its history is kept for the replay test (the patched branch `insights-task-events`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.insights import list_task_events
from models.insights import sla_by_step, task_runs
from models.settings import Settings
from models.tables import TaskEventRow
from tests.eventually import eventually
from tests.workflows.harness import Harness, pending, workflow_harness

REVIEW = "review_deal"
EVER = (date(2000, 1, 1), date(2100, 1, 1))


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def test_a_review_decided_after_its_escalation_is_recorded_late(harness: Harness) -> None:
    handle = await harness.start_deal()
    await pending(handle, REVIEW)
    await harness.env.sleep(timedelta(days=6))
    await handle.signal(
        REVIEW,
        {"reviewer": "sm@mattermost.com", "decision": "reject", "reason": "Buys direct"},
    )
    assert (await handle.result()).outcome == "rejected"

    def facts() -> list[TaskEventRow] | None:
        rows = [
            r
            for r in list_task_events(harness.settings, "mattermost", *EVER)
            if r.workflow_id == handle.id and r.task == REVIEW
        ]
        return rows if any(r.event == "decided" for r in rows) else None

    rows = await eventually(facts, what="the review's facts")
    events = [r.event for r in rows]
    assert events[0] == "opened" and events[-1] == "decided"
    assert "reminded" in events and "escalated" in events
    opened = rows[0]
    assert opened.due_at is not None and opened.workflow_type == "DealRegistration"
    decided = rows[-1]
    assert decided.at > opened.due_at
    [sla] = sla_by_step(task_runs(rows), decided.at, *EVER)
    assert (sla.on_time, sla.late, sla.escalations) == (0, 1, 1)
