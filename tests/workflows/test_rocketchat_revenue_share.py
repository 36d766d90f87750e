"""Revenue share to the bank (issue 14) on the time-skipping server: each monthly share is
invoiced to the partner (net 30, the local ledger), emailed in Rocket.Chat's name and followed
by `RocketChatRevenueShare` (the invoice follower orders use) to paid, overdue and
uncollectible; an unpaid share fails the quarterly review's `fees_paid` with the reason; a
Technology Provider's split comes from Rocket.Chat's own referrals and special splits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.rocketchat import add_months
from models.settings import Settings
from models.tables import DecisionRow, EmailRow, InvoiceRow, RocketChatSalesReportRow
from models.tasks import TaskResult
from tests.eventually import eventually
from tests.workflows.harness import Harness, gone, pending, workflow_harness
from tests.workflows.program_mail import assert_program_mail
from tests.workflows.test_rocketchat_partnership import PREMIUM, REFERRED, start
from tests.workflows.test_updates import rejected


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


def report(month: str, **fields: Any) -> dict[str, Any]:
    return {
        "month": month,
        "submitted_by": "ana.costa@portochat.example",
        "deals_closed": 1,
        "sales_closed_cents": 500_000,
        "prospective_sales": 1,
        "certified_staff": 1,
        "share_statistics": True,
        **fields,
    }


async def share_of(handle: WorkflowHandle, month: str, stage: str) -> dict[str, Any]:
    """The month's share in the partnership's facts once its follower reported `stage`."""

    async def found() -> dict[str, Any] | None:
        shares = (await handle.query("status"))["facts"].get("revenue_shares", [])
        return next((s for s in shares if s["month"] == month and s["stage"] == stage), None)

    share: dict[str, Any] = await eventually(found, what=f"share {month} {stage}")
    return share


async def first_report(h: Harness, handle: WorkflowHandle) -> str:
    """Pay the yearly fee, then wait for the first month's report to be due."""
    fee = await pending(handle, "record_fee_payment")
    await handle.signal("record_fee_payment", fee["example"])
    await gone(handle, "record_fee_payment")
    await h.env.sleep(timedelta(days=35))
    task = await pending(handle, "monthly_sales_report")
    month: str = task["example"]["month"]
    return month


async def test_technology_provider_share_from_rocketchat_referrals_invoiced_and_paid(
    harness: Harness,
) -> None:
    h = harness
    handle = await start(h)  # Rocket.Chat recorded its referral of "Clinic chat"
    signed = await h.env.get_current_time()
    referral = {
        "client": "Porto Port Authority",
        "project": "Port dispatch",
        "referred_on": signed.date().isoformat(),
        "recorded_by": "sales@rocket.chat",
    }
    await rejected(
        handle, "record_referral", {**referral, "project": " clinic  CHAT "}, "project"
    )  # already recorded
    await rejected(
        handle,
        "record_referral",
        {**referral, "referred_on": add_months(signed, 1).date().isoformat()},
        "referred_on",
    )
    result = await handle.execute_update("record_referral", referral, result_type=TaskResult)
    assert result.decided_by == "sales@rocket.chat" and result.settled
    split = {
        "project": "Port dispatch",
        "rocketchat_percent": 20,
        "partner_percent": 80,
        "approved_by": "sales@rocket.chat",
        "reason": "Public-sector project, agreed with the partner",
    }
    await rejected(handle, "set_special_split", {**split, "partner_percent": 70}, "partner_percent")
    await rejected(handle, "set_special_split", {**split, "project": "Own shop"}, "project")
    await handle.execute_update("set_special_split", split, result_type=TaskResult)

    month = await first_report(h, handle)
    projects = [
        *REFERRED,  # 30% of 1,000,001 = 300,000 (Rocket.Chat's referral)
        {"name": "Port dispatch", "amount_cents": 200_000},  # special split 20% = 40,000
        {"name": "Own shop", "amount_cents": 50_000},  # the partner's own client: nothing
    ]
    await handle.signal(
        "submit_sales_report",
        report(month, referred_projects=projects, premium_offers=PREMIUM),  # 79,999
    )
    owed = 300_000 + 40_000 + 79_999
    share = await share_of(handle, month, "open")
    child = h.client.get_workflow_handle(share["workflow_id"])
    h.started.append(child.id)
    assert share["workflow_id"] == f"{handle.id.replace('partnership', 'revenue-share')}-{month}"
    assert share["amount_cents"] == owed

    partner_id = handle.id.removeprefix("rc-partnership-")
    [row] = await eventually(
        lambda: h.rows(RocketChatSalesReportRow, partner_id=partner_id), what="report recorded"
    )
    assert row.owed_to_rocketchat_cents == owed and row.invoice_id == share["invoice_id"]
    assert "special split 20/80 approved by sales@rocket.chat" in row.share_json
    assert "project Own shop: no referral by Rocket.Chat recorded, nothing shared" in row.share_json
    [invoice] = h.rows(InvoiceRow, workflow_id=child.id)
    assert (invoice.amount_due_cents, invoice.status) == (owed, "open")
    assert invoice.due_at is not None

    # The partner receives the invoice in Rocket.Chat's name; finance has the payment task.
    await h.emailed(child.id, "invoice:issued")
    [issued] = h.rows(EmailRow, workflow_id=child.id, step="invoice:issued")
    assert issued.to_addrs.count("ana.costa@portochat.example") == 1
    assert "USD 4,199.99" in issued.text_body and month in issued.subject
    assert assert_program_mail(h.settings, "rocketchat", [issued]) == 1
    payment = await pending(child, "record_payment")
    assert payment["assignee"] == "finance"
    assert payment["example"]["recorded_by"] == "finance@rocket.chat"
    assert payment["example"]["amount_cents"] == owed
    await rejected(
        child, "record_payment", {**payment["example"], "amount_cents": 1}, "amount_cents"
    )
    paid = await child.execute_update("record_payment", payment["example"], result_type=TaskResult)
    assert paid.ended and paid.stage == "paid"
    assert (await child.result())["status"] == "paid"
    await share_of(handle, month, "paid")
    await h.emailed(child.id, "invoice:paid")
    [invoice] = h.rows(InvoiceRow, workflow_id=child.id)
    assert invoice.status == "paid"

    decisions = {(d.step, d.decision, d.actor) for d in h.rows(DecisionRow, workflow_id=handle.id)}
    assert {
        ("referral:port dispatch", "recorded", "sales@rocket.chat"),
        ("special_split:port dispatch:1", "approved", "sales@rocket.chat"),
    } <= decisions
    facts = (await handle.query("status"))["facts"]
    assert [r["project"] for r in facts["referrals"]] == ["Clinic chat", "Port dispatch"]
    assert facts["special_splits"][0]["approved_by"] == "sales@rocket.chat"
    # Paid: nothing counts against the review (the partnership then ends, for its history).
    await handle.signal("request_review", {"requested_by": "schedule"})
    review = await pending(handle, "quarterly_review")
    assert "fees_paid" not in review["description"] and "unpaid" not in review["description"]
    await handle.signal(
        "decide_review", {**review["example"], "outcome": "removal", "notes": "Test over"}
    )
    assert (await handle.result()).outcome == "removed"


async def test_overdue_share_becomes_uncollectible_and_fails_fees_paid_at_the_review(
    harness: Harness,
) -> None:
    h = harness
    handle = await start(
        h, partner_type="hosting", services=["private_cloud_hosting"], term_months=12
    )
    month = await first_report(h, handle)
    await handle.signal("submit_sales_report", report(month, hosting_revenue_cents=250_005))
    share = await share_of(handle, month, "open")  # 30% of 250,005 = 75,002
    child = h.client.get_workflow_handle(share["workflow_id"])
    h.started.append(child.id)
    await pending(child, "record_payment")

    # Net 30: reminded, then overdue, then noticed; the partnership sees the stage.
    await h.env.sleep(timedelta(days=32))
    await share_of(handle, month, "overdue")
    await h.emailed(child.id, "invoice:due_reminder", "invoice:overdue:1")
    await handle.signal("request_review", {"requested_by": "schedule"})
    review = await pending(handle, "quarterly_review")
    reason = f"revenue share {month} (invoice {share['invoice_number']}, USD 750.02) is overdue"
    assert "fees_paid" in review["description"] and reason in review["description"]
    assert review["example"]["outcome"] == "warning" and reason in review["example"]["notes"]
    status = await handle.query("status")
    assert status["facts"]["review"]["compliance"]["fees_paid"] is False
    assert status["facts"]["review"]["unpaid_dues"] == [reason]
    await handle.signal("decide_review", review["example"])
    await gone(handle, "quarterly_review")

    # 30 days overdue: finance resolves it; it writes the share off as uncollectible.
    await h.env.sleep(timedelta(days=30))
    resolve = await pending(child, "resolve_overdue_invoice")
    assert resolve["example"]["decided_by"] == "finance@rocket.chat"
    await h.emailed(child.id, "invoice:overdue:4")
    closed = await child.execute_update(
        "mark_uncollectible", resolve["example"], result_type=TaskResult
    )
    assert closed.ended and closed.stage == "uncollectible"
    assert (await child.result())["status"] == "uncollectible"
    await share_of(handle, month, "uncollectible")
    rows = {r.step: r for r in h.rows(EmailRow, workflow_id=child.id)}
    assert {f"invoice:overdue:{n}" for n in (1, 2, 3, 4)} <= set(rows)
    assert "ana.costa@portochat.example" in rows["invoice:overdue:1"].to_addrs
    assert "invoice:uncollectible" in rows
    assert assert_program_mail(h.settings, "rocketchat", list(rows.values())) >= 6
    [invoice] = h.rows(InvoiceRow, workflow_id=child.id)
    assert invoice.status == "uncollectible"

    # The next review counts it again, uncollectible: a second failed review proposes removal.
    await h.env.sleep(timedelta(days=5))
    await handle.signal("request_review", {"requested_by": "schedule"})
    review = await pending(handle, "quarterly_review")
    assert (
        f"revenue share {month} (invoice {share['invoice_number']}, USD 750.02) is "
        "uncollectible" in review["description"]
    )
    assert review["example"]["outcome"] == "removal"
    await handle.signal("decide_review", review["example"])
    result = await handle.result()
    assert result.outcome == "removed"


async def test_billing_events_of_the_partnerships_own_invoices(harness: Harness) -> None:
    """The Stripe webhook's events reach the partnership for its yearly fee: a paid one
    records the fee as paid (once); anything else is noted, changing nothing."""
    h = harness
    handle = await start(h, partner_type="value_added", services=["consulting"])
    fee = await pending(handle, "record_fee_payment")
    invoice_id = (await handle.query("status"))["facts"]["fees"][0]["invoice_id"]
    event = {"event_id": "evt_1", "type": "invoice.paid", "invoice_id": invoice_id}
    await handle.signal("invoice_event", {**event, "event_id": "evt_0", "status": "open"})
    await handle.signal("invoice_event", {**event, "status": "paid"})
    await handle.signal("invoice_event", {**event, "status": "paid"})  # Stripe's retry
    await gone(handle, "record_fee_payment")
    await handle.signal("invoice_event", {**event, "event_id": "evt_2", "status": "paid"})
    status = await handle.query("status")  # (a repeat after the fee was recorded: not noted)
    assert status["facts"]["fees"][0]["paid"] is True
    assert [(h["step"], h["event"]) for h in status["history"] if h["step"] in ("invoice",)] == [
        ("invoice", "noted")
    ]
    decisions = [
        (d.step, d.decision, d.actor)
        for d in await eventually(
            lambda: h.rows(
                DecisionRow, workflow_id=handle.id, step="program_fee:1", decision="paid"
            ),
            what="the fee's payment audited",
        )
    ]
    assert decisions == [("program_fee:1", "paid", "billing")]
    assert fee["example"]["amount_cents"] == 120_000
