"""RocketChatPartnership's tasks as Workflow Updates (a module of its own: its month of
skipped time needs a time-skipping server no other test has used)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from tests.workflows import test_rocketchat_partnership
from tests.workflows.harness import Harness, pending, workflow_harness
from tests.workflows.test_updates import decide, rejected


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def test_rocketchat_partnership_by_updates(
    harness: Harness, time_skipping_env: WorkflowEnvironment
) -> None:
    handle = await test_rocketchat_partnership.start(harness)
    walked: set[str] = set()
    fee = await pending(handle, "record_fee_payment")
    await rejected(
        handle, "record_fee_payment", {**fee["example"], "amount_cents": 1}, "amount_cents"
    )
    result = await decide(handle, "record_fee_payment", walked)
    assert "record_fee_payment" not in [t.task for t in result.waiting_for]
    await time_skipping_env.sleep(timedelta(days=35))  # the first month's report is due
    report = await pending(handle, "monthly_sales_report")
    await rejected(
        handle, "submit_sales_report", {**report["example"], "month": "1999-01"}, "month"
    )
    await decide(handle, "monthly_sales_report", walked)
    # A review (requested, decided by signal) opens the next quarter's goals task.
    await handle.signal("request_review", {"requested_by": "schedule"})
    review = await pending(handle, "quarterly_review")
    await handle.signal("decide_review", review["example"])
    goals = await pending(handle, "set_quarter_goals")
    assert goals["example"]["quarter"] == 2 and goals["assignee"] == "account_manager"
    await rejected(handle, "set_quarter_goals", {**goals["example"], "quarter": 9}, "quarter")
    await decide(handle, "set_quarter_goals", walked)
    assert walked == {"record_fee_payment", "submit_sales_report", "set_quarter_goals"}
