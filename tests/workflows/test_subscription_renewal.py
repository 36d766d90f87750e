"""SubscriptionRenewal on the time-skipping server: a year of a subscription in seconds.

Every order that issues a license starts its term's renewal (`renewal-{order_id}-1`); the
tests drive the order to its license, then let time run to the reminders, the renewal order
(a child `OrderFulfillment` whose license starts exactly at the old expiry) or the lapse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.partners import PartnerActivities
from models.forms import FORMS
from models.settings import Settings
from models.tables import EmailRow, InvoiceRow, LicenseRow, SubscriptionRow
from starters.intake import submit_form
from tests.eventually import eventually
from tests.factories import partner_record
from tests.workflows.harness import (
    Harness,
    drive_to_invoice,
    pending,
    status,
    uid,
    workflow_harness,
)

RESELLER_EMAIL = "jonas.weber@nordlicht.example"
CUSTOMER_EMAIL = "anna.schmidt@stadtwerke-kiel.example"
REMINDERS = ["renewal:reminder:90", "renewal:reminder:60", "renewal:reminder:30"]


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


def partner(settings: Settings, status: str = "active") -> str:
    partner_id = f"P-{uid()}"
    PartnerActivities(settings).upsert_partner(partner_record(partner_id, status=status))
    return partner_id


async def licensed_order(h: Harness, partner_id: str) -> tuple[WorkflowHandle, WorkflowHandle]:
    """An order driven to its paid invoice; its renewal (term 1) once started."""
    order = await h.start_order(reseller={"partner_id": partner_id})
    payment = await drive_to_invoice(order)
    await order.signal("record_payment", payment["example"])
    # Waiting for the order's result would let time skip (to the renewal window, say): the
    # paid stage is waited for instead, with the clock held.
    await eventually(lambda: _stage_is(order, "paid"), what="the order paid", timeout=20.0)
    order_id = order.id.removeprefix("order-")
    renewal = h.handle(f"renewal-{order_id}-1")
    await eventually(lambda: subscription(h, order_id, 1), what="term 1 recorded")
    return order, renewal


async def _stage_is(handle: WorkflowHandle, stage: str) -> bool:
    return (await status(handle))["stage"] == stage


def subscription(h: Harness, subscription_id: str, term: int) -> SubscriptionRow | None:
    rows = h.rows(SubscriptionRow, subscription_id=subscription_id, term=term)
    return rows[0] if rows else None


async def sleep_until(h: Harness, at: datetime) -> None:
    now = await h.env.get_current_time()
    if at > now:
        await h.env.sleep(at - now)


def sent(h: Harness, workflow_id: str, step: str) -> EmailRow:
    [row] = [r for r in h.emails(workflow_id) if r.step == step]
    return row


async def refused(handle: WorkflowHandle, payload: dict[str, Any]) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update("renew", payload)
    return str(failed.value.cause)


async def test_reminded_at_90_60_30_days_then_renewed_without_a_gap(
    harness: Harness, settings: Settings
) -> None:
    h = harness
    partner_id = partner(settings)
    order, renewal = await licensed_order(h, partner_id)
    order_id = order.id.removeprefix("order-")
    [first_license] = h.rows(LicenseRow, order.id)
    term = subscription(h, order_id, 1)
    assert term is not None and term.status == "active" and term.value_cents == 500_000
    assert term.expires_at == first_license.expires_at
    expires_at = datetime.fromisoformat((await status(renewal))["facts"]["expires_at"])

    # Before the window opens (90 days before expiry), there is nothing to renew.
    assert "not pending" in await refused(renewal, {"decided_by": RESELLER_EMAIL, "seats": 50})

    await sleep_until(h, expires_at - timedelta(days=20))
    assert set(REMINDERS) <= set(await h.emailed(renewal.id, *REMINDERS))
    for step in REMINDERS:
        email = sent(h, renewal.id, step)
        assert RESELLER_EMAIL in email.to_addrs and CUSTOMER_EMAIL not in email.to_addrs
    task = await pending(renewal, "renew_subscription")
    assert task["example"] == {"decided_by": RESELLER_EMAIL, "seats": 50}

    # Validator refusals name the field; nothing is recorded.
    assert "seats" in await refused(renewal, {"decided_by": RESELLER_EMAIL, "seats": 0})
    assert "decided_by" in await refused(renewal, {"seats": 60})

    answer = await renewal.execute_update("renew", {"decided_by": RESELLER_EMAIL, "seats": 60})
    assert answer["decision"] == "renew" and answer["stage"] == "renewal_order"
    assert "not pending" in await refused(renewal, {"decided_by": RESELLER_EMAIL, "seats": 70})

    child = h.child(f"{order_id}-R2")
    payment = await drive_to_invoice(child)
    assert payment["example"]["amount_cents"] == 60 * 10_000
    await child.signal("record_payment", payment["example"])
    result = await renewal.result()
    assert result["outcome"] == "renewed" and result["renewal_order_id"] == f"{order_id}-R2"

    [second_license] = h.rows(LicenseRow, child.id)
    assert second_license.starts_at == first_license.expires_at  # no gap, no overlap
    assert second_license.users == 60
    assert second_license.expires_at - second_license.starts_at == timedelta(days=365)
    [invoice] = h.rows(InvoiceRow, child.id)
    assert invoice.customer_name == "Nordlicht IT GmbH"  # the reseller, as before
    done = subscription(h, order_id, 1)
    assert done is not None and done.status == "renewed"
    assert done.renewal_order_id == f"{order_id}-R2"
    h.handle(f"renewal-{order_id}-2")  # the next term's renewal, started by the child order
    nxt = await eventually(lambda: subscription(h, order_id, 2), what="term 2 recorded")
    assert nxt.status == "active" and nxt.value_cents == 600_000
    assert nxt.starts_at == done.expires_at


async def test_not_renewed_lapses_after_the_grace_period(
    harness: Harness, settings: Settings
) -> None:
    h = harness
    order, renewal = await licensed_order(h, partner(settings))
    order_id = order.id.removeprefix("order-")
    async with h.env.time_skipping_unlocked():  # the reminders, then the grace period
        result = await renewal.result()
    assert result["outcome"] == "lapsed"
    assert set(REMINDERS) <= set(h.email_steps(renewal.id))
    row = subscription(h, order_id, 1)
    assert row is not None and row.status == "lapsed"
    facts = (await status(renewal))["facts"]
    assert facts["grace_days"] == settings.renewal_grace_days
    assert facts["outcome"] == "lapsed"
    assert await h.env.get_current_time() >= datetime.fromisoformat(facts["lapses_at"])


async def test_after_the_reseller_left_the_renewal_goes_to_the_customer_directly(
    harness: Harness, settings: Settings
) -> None:
    h = harness
    partner_id = partner(settings)
    order, renewal = await licensed_order(h, partner_id)
    order_id = order.id.removeprefix("order-")
    expires_at = datetime.fromisoformat((await status(renewal))["facts"]["expires_at"])

    await sleep_until(h, expires_at - timedelta(days=80))
    await h.emailed(renewal.id, REMINDERS[0])
    assert RESELLER_EMAIL in sent(h, renewal.id, REMINDERS[0]).to_addrs
    PartnerActivities(settings).upsert_partner(partner_record(partner_id, status="removed"))

    await sleep_until(h, expires_at - timedelta(days=20))
    await h.emailed(renewal.id, *REMINDERS)
    for step in REMINDERS[1:]:
        email = sent(h, renewal.id, step)
        assert CUSTOMER_EMAIL in email.to_addrs and RESELLER_EMAIL not in email.to_addrs
        assert "no longer a Mattermost partner" in email.text_body
        assert "Temporal" not in email.text_body and "partnerflow" not in email.text_body

    # The customer renews through the renewal form, with the token of the reminder email.
    assert "subscription-renewal form" in sent(h, renewal.id, REMINDERS[2]).text_body
    form = FORMS["subscription-renewal"]
    payload = {"subscription_id": order_id, "term": 1, "decided_by": CUSTOMER_EMAIL, "seats": 50}
    forged = await submit_form(h.client, h.settings, form.name, payload)
    assert forged.status_code == 403  # no proof token: nothing is signalled
    proof = form.proof_token(h.settings, renewal.id)
    answer = await submit_form(h.client, h.settings, form.name, {**payload, "proof_token": proof})
    assert answer.status_code in (200, 202), answer.body
    child = h.child(f"{order_id}-R2")
    payment = await drive_to_invoice(child)
    [invoice] = h.rows(InvoiceRow, child.id)
    assert invoice.customer_name == "Stadtwerke Kiel AG"  # invoiced directly
    assert invoice.customer_email == CUSTOMER_EMAIL
    await child.signal("record_payment", payment["example"])
    result = await renewal.result()
    assert result["outcome"] == "renewed"
    facts = (await status(renewal))["facts"]
    assert facts["renewal_order"]["direct"] is True
