"""DealRegistration on the time-skipping server: every branch of the sales process with real
activities (SQLite records, outbox, local ledger, click-sign) and the child OrderFulfillment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.deals import DealActivities, get_referral_fee, get_registration, list_claims
from models.deals import ApprovalClaim, DealRecord
from models.settings import Settings
from tests.eventually import eventually
from tests.factories import deal_input
from tests.workflows.harness import (
    Harness,
    attribute_is,
    history_events,
    history_once,
    pay_child,
    pending,
    search_attribute,
    status,
    workflow_harness,
)
from tests.workflows.program_mail import assert_program_mail
from workflows.search_attributes import (
    AMOUNT_DUE_CENTS,
    DEAL_NUMBER,
    INVOICE_NUMBER,
    INVOICE_STAGE,
    PARTNER_ID,
    STAGE,
)

APPROVE = {"reviewer": "sales-manager@mattermost.com", "decision": "approve"}


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def approve(handle) -> dict:  # type: ignore[no-untyped-def]
    await pending(handle, "review_deal")
    await handle.signal("review_deal", APPROVE)
    return await pending(handle, "submit_quotation")


async def test_approved_deal_to_paid_invoice_through_the_child_order(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    quote_task = await approve(handle)
    assert quote_task["assignee"] == "sales_manager"
    assert (
        quote_task["example"]["net_price_cents"] == 2_400_000
        and quote_task["example"]["discount_percent"] == 20
    )
    assert await search_attribute(handle, DEAL_NUMBER) == deal.deal_number

    # A quotation whose discount or net price does not follow the approved registration is refused.
    await handle.signal("submit_quotation", {**quote_task["example"], "discount_percent": 30})
    await handle.signal("submit_quotation", {**quote_task["example"], "net_price_cents": 1})
    await handle.signal(
        "submit_quotation",
        {k: v for k, v in quote_task["example"].items() if k != "license_contact_email"},
    )
    await handle.signal("submit_quotation", quote_task["example"])
    sign = await pending(handle, "sign_quotation")
    assert (
        sign["assignee"] == "end_customer"
        and sign["example"]["email"] == deal.end_customer.contact.email
    )
    events = await history_events(handle, "submit_quotation")
    assert [e for _, e in events] == ["rejected", "rejected", "rejected", "quoted"]

    # A purchase order before the customer's signature is refused with the reason.
    po_early = {
        "number": "PO-1",
        "submitted_by": "lena@x.example",
        "amount_cents": 2_400_000,
        "bill_to": deal.partner.company,
        "end_customer": deal.end_customer.model_dump(mode="json"),
    }
    await handle.signal("submit_purchase_order", po_early)
    await eventually(
        lambda: _has_rejection(handle, "submit_purchase_order", "not signed the quotation")
    )
    assert (await status(handle))["stage"] == "awaiting_quotation_signature"

    await handle.signal("sign_agreement", sign["example"])
    po_task = await pending(handle, "submit_purchase_order")
    assert po_task["assignee"] == "partner"
    # Wrong amount, billed to the end customer, an end-customer PO: refused with the reasons.
    await handle.signal(
        "submit_purchase_order",
        {**po_task["example"], "amount_cents": 1, "bill_to": deal.end_customer.legal_name},
    )
    await handle.signal(
        "submit_purchase_order", {**po_task["example"], "issued_by": "end_customer"}
    )
    await eventually(
        lambda: _has_rejection(handle, "submit_purchase_order", "end-customer purchase orders")
    )
    reasons = [
        h["detail"].get("reason", "")
        for h in (await status(handle))["history"]
        if h["step"] == "submit_purchase_order" and h["event"] == "rejected"
    ]
    assert any("does not match quotation" in r and "billed to the reseller" in r for r in reasons)
    await handle.signal("submit_purchase_order", po_task["example"])

    # The deal can no longer be withdrawn once the PO is accepted.
    await pay_child(harness, deal.deal_number)
    await handle.signal("withdraw", {"withdrawn_by": "lena@x.example", "reason": "too late"})
    result = await handle.result()
    assert (
        result.outcome == "paid" and result.order_id == deal.deal_number and result.invoice_number
    )
    assert await search_attribute(handle, INVOICE_STAGE) == "paid"
    assert await search_attribute(handle, INVOICE_NUMBER) == result.invoice_number
    child = f"order-{deal.deal_number}"
    child_handle = harness.client.get_workflow_handle(child)
    assert await search_attribute(child_handle, DEAL_NUMBER) == deal.deal_number
    assert await search_attribute(child_handle, PARTNER_ID) == deal.partner.partner_id
    child_result = await harness.client.get_workflow_handle(child).result()
    assert child_result["amount_cents"] == 2_400_000  # the discounted net price
    assert ("withdraw", "rejected") in await history_events(handle, "withdraw")
    row = get_registration(harness.settings, deal.deal_number)
    assert row is not None and row.status == "closed_won"
    steps = harness.email_steps(handle.id)
    assert {
        "deal:received",
        "deal:approved",
        "sign_quotation:request",
        "deal:quotation_signed",
        "deal:ordered",
    } <= set(steps)


async def _has_rejection(handle, step: str, text: str) -> bool:  # type: ignore[no-untyped-def]
    return any(
        h["step"] == step and h["event"] == "rejected" and text in h["detail"].get("reason", "")
        for h in (await status(handle))["history"]
    )


async def test_rejection_needs_a_reason(harness: Harness) -> None:
    handle = await harness.start_deal()
    await pending(handle, "review_deal")
    await handle.signal("review_deal", {"reviewer": "sm@mattermost.com", "decision": "reject"})
    await handle.signal(
        "review_deal",
        {
            "reviewer": "sm@mattermost.com",
            "decision": "reject",
            "reason": "Customer already buys direct",
        },
    )
    result = await handle.result()
    assert result.outcome == "rejected" and result.reason == "Customer already buys direct"
    events = await history_events(handle, "review_deal")
    assert events[0] == ("review_deal", "rejected") and events[-1] == ("review_deal:1", "reject")
    assert "deal:rejected" in harness.email_steps(handle.id)
    row = get_registration(harness.settings, result.deal_number)
    assert row is not None and row.status == "rejected"


async def test_request_information_loops_until_approved(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    for round_number, question in enumerate(
        ["How many seats are in the pilot?", "Who is the budget owner?"], start=1
    ):
        await pending(handle, "review_deal")
        await handle.signal(
            "review_deal", {"reviewer": "sm@mattermost.com", "decision": "request_information"}
        )  # no question
        await handle.signal(
            "review_deal",
            {
                "reviewer": "sm@mattermost.com",
                "decision": "request_information",
                "question": question,
            },
        )
        task = await pending(handle, "provide_deal_information")
        assert task["assignee"] == "partner" and question in task["description"]
        assert (await status(handle))["stage"] == "information_requested"
        await handle.signal(
            "provide_deal_information",
            {
                "deal_number": "DR-1999-000001",
                "answered_by": "lena@x.example",
                "answer": "wrong deal",
            },
        )
        await handle.signal(
            "provide_deal_information", {**task["example"], "answer": f"Answer {round_number}"}
        )
    await approve(handle)
    events = await history_events(handle, "review_deal:")
    assert events == [
        ("review_deal:1", "request_information"),
        ("review_deal:2", "request_information"),
        ("review_deal:3", "approve"),
    ]
    answers = await history_events(handle, "provide_deal_information")
    assert answers.count(("provide_deal_information", "rejected")) == 2
    assert [e for e in answers if e[1] == "answered"] == [
        ("provide_deal_information:1", "answered"),
        ("provide_deal_information:2", "answered"),
    ]
    assert {"deal:information_requested:1", "deal:information_requested:2"} <= set(
        harness.email_steps(handle.id)
    )


async def test_channel_conflict_is_flagged_and_a_second_approval_is_impossible(
    harness: Harness,
) -> None:
    acts = DealActivities(harness.settings)
    env = ActivityEnvironment()
    now = datetime.now(UTC)
    other = "DR-2025-000777"
    env.run(
        acts.record_deal,
        DealRecord(
            deal_number=other,
            workflow_id=f"deal-{other}",
            partner_id="other-var",
            partner_company="Other VAR GmbH",
            end_customer_name="HANSE-LOGISTIK",
            contact_email="it@hanse-logistik.example",
            sku="MM-ENT-1Y",
            status="approved",
            at=now,
        ),
    )
    env.run(
        acts.claim_deal_approval,
        ApprovalClaim(
            deal_number=other,
            end_customer_name="HANSE-LOGISTIK",
            contact_email="it@hanse-logistik.example",
            sku="MM-ENT-1Y",
        ),
    )
    handle = await harness.start_deal()
    task = await pending(handle, "review_deal")
    assert task["description"].startswith(
        "CHANNEL CONFLICT: DR-2025-000777 by Other VAR GmbH (approved, same customer name)"
    )
    facts = (await status(handle))["facts"]
    assert [c["deal_number"] for c in facts["channel_conflicts"]] == [other]
    await handle.signal("review_deal", APPROVE)
    await eventually(
        lambda: _has_rejection(
            handle,
            "review_deal",
            "two approved registrations of the same opportunity are impossible",
        )
    )
    assert (await status(handle))["stage"] == "in_review"
    await handle.signal(
        "review_deal",
        {
            "reviewer": "sm@mattermost.com",
            "decision": "reject",
            "reason": "Channel conflict with DR-2025-000777",
        },
    )
    result = await handle.result()
    assert result.outcome == "rejected"
    assert {c.deal_number for c in list_claims(harness.settings)} == {other}
    assert ("screening:channel_conflict", "flagged") in await history_events(handle, "screening")


async def test_protection_lapses_without_a_quotation(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    await approve(handle)
    assert list_claims(harness.settings)
    result = await handle.result()
    assert result.outcome == "lapsed" and "90-day protection" in (result.reason or "")
    steps = harness.email_steps(handle.id)
    assert "deal:protection_reminder" in steps and "deal:lapsed" in steps
    assert not [c for c in list_claims(harness.settings) if c.deal_number == deal.deal_number]
    row = get_registration(harness.settings, deal.deal_number)
    assert row is not None and row.status == "lapsed"
    assert await search_attribute(handle, STAGE) == "lapsed"


async def test_customer_purchased_online_makes_a_referral_fee_payable_until_paid(
    harness: Harness,
) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    await pending(handle, "review_deal")
    await handle.signal(
        "customer_purchased_online",
        {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-1"},
    )  # not approved yet
    await approve(handle)
    await handle.signal(
        "customer_purchased_online",
        {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-1"},
    )
    fee_task = await pending(handle, "record_referral_fee_paid")
    assert fee_task["assignee"] == "finance" and fee_task["example"]["amount_cents"] == 600_000
    facts = (await status(handle))["facts"]
    assert facts["referral_fee"]["note"] == f"Referral fee for deal registration {deal.deal_number}"
    row = get_referral_fee(harness.settings, deal.deal_number)
    assert row is not None and row.status == "payable" and row.amount_cents == 600_000
    [mail] = [m for m in harness.emails(handle.id) if m.step == "referral_fee:instructions"]
    assert f"Referral fee for deal registration {deal.deal_number}" in mail.text_body
    assert "payments@mattermost.com" in mail.text_body and "USD 6,000.00" in mail.text_body
    await handle.signal("record_referral_fee_paid", {**fee_task["example"], "amount_cents": 1})
    await handle.signal("record_referral_fee_paid", fee_task["example"])
    result = await handle.result()
    assert result.outcome == "referral_fee_paid" and result.referral_fee_cents == 600_000
    row = get_referral_fee(harness.settings, deal.deal_number)
    assert (
        row is not None
        and row.status == "paid"
        and row.reference == fee_task["example"]["reference"]
    )
    online = await history_events(handle, "customer_purchased_online")
    assert online[0] == ("customer_purchased_online", "rejected")
    assert ("record_referral_fee_paid", "rejected") in await history_events(
        handle, "record_referral_fee_paid"
    )


@pytest.mark.parametrize(
    ("seats", "term_months", "fee_cents"),
    [(400, 12, 960_000), (100, 24, 480_000)],  # 20% of 120 USD per seat and year
)
async def test_referral_fee_follows_the_online_purchase_not_the_registration(
    harness: Harness, seats: int, term_months: int, fee_cents: int
) -> None:
    deal = deal_input()  # 250 seats registered
    handle = await harness.start_deal(deal)
    await approve(handle)
    purchase = {"seats": seats, "list_unit_price_cents": 12_000, "term_months": term_months}
    await handle.signal(
        "customer_purchased_online",
        {"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-9", **purchase},
    )
    fee_task = await pending(handle, "record_referral_fee_paid")
    assert fee_task["example"]["amount_cents"] == fee_cents
    fee = (await status(handle))["facts"]["referral_fee"]
    list_cents = 12_000 * seats * term_months // 12
    assert fee["amount_cents"] == fee_cents
    assert fee["purchase"] == {**purchase, "list_cents": list_cents, "amount_paid_cents": None}
    row = get_referral_fee(harness.settings, deal.deal_number)
    assert row is not None and row.amount_cents == fee_cents
    [mail] = [m for m in harness.emails(handle.id) if m.step == "referral_fee:instructions"]
    assert f"{seats} seats, {term_months} months" in mail.text_body and "WEB-9" in mail.text_body
    assert f"USD {fee_cents // 100:,}.00" in mail.text_body
    await handle.signal("record_referral_fee_paid", fee_task["example"])
    result = await handle.result()
    assert result.outcome == "referral_fee_paid" and result.referral_fee_cents == fee_cents


async def test_approval_email_states_the_protection_window(harness: Harness) -> None:
    deal = deal_input(protection_days=45)
    handle = await harness.start_deal(deal)
    await approve(handle)
    [mail] = [m for m in harness.emails(handle.id) if m.step == "deal:approved"]
    assert "protected for you for 45 days, until" in mail.text_body
    assert "45 days" in mail.html_body


async def test_partner_withdraws_during_the_signature(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    quote_task = await approve(handle)
    await handle.signal("submit_quotation", quote_task["example"])
    await pending(handle, "sign_quotation")
    await handle.signal("withdraw", {"withdrawn_by": "lena@x.example"})  # no reason: invalid
    await handle.signal(
        "withdraw", {"withdrawn_by": "lena@x.example", "reason": "Customer postponed the project"}
    )
    result = await handle.result()
    assert result.outcome == "withdrawn" and result.reason == "Customer postponed the project"
    events = [e for _, e in await history_events(handle, "sign_quotation")]
    assert "expired" not in events
    assert not [c for c in list_claims(harness.settings) if c.deal_number == deal.deal_number]
    st = await status(handle)
    assert st["pending_tasks"] == [] and st["stage"] == "withdrawn"
    assert "deal:withdrawn" in harness.email_steps(handle.id)


async def test_partner_withdraws_during_review(harness: Harness) -> None:
    handle = await harness.start_deal()
    await pending(handle, "review_deal")
    await handle.signal(
        "withdraw", {"withdrawn_by": "lena@x.example", "reason": "Registered by mistake"}
    )
    result = await handle.result()
    assert result.outcome == "withdrawn"


async def test_embargoed_customer_is_refused_at_intake(harness: Harness) -> None:
    deal = deal_input(
        end_customer={
            "legal_name": "Havana Telecom",
            "address": {"line1": "Calle 23", "city": "Havana", "country": "CU"},
            "contact": {"name": "X", "email": "x@havana.example"},
        }
    )
    handle = await harness.start_deal(deal)
    result = await handle.result()
    assert result.outcome == "embargoed" and result.reason
    assert ("screening:intake", "refused") in await history_events(handle, "screening")
    assert "deal:refused" in harness.email_steps(handle.id)
    row = get_registration(harness.settings, deal.deal_number)
    assert row is not None and row.status == "embargoed"


async def test_review_deadline_reminds_and_escalates_to_the_sales_managers(
    harness: Harness,
) -> None:
    handle = await harness.start_deal()
    await pending(handle, "review_deal")
    await harness.env.sleep(timedelta(days=6))
    events = await history_once(handle, "review_deal", "escalated")
    assert ("review_deal", "reminded") in events and ("review_deal", "escalated") in events
    assert await attribute_is(handle, STAGE, "in_review:escalated")
    assert {"review_deal:reminder:1", "review_deal:escalation"} <= set(
        await harness.emailed(handle.id, "review_deal:reminder:1", "review_deal:escalation")
    )


async def test_unanswered_question_reminds_the_partner_by_email(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    await pending(handle, "review_deal")
    await handle.signal(
        "review_deal",
        {"reviewer": "sm@mattermost.com", "decision": "request_information", "question": "Budget?"},
    )
    await pending(handle, "provide_deal_information")
    await harness.env.sleep(timedelta(days=10))
    question = "deal:provide_deal_information:1"
    await harness.emailed(handle.id, f"{question}:reminder:1", f"{question}:escalation")
    mails = {m.step: m for m in harness.emails(handle.id)}
    reminder = mails["deal:provide_deal_information:1:reminder:1"]
    escalation = mails["deal:provide_deal_information:1:escalation"]
    assert deal.partner.contact.email in reminder.to_addrs and "Budget?" in reminder.text_body
    assert deal.partner.contact.email in escalation.to_addrs
    assert await attribute_is(handle, STAGE, "information_requested:escalated")
    # Mattermost's partner hears from Mattermost only, and never of the internal tools.
    assert assert_program_mail(harness.settings, "mattermost", harness.emails(handle.id)) >= 2
    await handle.signal(
        "provide_deal_information", {"answered_by": "lena@x.example", "answer": "Approved for Q1"}
    )
    await pending(handle, "review_deal")


async def test_the_deal_mirrors_the_child_orders_invoice_while_it_runs(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    quote_task = await approve(handle)
    await handle.signal("submit_quotation", quote_task["example"])
    await handle.signal("sign_agreement", (await pending(handle, "sign_quotation"))["example"])
    await handle.signal(
        "submit_purchase_order", (await pending(handle, "submit_purchase_order"))["example"]
    )
    child = harness.child(deal.deal_number)
    for task in ("accept_terms", "review_license"):
        await child.signal(task, (await pending(child, task))["example"])
    await pending(child, "record_payment")
    await attribute_is(handle, INVOICE_STAGE, "open")  # pushed by the child
    assert (
        await search_attribute(handle, AMOUNT_DUE_CENTS) == quote_task["example"]["net_price_cents"]
    )
    facts = (await status(handle))["facts"]
    assert facts["order"]["stage"] == "invoiced" and facts["order"]["pending_tasks"] == [
        "record_payment"
    ]
    assert facts["invoice_stage"] == "open" and facts["order"]["invoice_number"]


async def test_unsigned_quotation_expires_and_frees_the_opportunity(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    quote_task = await approve(handle)
    await handle.signal("submit_quotation", quote_task["example"])
    await pending(handle, "sign_quotation")
    result = await handle.result()
    assert result.outcome == "quotation_expired"
    assert ("sign_quotation", "expired") in await history_events(handle, "sign_quotation")
    assert {
        "sign_quotation:reminder:1",
        "sign_quotation:reminder:2",
        "deal:quotation_expired",
    } <= set(harness.email_steps(handle.id))
    assert not [c for c in list_claims(harness.settings) if c.deal_number == deal.deal_number]


async def test_purchase_order_must_name_the_quotations_license_contact(harness: Harness) -> None:
    deal = deal_input()
    handle = await harness.start_deal(deal)
    quote_task = await approve(handle)
    licenses = "licenses@hanse-logistik.example"  # not the registration's contact
    await handle.signal(
        "submit_quotation", {**quote_task["example"], "license_contact_email": licenses}
    )
    await handle.signal("sign_agreement", (await pending(handle, "sign_quotation"))["example"])
    po_task = await pending(handle, "submit_purchase_order")
    example = po_task["example"]
    assert example["end_customer"]["contact"]["email"] == licenses
    told = {m.step: m for m in harness.emails(handle.id)}["deal:quotation_signed"]
    assert f"the contact's email must be {licenses}" in told.text_body
    other = str(deal.end_customer.contact.email)
    wrong = {
        **example,
        "end_customer": {**example["end_customer"], "contact": {"name": "J. W.", "email": other}},
    }
    before = await status(handle)
    await handle.signal("submit_purchase_order", wrong)
    await eventually(lambda: _has_rejection(handle, "submit_purchase_order", licenses))
    after = await status(handle)
    [rejection] = after["history"][len(before["history"]) :]
    [error] = rejection["detail"]["errors"]
    assert error["field"] == "end_customer.contact.email"
    assert f"contact {other} is not the license contact {licenses}" in error["message"]
    assert (after["stage"], after["pending_tasks"]) == (before["stage"], before["pending_tasks"])
    assert "order" not in after["facts"]

    await handle.signal("submit_purchase_order", example)  # the quotation's contact: accepted
    child = harness.child(deal.deal_number)
    for task in ("accept_terms", "review_license"):
        await child.signal(task, (await pending(child, task))["example"])
    await harness.emailed(child.id, "license:issued")
    mails = {m.step: m for m in harness.emails(child.id)}
    assert mails["license:issued"].to_addrs.startswith(f"{licenses}; cc: ")  # the reseller cc
    assert licenses in mails["acceptance:request"].to_addrs
