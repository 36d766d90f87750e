"""AuthorizedResale on the time-skipping server: outreach, approval, click-signed agreement,
purchase order and the child OrderFulfillment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.agreements import get_agreement
from models.settings import Settings
from tests.eventually import eventually
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
from workflows.search_attributes import INVOICE_STAGE, STAGE

CUSTOMER = {
    "legal_name": "Tallinna Sadam AS",
    "address": {"line1": "Sadama 25", "city": "Tallinn", "postal_code": "15051", "country": "EE"},
    "contact": {"name": "Kadri Kask", "email": "kadri.kask@ts.example"},
}


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def to_purchase_order(handle) -> dict:  # type: ignore[no-untyped-def]
    outreach = await pending(handle, "reach_out")
    assert outreach["assignee"] == "partner_manager" and outreach["due_at"]
    await handle.signal(outreach["handler"], outreach["example"])
    decide = await pending(handle, "approve_resale")
    await handle.signal(
        "decide_resale", {"approver": "sm@mattermost.com", "decision": "approve"}
    )  # no lines
    await handle.signal(decide["handler"], decide["example"])
    sign = await pending(handle, "sign_reseller_agreement")
    assert sign["assignee"] == "partner"
    await handle.signal("sign_agreement", sign["example"])
    return await pending(handle, "submit_purchase_order")


async def _rejected(handle, text: str) -> bool:  # type: ignore[no-untyped-def]
    return any(
        h["step"] == "submit_purchase_order"
        and h["event"] == "rejected"
        and text in str(h["detail"])
        for h in (await status(handle))["history"]
    )


async def test_resale_happy_path_to_paid_invoice(harness: Harness) -> None:
    handle = await harness.start_resale()
    po = await to_purchase_order(handle)
    facts = (await status(handle))["facts"]
    agreement = get_agreement(
        harness.settings, facts["sign_reseller_agreement_agreement"]["agreement_id"]
    )
    assert agreement is not None and agreement.status == "signed"
    assert (
        "Tallinna Sadam AS" in agreement.text
        and "100 × Mattermost Enterprise, 1 year" in agreement.text
    )
    await handle.signal("submit_purchase_order", {**po["example"], "end_customer": CUSTOMER})
    request_id = handle.id.removeprefix("resale-")
    await pay_child(harness, f"RS-{request_id}")
    result = await handle.result()
    assert result.outcome == "paid" and result.invoice_number
    assert await search_attribute(handle, INVOICE_STAGE) == "paid"
    assert await search_attribute(handle, STAGE) == "paid"
    child = await harness.client.get_workflow_handle(f"order-RS-{request_id}").result()
    assert child["amount_cents"] == 100 * 12_000
    steps = set(harness.email_steps(handle.id))
    assert {
        "resale:received",
        "sign_reseller_agreement:request",
        "resale:agreement_signed",
        "resale:ordered",
    } <= steps


async def test_refused_purchase_orders_name_the_reason(harness: Harness) -> None:
    handle = await harness.start_resale()
    po = await to_purchase_order(handle)
    missing = {
        **po["example"],
        "end_customer": {"legal_name": "Tallinna Sadam AS", "contact": CUSTOMER["contact"]},
    }
    await handle.signal("submit_purchase_order", missing)
    await eventually(lambda: _rejected(handle, "end_customer.address"))
    await handle.signal(
        "submit_purchase_order",
        {**po["example"], "end_customer": CUSTOMER, "issued_by": "end_customer"},
    )
    await eventually(lambda: _rejected(handle, "end-customer purchase orders"))
    await handle.signal(
        "submit_purchase_order",
        {**po["example"], "end_customer": CUSTOMER, "custom_terms": "Net 90"},
    )
    await eventually(lambda: _rejected(handle, "custom terms"))
    await handle.signal(
        "submit_purchase_order",
        {**po["example"], "end_customer": {**CUSTOMER, "legal_name": "Someone Else OÜ"}},
    )
    await eventually(lambda: _rejected(handle, "is not the customer of this resale"))
    st = await status(handle)
    assert st["stage"] == "awaiting_purchase_order" and [
        t["task"] for t in st["pending_tasks"]
    ] == ["submit_purchase_order"]


async def test_resale_rejected_with_reason(harness: Harness) -> None:
    handle = await harness.start_resale()
    outreach = await pending(handle, "reach_out")
    await handle.signal(outreach["handler"], outreach["example"])
    await pending(handle, "approve_resale")
    await handle.signal(
        "decide_resale", {"approver": "sm@mattermost.com", "decision": "reject"}
    )  # no reason
    await handle.signal(
        "decide_resale",
        {
            "approver": "sm@mattermost.com",
            "decision": "reject",
            "reason": "The customer can buy direct",
        },
    )
    result = await handle.result()
    assert result.outcome == "rejected" and result.reason == "The customer can buy direct"
    assert ("approve_resale", "rejected") in await history_events(handle, "approve_resale")
    assert "resale:rejected" in harness.email_steps(handle.id)


async def test_outreach_is_reminded_and_escalated(harness: Harness) -> None:
    handle = await harness.start_resale()
    await pending(handle, "reach_out")
    await harness.env.sleep(timedelta(days=7))  # skips time on the test server
    events = await history_once(handle, "reach_out", "escalated")
    assert ("reach_out", "reminded") in events and ("reach_out", "escalated") in events
    assert await attribute_is(handle, STAGE, "outreach:escalated")


async def test_embargoed_end_customer_is_refused_first(harness: Harness) -> None:
    handle = await harness.start_resale(
        end_customer_name="Pyongyang Trading", end_customer_country="KP"
    )
    result = await handle.result()
    assert result.outcome == "embargoed"
    st = await status(handle)
    assert st["pending_tasks"] == [] and ("screening:intake", "refused") in [
        (h["step"], h["event"]) for h in st["history"]
    ]
    assert harness.email_steps(handle.id) == ["resale:refused"]


async def test_unsigned_agreement_expires(harness: Harness) -> None:
    handle = await harness.start_resale()
    await handle.signal("record_outreach", (await pending(handle, "reach_out"))["example"])
    await handle.signal("decide_resale", (await pending(handle, "approve_resale"))["example"])
    await pending(handle, "sign_reseller_agreement")
    result = await handle.result()
    assert result.outcome == "agreement_expired"
    assert "resale:agreement_expired" in harness.email_steps(handle.id)
