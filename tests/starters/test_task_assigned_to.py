"""A task assigned to a person (a deal's review, to the partner's Sales Manager) is found in
the inbox by the role and by the person's address, and its JSON names both."""

from __future__ import annotations

from datetime import UTC, datetime

from models.tasks import PendingTask
from starters.task_inbox import TaskFilters, TaskRow, filter_tasks

SAM = "sam.rivera@mattermost.com"


def rows() -> list[TaskRow]:
    review = PendingTask(
        task="review_deal",
        handler="review_deal",
        description="Review the deal registration",
        assignee="sales_manager",
        assigned_to=SAM,
    )
    payment = PendingTask(
        task="record_payment", handler="record_payment", description="Pay", assignee="finance"
    )
    return [
        TaskRow.from_pending("deal-DR-2026-000001", "DealRegistration", review),
        TaskRow.from_pending("order-1", "OrderFulfillment", payment),
    ]


def test_found_by_the_role_and_by_the_persons_address() -> None:
    now = datetime.now(UTC)
    for assignee in ("sales_manager", SAM):
        found = filter_tasks(rows(), TaskFilters(assignee=assignee), now)
        assert [r.task for r in found] == ["review_deal"]
    assert [r.task for r in filter_tasks(rows(), TaskFilters(text="sam.rivera"), now)] == [
        "review_deal"
    ]
    review, payment = (r.to_json() for r in rows())
    assert (review["assignee"], review["assigned_to"]) == ("sales_manager", SAM)
    assert payment["assigned_to"] is None
