"""OrderFulfillment on the time-skipping server: weeks of deadlines run in milliseconds.

The worker runs the real activities with their local adapters (SQLite records, outbox,
local ledger, Ed25519 licenses) in a temporary data dir, so the tests check real effects.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.billing import BillingActivities
from activities.email import EmailActivities
from activities.partners import PartnerActivities
from models.contracts import EmailReceipt, EmailRequest, InvoiceInfo, InvoiceRequest
from models.settings import Settings
from models.tables import DecisionRow, InvoiceRow, LicenseRow
from tests.eventually import eventually
from tests.factories import partner_record
from tests.workflows import test_evaluation_license
from tests.workflows.harness import (
    EmbargoList,
    Harness,
    attribute_is,
    drive_to_invoice,
    embargo_mid_flight,
    escalated,
    pending,
    refusals,
    search_attribute,
    status,
    task_once,
    uid,
    workflow_harness,
)
from workers.main import activities_for
from workflows.search_attributes import INVOICE_STAGE, STAGE

ACCEPT = {
    "name": "Anna Schmidt",
    "title": "Head of IT",
    "email": "anna.schmidt@stadtwerke-kiel.example",
    "agreed": True,
}
APPROVE = {"reviewer": "license-desk@mattermost.com", "decision": "approve"}
# The order's parties in two countries, so that an embargo hits one of them: the end customer
# in Germany (the factory's), the reseller (the party invoiced) in the Netherlands.
RESELLER_NL = {"address": {"line1": "Keizersgracht 1", "city": "Amsterdam", "country": "NL"}}
EMBARGOED = {"end_customer": ("DE", "Germany"), "reseller": ("NL", "Netherlands")}


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def test_happy_path_to_paid_invoice(harness: Harness) -> None:
    handle = await harness.start_order()
    accept = await pending(handle, "accept_terms")
    assert accept["assignee"] == "end_customer" and accept["due_at"]
    assert accept["example"]["email"] == ACCEPT["email"]
    await handle.signal("accept_terms", accept["example"])
    review = await pending(handle, "review_license")
    await handle.signal("review_license", review["example"])
    payment = await pending(handle, "record_payment")
    assert payment["example"]["amount_cents"] == 50 * 10_000
    await handle.signal("record_payment", payment["example"])
    result = await handle.result()

    assert result.outcome == "paid"
    assert result.amount_cents == 500_000 and result.invoice_number and result.license_id
    facts = (await status(handle))["facts"]
    for point in ("intake", "before_license", "before_invoice"):  # both parties, each time
        assert facts[f"screening_{point}"]["party"] == "Stadtwerke Kiel AG"
        assert facts[f"screening_{point}_reseller"]["party"] == "Nordlicht IT GmbH"
        assert facts[f"screening_{point}_reseller"]["allowed"]
    assert facts["reseller_location"] == {"country": "DE", "subdivision": None, "source": "address"}
    wf = handle.id
    assert harness.email_steps(wf) == [
        "acceptance:request",
        "license:issued",
        "invoice:issued",
        "invoice:paid",
    ]
    [license_row] = harness.rows(LicenseRow, wf)
    assert license_row.users == 50 and license_row.customer == "Stadtwerke Kiel AG"
    [invoice] = harness.rows(InvoiceRow, wf)
    assert invoice.status == "paid" and invoice.amount_due_cents == 500_000
    assert invoice.due_at is not None and invoice.finalized_at is not None
    assert (invoice.due_at - invoice.finalized_at).days == 30
    decisions = {(d.step, d.decision) for d in harness.rows(DecisionRow, wf)}
    assert {
        ("terms_review", "accepted"),
        ("accept_terms", "accepted"),
        ("review_license", "approve"),
        ("invoice:pay", "pay"),
    } <= decisions
    assert await search_attribute(handle, INVOICE_STAGE) == "paid"
    assert await search_attribute(handle, STAGE) == "paid"


async def test_terms_never_accepted_expire_after_reminders(harness: Harness) -> None:
    handle = await harness.start_order()
    await pending(handle, "accept_terms")
    result = await handle.result()  # time skips through both reminders to the expiry
    assert result.outcome == "expired"
    assert harness.email_steps(handle.id) == [
        "acceptance:request",
        "acceptance:reminder:1",
        "acceptance:reminder:2",
        "acceptance:expired",
    ]
    assert harness.rows(LicenseRow, handle.id) == [] and harness.rows(InvoiceRow, handle.id) == []


async def test_acceptance_after_a_reminder_goes_on(harness: Harness) -> None:
    handle = await harness.start_order()
    await pending(handle, "accept_terms")
    await harness.env.sleep(timedelta(days=7))  # past the first reminder (3 business days)
    assert "acceptance:reminder:1" in await harness.emailed(handle.id, "acceptance:reminder:1")
    await task_once(handle, "accept_terms", lambda t: t["reminders_sent"] >= 1, "reminded")
    [task] = await handle.query("pending_tasks")
    assert task["reminders_sent"] >= 1
    await handle.signal("accept_terms", ACCEPT)
    await pending(handle, "review_license")
    status = await handle.query("status")
    assert status["stage"] == "license_review"


async def test_license_review_deadline_escalates(harness: Harness) -> None:
    handle = await harness.start_order()
    await handle.signal("accept_terms", (await pending(handle, "accept_terms"))["example"])
    await pending(handle, "review_license")
    await harness.env.sleep(timedelta(days=5))  # one business day, whatever the weekday
    task = await escalated(handle, "review_license")
    assert task["escalated"] is True and task["reminders_sent"] == 1
    assert {"review_license:reminder:1", "review_license:escalation"} <= set(
        await harness.emailed(handle.id, "review_license:reminder:1", "review_license:escalation")
    )
    assert await attribute_is(handle, STAGE, "license_review:escalated")
    await handle.signal("review_license", APPROVE)
    await pending(handle, "record_payment")


async def test_overdue_invoice_gets_notices_then_finance_marks_uncollectible(
    harness: Harness,
) -> None:
    handle = await harness.start_order()
    await drive_to_invoice(handle)
    await harness.env.sleep(timedelta(days=62))
    assert await attribute_is(handle, INVOICE_STAGE, "overdue")
    notices = [f"invoice:overdue:{n}" for n in range(1, 5)]
    steps = await harness.emailed(handle.id, "invoice:due_reminder", *notices)
    assert {
        "invoice:due_reminder",
        "invoice:overdue:1",
        "invoice:overdue:2",
        "invoice:overdue:3",
        "invoice:overdue:4",
    } <= set(steps)
    resolve = await pending(handle, "resolve_overdue_invoice")
    assert resolve["handler"] == "mark_uncollectible"
    await handle.signal("mark_uncollectible", resolve["example"])
    result = await handle.result()
    assert result.outcome == "uncollectible"
    [invoice] = harness.rows(InvoiceRow, handle.id)
    assert invoice.status == "uncollectible"
    assert "invoice:uncollectible" in harness.email_steps(handle.id)


async def test_finance_voids_the_invoice(harness: Harness) -> None:
    handle = await harness.start_order()
    await drive_to_invoice(handle)
    await handle.signal("void_invoice", {"decided_by": ""})  # invalid: named per field, no effect

    async def void_rejected() -> list[dict[str, Any]]:
        history = (await handle.query("status"))["history"]
        return [h for h in history if h["step"] == "void" and h["event"] == "rejected"]

    rejected = await eventually(void_rejected, what="the invalid void rejected")
    assert {e["field"] for e in rejected[0]["detail"]["errors"]} == {"decided_by", "reason"}
    await handle.signal(
        "void_invoice",
        {"decided_by": "finance@mattermost.com", "reason": "Order cancelled by the reseller"},
    )
    result = await handle.result()
    assert result.outcome == "void"
    [invoice] = harness.rows(InvoiceRow, handle.id)
    assert invoice.status == "void"
    assert await search_attribute(handle, INVOICE_STAGE) == "void"


async def test_stripe_style_paid_event_closes_the_invoice(harness: Harness) -> None:
    handle = await harness.start_order()
    await drive_to_invoice(handle)
    status = await handle.query("status")
    invoice_id = status["facts"]["invoice_id"]
    event = {
        "event_id": "evt_1",
        "type": "invoice.paid",
        "invoice_id": invoice_id,
        "status": "paid",
        "amount_paid_cents": 500_000,
    }
    await handle.signal("invoice_event", event)
    await handle.signal("invoice_event", event)  # replayed webhook: no second effect
    result = await handle.result()
    assert result.outcome == "paid"
    assert [
        h for h in (await handle.query("status"))["history"] if h["event"] == "invoice.paid"
    ].__len__() == 1


async def test_end_customer_purchase_order_is_refused(harness: Harness) -> None:
    handle = await harness.start_order(
        purchase_order={"number": "PO-C-1", "issued_by": "end_customer"}
    )
    result = await handle.result()
    assert result.outcome == "refused"
    assert "end-customer purchase orders" in (result.reason or "")
    assert harness.email_steps(handle.id) == ["order:refused"]
    [decision] = [d for d in harness.rows(DecisionRow, handle.id) if d.decision == "refused"]
    assert "end-customer" in decision.detail_json


async def test_custom_terms_are_refused(harness: Harness) -> None:
    handle = await harness.start_order(
        purchase_order={"number": "PO-C-2", "issued_by": "reseller", "custom_terms": "Net 90"}
    )
    result = await handle.result()
    assert result.outcome == "refused" and "custom terms" in (result.reason or "")


async def test_embargoed_customer_is_refused_at_intake(harness: Harness) -> None:
    handle = await harness.start_order(
        end_customer={
            "legal_name": "Empresa Ejemplo S.A.",
            "address": {"line1": "Calle 23", "city": "Havana", "country": "CU"},
            "contact": {"name": "Luis Perez", "email": "luis@example.com"},
        }
    )
    result = await handle.result()
    assert result.outcome == "embargoed" and "Cuba" in (result.reason or "")
    assert harness.email_steps(handle.id) == []
    assert any(d.step == "screening:intake" for d in harness.rows(DecisionRow, handle.id))


async def test_crimea_region_is_refused_by_subdivision(harness: Harness) -> None:
    handle = await harness.start_order(
        end_customer={
            "legal_name": "Example LLC",
            "address": {
                "line1": "1 Lenina St",
                "city": "Simferopol",
                "country": "UA",
                "subdivision": "UA-43",
            },
            "contact": {"name": "Ivan", "email": "ivan@example.com"},
        }
    )
    assert (await handle.result()).outcome == "embargoed"


@pytest.mark.parametrize("point", ["intake", "before_license", "before_invoice"])
@pytest.mark.parametrize("party", ["end_customer", "reseller"])
async def test_embargo_list_change_stops_the_order_at_each_screening(
    screened: tuple[Harness, EmbargoList], party: str, point: str
) -> None:
    harness, embargoes = screened
    code, name = EMBARGOED[party]
    if point == "intake":
        embargoes.embargo(code, name)
    handle = await harness.start_order(reseller=RESELLER_NL)
    if point != "intake":
        await embargo_mid_flight(handle, embargoes, point, code, name)
    result = await handle.result()

    assert result.outcome == "embargoed" and name in (result.reason or "")
    screened_party = "Stadtwerke Kiel AG" if party == "end_customer" else "Nordlicht IT GmbH"
    step = f"screening:{point}" if party == "end_customer" else f"screening:{point}:reseller"
    [refusal] = await refusals(handle)
    assert refusal["step"] == step and refusal["detail"]["reason"] == result.reason
    assert refusal["detail"]["party"] == screened_party
    assert refusal["detail"]["program"] == EmbargoList.program(name)
    if party == "reseller":
        assert (result.reason or "").startswith("the reseller Nordlicht IT GmbH: Netherlands")
        assert refusal["detail"]["role"] == "reseller"
    [decision] = [d for d in harness.rows(DecisionRow, handle.id) if d.decision == "refused"]
    assert decision.step == step and screened_party in decision.detail_json
    # The step stopped: no license before it, no invoice after it.
    licensed = point == "before_invoice"
    assert (result.license_id is not None) == licensed and result.invoice_id is None
    assert len(harness.rows(LicenseRow, handle.id)) == int(licensed)
    assert harness.rows(InvoiceRow, handle.id) == []
    expected = {
        "intake": [],
        "before_license": ["acceptance:request"],
        "before_invoice": ["acceptance:request", "license:issued"],
    }
    assert harness.email_steps(handle.id) == expected[point]


async def test_reseller_without_an_address_is_screened_by_its_partner_record(
    screened: tuple[Harness, EmbargoList], settings: Settings
) -> None:
    harness, embargoes = screened
    partner_id = test_evaluation_license.partner(settings)  # on record in Germany
    embargoes.embargo("DE", "Germany")
    handle = await harness.start_order(
        reseller={"partner_id": partner_id, "address": None},
        end_customer={"address": RESELLER_NL["address"]},  # the customer outside Germany
    )
    result = await handle.result()
    assert result.outcome == "embargoed" and "Germany" in (result.reason or "")
    facts = (await status(handle))["facts"]
    assert facts["reseller_location"] == {
        "country": "DE",
        "subdivision": None,
        "source": "partner record",
    }
    assert [r["step"] for r in await refusals(handle)] == ["screening:intake:reseller"]


async def test_reseller_that_cannot_be_located_is_refused_at_intake(harness: Harness) -> None:
    handle = await harness.start_order(reseller={"partner_id": f"P-{uid()}", "address": None})
    result = await handle.result()
    assert result.outcome == "refused"
    assert "Nordlicht IT GmbH (the party invoiced) cannot be screened" in (result.reason or "")
    assert [r["step"] for r in await refusals(handle)] == ["screening:intake:reseller"]
    assert harness.email_steps(handle.id) == ["order:refused"]
    assert harness.rows(LicenseRow, handle.id) == []


async def test_invalid_signal_input_is_rejected_and_changes_nothing(harness: Harness) -> None:
    handle = await harness.start_order()
    await pending(handle, "accept_terms")
    before = await handle.query("status")
    await handle.signal("accept_terms", {"name": "", "email": "not-an-email"})
    await handle.signal("review_license", APPROVE)  # not pending yet
    await handle.signal("record_payment", "not even an object")

    async def three_more() -> dict[str, Any] | None:
        after = await handle.query("status")
        return after if len(after["history"]) >= len(before["history"]) + 3 else None

    after = await eventually(three_more, what="the three invalid signals recorded")
    rejected = after["history"][len(before["history"]) :]
    assert [h["event"] for h in rejected] == ["rejected", "rejected", "rejected"]
    fields = {e["field"] for e in rejected[0]["detail"]["errors"]}
    assert {"name", "email", "agreed"} <= fields
    assert "not pending" in rejected[1]["detail"]["reason"]
    assert after["stage"] == before["stage"] == "awaiting_acceptance"
    assert after["pending_tasks"] == before["pending_tasks"]
    # the workflow goes on: a valid acceptance still works
    await handle.signal("accept_terms", ACCEPT)
    await pending(handle, "review_license")


def _crash_after_effect(
    real: Callable[..., Any], name: str, calls: dict[str, int]
) -> Callable[..., Any]:
    """An activity that does the real work, then dies before reporting it (first attempt)."""

    def crashing(request: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        result = real(request)
        if activity.info().attempt == 1:
            raise RuntimeError(f"simulated crash after {name} took effect")
        return result

    crashing.__annotations__ = dict(real.__annotations__)
    return activity.defn(name=name)(crashing)


async def test_retried_activities_send_no_second_email_and_no_second_invoice(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    calls: dict[str, int] = {}
    email = EmailActivities(settings)
    billing = BillingActivities(settings)
    acts = [
        a for a in activities_for(settings) if a.__name__ not in ("send_email", "create_invoice")
    ]

    def send_email(request: EmailRequest) -> EmailReceipt:
        return email.send_email(request)

    def create_invoice(request: InvoiceRequest) -> InvoiceInfo:
        return billing.create_invoice(request)

    acts += [
        _crash_after_effect(send_email, "send_email", calls),
        _crash_after_effect(create_invoice, "create_invoice", calls),
    ]
    async with workflow_harness(time_skipping_env, settings, acts) as h:
        handle = await h.start_order()
        await drive_to_invoice(handle)
        payment = await pending(handle, "record_payment")
        await handle.signal("record_payment", payment["example"])
        assert (await handle.result()).outcome == "paid"
        steps = h.email_steps(handle.id)
        assert steps == ["acceptance:request", "license:issued", "invoice:issued", "invoice:paid"]
        assert len(h.rows(InvoiceRow, handle.id)) == 1
        assert calls["send_email"] == 2 * len(steps)  # every send was retried once
        assert calls["create_invoice"] == 2


async def test_permanently_refused_email_is_recorded_and_the_order_goes_on(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    from temporalio.exceptions import ApplicationError

    email = EmailActivities(settings)

    @activity.defn(name="send_email")
    def send_email(request: EmailRequest) -> EmailReceipt:
        if request.step == "acceptance:request":
            raise ApplicationError(
                "SendGrid answered 400: invalid recipient", type="EmailRejected", non_retryable=True
            )
        return email.send_email(request)

    acts = [a for a in activities_for(settings) if a.__name__ != "send_email"] + [send_email]
    async with workflow_harness(time_skipping_env, settings, acts) as h:
        handle = await h.start_order()
        await pending(handle, "accept_terms")

        async def refusal_recorded() -> dict[str, Any] | None:
            # the task opens before its email is sent: wait for the send's outcome
            status = await handle.query("status")
            return status if status["facts"].get("email_failures") else None

        status = await eventually(refusal_recorded, what="the refused email recorded")
        [failure] = [e for e in status["history"] if e["event"] == "email_failed"]
        assert (
            failure["step"] == "acceptance:request"
            and "invalid recipient" in failure["detail"]["reason"]
        )
        assert status["facts"]["email_failures"][0]["step"] == "acceptance:request"
        await handle.signal("accept_terms", ACCEPT)  # an operator with the customer's consent
        await pending(handle, "review_license")


async def test_late_stripe_events_after_paid_change_nothing(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Issue 16: `invoice.paid`, then a retried `invoice.payment_failed` and
    `invoice.finalized` (Stripe's delivery order is not the order of events). The three
    arrive while the `invoice:issued` email is held, so they are all handled before the
    order follows the invoice: the invoice stays paid and no overdue notice goes out."""
    email = EmailActivities(settings)
    held, release = threading.Event(), threading.Event()

    @activity.defn(name="send_email")
    def send_email(request: EmailRequest) -> EmailReceipt:
        if request.step == "invoice:issued":
            held.set()
            release.wait(timeout=30)
        return email.send_email(request)

    acts = [a for a in activities_for(settings) if a.__name__ != "send_email"] + [send_email]
    async with workflow_harness(time_skipping_env, settings, acts) as h:
        handle = await h.start_order()
        try:
            for task in ("accept_terms", "review_license"):
                await h.complete(handle, task)
            await eventually(held.is_set, what="the invoice:issued email held")
            invoice_id = (await handle.query("status"))["facts"]["invoice_id"]
            late = [
                ("evt_paid", "invoice.paid", "paid", 500_000),
                ("evt_failed_retry", "invoice.payment_failed", "open", 0),
                ("evt_finalized_retry", "invoice.finalized", "open", 0),
            ]
            for event_id, kind, stripe_status, paid_cents in late:
                await handle.signal(
                    "invoice_event",
                    {
                        "event_id": event_id,
                        "type": kind,
                        "invoice_id": invoice_id,
                        "status": stripe_status,
                        "amount_paid_cents": paid_cents,
                    },
                )

            async def all_three_handled() -> list[dict[str, Any]]:
                history = (await handle.query("status"))["history"]
                seen = [h for h in history if h["step"] == "invoice"]
                return seen if len(seen) == 3 else []

            await eventually(all_three_handled, what="the three invoice events handled")
        finally:
            release.set()
        result = await handle.result()
        assert result.outcome == "paid"
        await h.env.sleep(timedelta(days=45))  # past the due date and two overdue notices
        assert h.email_steps(handle.id) == [
            "acceptance:request",
            "license:issued",
            "invoice:issued",
            "invoice:paid",
        ]
        assert await search_attribute(handle, INVOICE_STAGE) == "paid"
        state = await handle.query("status")
        assert state["facts"]["invoice_stage"] == "paid"
        invoice = [(e["event"], e["detail"]) for e in state["history"] if e["step"] == "invoice"]
        assert [(event, detail["event_id"]) for event, detail in invoice] == [
            ("invoice.paid", "evt_paid"),
            ("ignored", "evt_failed_retry"),
            ("ignored", "evt_finalized_retry"),
        ]
        for _, detail in invoice[1:]:
            assert detail["stage"] == "paid" and "paid" in detail["reason"]


async def test_a_var_suspended_before_the_license_gets_no_license_or_invoice(
    harness: Harness, settings: Settings
) -> None:
    """The partner record is checked again once the license review approves: a Value-Added
    Reseller suspended since the intake gets neither the license nor the invoice."""
    partner_id = test_evaluation_license.partner(settings)
    handle = await harness.start_order(
        channel="value_added_reseller", reseller={"partner_id": partner_id}
    )
    await handle.signal("accept_terms", (await pending(handle, "accept_terms"))["example"])
    review = await pending(handle, "review_license")
    PartnerActivities(settings).upsert_partner(
        partner_record(partner_id, status="suspended", at=datetime.now(UTC))
    )
    await handle.signal("review_license", review["example"])
    result = await handle.result()
    assert result.outcome == "refused" and "is suspended, no longer an active partner" in (
        result.reason or ""
    )
    assert [r["step"] for r in await refusals(handle)] == ["partner_check:before_license"]
    assert harness.rows(LicenseRow, handle.id) == [] and harness.rows(InvoiceRow, handle.id) == []
    assert harness.email_steps(handle.id) == ["acceptance:request", "order:refused"]
