"""Every human task as a Workflow Update, on the time-skipping server through the harness.

Each workflow type is walked along its main path with updates only: at every task a wrong
input is rejected first (the message names the field; the workflow's history gains no event
but the test server's workflow task, and its status history stays as it was), then the
published example is accepted and the answer names the new stage and the next task.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from models.tasks import TaskResult
from tests.eventually import eventually
from tests.workflows import (
    test_directory_listing,
    test_evaluation_license,
    test_rocketchat_onboarding,
    test_system_integrator_application,
    test_var_application,
)
from tests.workflows.harness import Harness, pending, status, workflow_harness
from workers.main import WORKFLOWS
from workflows.human_tasks import HumanTask

# Workflow tasks are all the time-skipping server writes for a rejected update (it has no
# speculative workflow tasks; the dev server writes nothing: tests/starters/test_cli_updates).
WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}

ACTIVITY_ENDS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
}


def _scheduled_id(event: Any) -> int:
    started = event.activity_task_started_event_attributes.scheduled_event_id
    return int(started or event.activity_task_completed_event_attributes.scheduled_event_id)


# Handlers off the walks below, each with where it is answered instead.
NOT_WALKED = {
    "email_delivery_fixed": "test_fix_email_delivery_by_update (every process has it)",
    "resolve_failed_step": "needs a step failing for good: the signal tests in test_agreements",
    "mark_uncollectible": "30 days overdue: test_order_fulfillment (signal)",
    "record_referral_fee_paid": "test_referral_fee_by_update",
    "website_follow_up": "a failed website check: test_rocketchat_onboarding (signal)",
    "workgroup_created": "a refused workgroup API: test_rocketchat_onboarding (signal)",
    "decide_review": "a quarter's review: test_rocketchat_partnership (signal)",
    "decide_renewal": "the term's end: test_rocketchat_partnership (signal)",
    "record_referral": "test_rocketchat_revenue_share (update, with its rejections)",
    "set_special_split": "test_rocketchat_revenue_share (update, with its rejections)",
    "offboard": "the partner entity: test_partner (update, refusals and cascade)",
    "suspend": "the partner entity: test_partner (update)",
    "reinstate": "the partner entity: test_partner (update)",
}


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


def _spec(workflow_type: str, handler: str) -> HumanTask:
    cls = next(c for c in WORKFLOWS if c.__name__ == workflow_type)
    return next(s for s in cls.human_tasks if s.handler == handler)


def _wrong(example: dict[str, Any], spec: HumanTask) -> tuple[dict[str, Any], str]:
    """The example with its first required field left out, and that field's name."""
    fields = spec.model.model_fields
    missing = next(
        (k for k in example if k in fields and fields[k].is_required()),
        next(iter(example)),
    )
    return {k: v for k, v in example.items() if k != missing}, missing


async def _events(handle: WorkflowHandle) -> list[Any]:
    return [e async for e in handle.fetch_history_events()]


ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}


def busy(events: list[Any]) -> bool:
    """Is the workflow still doing its own work: a workflow task not yet completed, or an
    activity not yet closed? (Read from the history: the time-skipping server's describe
    does not report pending workflow tasks.)"""
    if events[-1].event_type in {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    }:
        return True
    scheduled = {
        e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    closed = {
        getattr(e, ACTIVITY_CLOSED[e.event_type]).scheduled_event_id
        for e in events
        if e.event_type in ACTIVITY_CLOSED
    }
    return bool(scheduled - closed)


async def at_rest(handle: WorkflowHandle) -> list[Any]:
    """The history once the workflow's own work is done (timers aside: time only moves when
    the test skips it; a child waiting on a person writes nothing here)."""

    async def still() -> list[Any] | None:
        events = await _events(handle)
        return None if busy(events) else events

    return await eventually(still, interval=0.02, what=f"{handle.id} at rest")


async def rejected(handle: WorkflowHandle, handler: str, payload: Any, *fields: str) -> str:
    """Send a wrong input: rejected, naming `fields`; nothing recorded."""
    events, before = await at_rest(handle), await status(handle)
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(handler, payload)
    message = str(getattr(failure.value.cause, "message", failure.value.cause))
    assert message.startswith(f"{handler} rejected: "), message
    for field in fields:
        assert f"{field}: " in message, (field, message)
    added = (await _events(handle))[len(events) :]
    written = [
        EventType.Name(e.event_type)
        for e in added
        if e.event_type not in WORKFLOW_TASK_EVENTS
        and not (  # an activity scheduled before the update finished meanwhile
            e.event_type in ACTIVITY_ENDS and _scheduled_id(e) <= len(events)
        )
    ]
    assert written == [], written
    after = (await status(handle))["history"]
    assert after[: len(before["history"])] == before["history"]
    assert [h for h in after[len(before["history"]) :] if h["event"] == "rejected"] == []
    return message


async def decide(
    handle: WorkflowHandle,
    task: str,
    walked: set[str] | None = None,
    *,
    partial: bool = False,
    **changes: Any,
) -> TaskResult:
    """At `task`: a wrong input is rejected, then the example (with `changes`) answers."""
    open_task = await pending(handle, task)
    before = await status(handle)
    spec = _spec(before["workflow_type"], open_task["handler"])
    payload = {**open_task["example"], **changes}
    wrong, field = _wrong(payload, spec)
    await rejected(handle, open_task["handler"], wrong, field)
    result = await handle.execute_update(open_task["handler"], payload, result_type=TaskResult)
    assert result.task == task and result.handler == open_task["handler"]
    assert result.settled, result
    moved = (result.stage, [t.task for t in result.waiting_for]) != (
        before["stage"],
        [t["task"] for t in before["pending_tasks"]],
    )
    assert moved or result.ended or partial, (before["stage"], result)
    if walked is not None:
        walked.add(open_task["handler"])
    return result


# First in the module: its year of skipped time needs a server no other test has used.
async def test_evaluation_license_by_updates(
    harness: Harness, time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    module = test_evaluation_license
    handle = await module.start(harness, module.partner(settings))
    walked: set[str] = set()
    await decide(handle, "review_evaluation_license", walked)
    await time_skipping_env.sleep(timedelta(days=340))
    latest = harness.handle(handle.id)
    await decide(latest, "renew_evaluation_license", walked)
    await eventually(lambda: _new_run(latest), what="the next license year")
    assert walked == {"review_evaluation_license", "renew_evaluation_license"}


def test_every_human_task_is_an_update_with_a_description() -> None:
    """Each declared handler is a named update (listed by the Temporal UI) with a validator
    and a description, and a walk below or `NOT_WALKED` answers for it."""
    from temporalio.workflow import _Definition

    for cls in WORKFLOWS:
        definition = _Definition.from_class(cls)
        assert definition is not None
        for spec in getattr(cls, "human_tasks", ()):
            update = definition.updates[spec.handler]
            assert update.validator is not None and update.description, spec.handler
            assert spec.kind == "update"


async def test_order_by_updates(harness: Harness) -> None:
    handle = await harness.start_order()
    walked: set[str] = set()
    result = await decide(handle, "accept_terms", walked)
    assert result.stage == "license_review" and result.waiting_for[0].task == "review_license"
    review = await pending(handle, "review_license")
    message = await rejected(
        handle, "review_license", {**review["example"], "decision": "reject"}, "reason"
    )
    assert "a rejection needs a reason" in message
    await decide(handle, "review_license", walked)
    payment = await pending(handle, "record_payment")
    wrong_amount = {**payment["example"], "amount_cents": payment["example"]["amount_cents"] + 1}
    message = await rejected(handle, "record_payment", wrong_amount, "amount_cents")
    assert "differs from the amount due" in message
    result = await decide(handle, "record_payment", walked)
    assert result.ended and result.stage == "paid" and result.waiting_for == []
    with pytest.raises((RPCError, WorkflowUpdateFailedError)):  # the order has ended
        await handle.execute_update("accept_terms", {})
    assert walked == {"accept_terms", "review_license", "record_payment"}


async def test_deal_registration_by_updates(harness: Harness) -> None:
    handle = await harness.start_deal()
    walked: set[str] = set()
    review = await pending(handle, "review_deal")
    result = await decide(
        handle,
        "review_deal",
        walked,
        decision="request_information",
        question="How many seats does the pilot need?",
    )
    assert [t.task for t in result.waiting_for] == ["provide_deal_information"]
    await decide(handle, "provide_deal_information", walked)
    await decide(handle, "review_deal", walked, **{"decision": review["example"]["decision"]})
    quote = await pending(handle, "submit_quotation")
    await rejected(
        handle, "submit_quotation", {**quote["example"], "discount_percent": 30}, "discount_percent"
    )
    await rejected(
        handle, "submit_quotation", {**quote["example"], "net_price_cents": 1}, "net_price_cents"
    )
    result = await decide(handle, "submit_quotation", walked)
    assert result.stage == "awaiting_quotation_signature"
    sign = await pending(handle, "sign_quotation")
    await rejected(handle, "sign_agreement", {**sign["example"], "sha256": "0" * 64}, "sha256")
    await decide(handle, "sign_quotation", walked)
    po = (await pending(handle, "submit_purchase_order"))["example"]
    licenses = po["end_customer"]["contact"]["email"]  # the quotation's license contact
    other = {**po["end_customer"], "contact": {"name": "Someone", "email": "it@elsewhere.example"}}
    message = await rejected(
        handle,
        "submit_purchase_order",
        {**po, "end_customer": other},
        "end_customer.contact.email",
    )
    assert f"it@elsewhere.example is not the license contact {licenses}" in message
    result = await decide(handle, "submit_purchase_order", walked)
    assert result.stage != "awaiting_purchase_order"
    assert walked == {
        "review_deal",
        "provide_deal_information",
        "submit_quotation",
        "sign_agreement",
        "submit_purchase_order",
    }


async def test_referral_fee_by_update(harness: Harness) -> None:
    handle = await harness.start_deal()
    await decide(handle, "review_deal")
    await pending(handle, "submit_quotation")
    await handle.signal(
        "customer_purchased_online",
        {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-1"},
    )
    fee = await pending(handle, "record_referral_fee_paid")
    await rejected(
        handle,
        "record_referral_fee_paid",
        {**fee["example"], "amount_cents": fee["example"]["amount_cents"] + 1},
        "amount_cents",
    )
    result = await decide(handle, "record_referral_fee_paid")
    assert result.ended


async def test_authorized_resale_by_updates(harness: Harness) -> None:
    handle = await harness.start_resale()
    walked: set[str] = set()
    for task in ("reach_out", "approve_resale", "sign_reseller_agreement", "submit_purchase_order"):
        open_task = await pending(handle, task)
        await decide(handle, open_task["task"], walked)
    assert walked == {"record_outreach", "decide_resale", "sign_agreement", "submit_purchase_order"}


async def test_var_application_by_updates(harness: Harness) -> None:
    handle = await test_var_application.start(harness, test_var_application.application())
    walked: set[str] = set()
    await decide(
        handle,
        "review_application",
        walked,
        decision="request_information",
        questions="Which cities do you serve?",
    )
    await decide(handle, "provide_information", walked)
    for task in (
        "review_application",
        "sign_var_agreement",
        "assign_sales_manager",
        "confirm_training",
    ):
        await decide(handle, task, walked)
    result = await decide(handle, "confirm_local_support", walked)
    assert result.ended and result.stage == "active"
    assert walked == {
        "review_application",
        "provide_information",
        "sign_agreement",
        "assign_sales_manager",
        "confirm_training",
        "confirm_local_support",
    }


async def test_system_integrator_application_by_updates(harness: Harness) -> None:
    module = test_system_integrator_application
    handle = await module.start(harness, module.application())
    walked: set[str] = set()
    await decide(handle, "record_discussion", walked)
    decision = await pending(handle, "decide_application")
    await rejected(
        handle, "decide_application", {**decision["example"], "decision": "reject"}, "reason"
    )
    await decide(handle, "decide_application", walked)
    await rejected(handle, "complete_benefit", {"benefit": "free_lunch", "done_by": "x"}, "benefit")
    result: TaskResult | None = None
    for benefit in sorted(module.BENEFITS):
        result = await decide(handle, f"benefit_{benefit}", walked)
    assert result is not None and result.ended and result.stage == "active"
    assert walked == {"record_discussion", "decide_application", "complete_benefit"}


async def test_directory_listing_by_updates(harness: Harness) -> None:
    handle = await test_directory_listing.start(harness, test_directory_listing.listing_input())
    walked: set[str] = set()
    await decide(handle, "submit_listing", walked)
    review = await pending(handle, "review_listing")
    await rejected(
        handle,
        "review_listing",
        {**review["example"], "decision": "request_changes"},
        "comments",
    )
    result = await decide(handle, "review_listing", walked)
    assert result.stage == "published" and result.waiting_for == []
    assert walked == {"submit_listing", "review_listing"}


async def test_rocketchat_onboarding_by_updates(harness: Harness) -> None:
    module = test_rocketchat_onboarding
    handle = await module.start(harness, website=harness.site + "/")
    walked: set[str] = set()
    for task in module.BEFORE_TERMS:
        await decide(handle, task, walked)
    terms = await pending(handle, "set_contract_terms")
    await rejected(
        handle, "set_contract_terms", {**terms["example"], "term_months": 6}, "term_months"
    )
    await decide(handle, "set_contract_terms", walked)
    await decide(handle, "sign_partner_agreement", walked)
    await decide(handle, "publish_website", walked, url=harness.site + "/partners")
    for task in module.SUMMARY_AFTER_SIGNATURE:
        await decide(handle, task, walked)
    training = await pending(handle, "basic_training")
    await rejected(
        handle,
        "record_certification",
        {**training["example"], "service": "hosting"},
        "service",
    )
    result = await decide(handle, "basic_training", walked, partial=True)
    assert [t.task for t in result.waiting_for] == ["basic_training"]  # one service to go
    result = await decide(handle, "basic_training", walked)
    assert result.ended
    assert walked == {
        "review_prerequisites",
        "schedule_meeting",
        "record_meeting",
        "set_goals",
        "set_contract_terms",
        "sign_agreement",
        "website_published",
        "record_certification",
        "agree_statement_of_work",
        "schedule_test_sessions",
        "record_test_sessions",
        "submit_market_strategy",
        "record_discount_and_prices",
    }


async def test_fix_email_delivery_by_update(harness: Harness) -> None:
    handle = await harness.start_order()
    await pending(handle, "accept_terms")
    await handle.signal(
        "email_event",
        {
            "sg_event_id": f"sg_{uuid.uuid4().hex[:6]}",
            "event": "bounce",
            "email": "anna@example.com",
            "reason": "550 5.1.1 mailbox unavailable",
            "step": "acceptance:request",
            "timestamp": 1767225600,
        },
    )
    await decide(handle, "fix_email_delivery")


def test_every_handler_is_walked_or_named() -> None:
    walked = {
        "accept_terms",
        "review_license",
        "record_payment",
        "review_deal",
        "provide_deal_information",
        "submit_quotation",
        "sign_agreement",
        "submit_purchase_order",
        "record_outreach",
        "decide_resale",
        "review_application",
        "provide_information",
        "assign_sales_manager",
        "confirm_training",
        "confirm_local_support",
        "record_discussion",
        "decide_application",
        "complete_benefit",
        "submit_listing",
        "review_listing",
        "review_evaluation_license",
        "renew_evaluation_license",
        "review_prerequisites",
        "schedule_meeting",
        "record_meeting",
        "set_goals",
        "set_contract_terms",
        "website_published",
        "record_certification",
        "agree_statement_of_work",
        "schedule_test_sessions",
        "record_test_sessions",
        "submit_market_strategy",
        "record_discount_and_prices",
        "submit_sales_report",
        "record_fee_payment",
        "set_quarter_goals",
        "renew",  # tests/workflows/test_subscription_renewal.py
    }
    declared = {s.handler for c in WORKFLOWS for s in getattr(c, "human_tasks", ())}
    assert declared - walked == set(NOT_WALKED)


async def _new_run(handle: WorkflowHandle) -> bool:
    return (await status(handle))["facts"].get("license_year") == 2


async def test_var_approval_refuses_a_discount_outside_the_program_bounds(
    harness: Harness,
) -> None:
    """The approval agrees the reseller discount, within the program's bounds (10–30% by
    default): one outside them, or none, is refused naming `discount_percent`."""
    handle = await test_var_application.start(harness, test_var_application.application())
    await pending(handle, "review_application")
    approve = {"reviewer": "partners@mattermost.com", "decision": "approve"}
    for payload in ({**approve, "discount_percent": 35}, {**approve, "discount_percent": 5}):
        message = await rejected(handle, "review_application", payload, "discount_percent")
        assert "between 10% and 30%" in message
    await rejected(handle, "review_application", approve, "discount_percent")
    result = await handle.execute_update(
        "review_application", {**approve, "discount_percent": 30}, result_type=TaskResult
    )
    assert result.stage == "agreement"
