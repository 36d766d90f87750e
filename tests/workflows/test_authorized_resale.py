"""AuthorizedResale on the time-skipping server: outreach, approval, click-signed agreement,
purchase order and the child OrderFulfillment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.agreements import get_agreement
from models.settings import Settings
from tests.eventually import eventually
from tests.workflows.harness import (
    EmbargoList,
    Harness,
    attribute_is,
    embargo_mid_flight,
    history_events,
    history_once,
    pay_child,
    pending,
    refusals,
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
# A reseller in Latvia, so that an embargo hits either it or the end customer in Estonia.
RESELLER_LV = {
    "company": "Riga Procurement SIA",
    "contact": {"name": "Anna Berzina", "email": "anna.berzina@riga-procurement.example"},
    "address": {"line1": "Brivibas iela 1", "city": "Riga", "country": "LV"},
}
EMBARGOED = {"end_customer": ("EE", "Estonia"), "reseller": ("LV", "Latvia")}


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


async def test_embargoed_reseller_is_refused_at_intake(harness: Harness) -> None:
    reseller = {**RESELLER_LV, "address": {"line1": "Calle 23", "city": "Havana", "country": "CU"}}
    handle = await harness.start_resale(reseller=reseller)
    result = await handle.result()
    assert result.outcome == "embargoed"
    assert (result.reason or "").startswith("the reseller Riga Procurement SIA: Cuba")
    st = await status(handle)
    assert st["facts"]["screening_intake"]["allowed"]  # the end customer passed
    [refusal] = await refusals(handle)
    assert refusal["step"] == "screening:intake:reseller"
    assert refusal["detail"]["party"] == "Riga Procurement SIA"
    assert "Cuban Assets Control Regulations" in refusal["detail"]["program"]
    assert st["pending_tasks"] == [] and harness.email_steps(handle.id) == ["resale:refused"]


async def test_reseller_that_cannot_be_located_is_refused_at_intake(harness: Harness) -> None:
    reseller = {k: v for k, v in RESELLER_LV.items() if k != "address"}
    handle = await harness.start_resale(reseller=reseller)
    result = await handle.result()
    assert result.outcome == "refused"
    assert "Riga Procurement SIA (the party invoiced) cannot be screened" in (result.reason or "")
    assert "no partner id" in (result.reason or "")
    assert [r["step"] for r in await refusals(handle)] == ["screening:intake:reseller"]
    assert harness.email_steps(handle.id) == ["resale:refused"]


@pytest.mark.parametrize("point", ["intake", "before_license", "before_invoice"])
@pytest.mark.parametrize("party", ["end_customer", "reseller"])
async def test_embargo_list_change_stops_the_resale_order_at_each_screening(
    screened: tuple[Harness, EmbargoList], party: str, point: str
) -> None:
    """The resale's intake passed; the list changes later, and the child order's screening
    at `point` stops it: the reason reaches the resale's outcome."""
    harness, embargoes = screened
    code, name = EMBARGOED[party]
    handle = await harness.start_resale(reseller=RESELLER_LV)
    po = await to_purchase_order(handle)
    if point == "intake":  # changed while the purchase order was awaited
        embargoes.embargo(code, name)
    await handle.signal("submit_purchase_order", {**po["example"], "end_customer": CUSTOMER})
    child = harness.child(f"RS-{handle.id.removeprefix('resale-')}")
    if point != "intake":
        await embargo_mid_flight(child, embargoes, point, code, name)
    result = await handle.result()

    assert result.outcome == "embargoed" and name in (result.reason or "")
    step = f"screening:{point}" if party == "end_customer" else f"screening:{point}:reseller"
    [refusal] = await refusals(child)
    assert refusal["step"] == step and refusal["detail"]["reason"] == result.reason
    assert refusal["detail"]["program"] == EmbargoList.program(name)
    if party == "reseller":
        assert refusal["detail"]["party"] == "Riga Procurement SIA"
        assert (result.reason or "").startswith("the reseller Riga Procurement SIA: Latvia")
    assert ("order", "embargoed") in await history_events(handle, "order")
    order = (await status(handle))["facts"]["order"]
    assert (order["license_id"] is not None) == (point == "before_invoice")
    assert result.invoice_number is None and order["invoice_number"] is None


async def test_unsigned_agreement_expires(harness: Harness) -> None:
    handle = await harness.start_resale()
    await handle.signal("record_outreach", (await pending(handle, "reach_out"))["example"])
    await handle.signal("decide_resale", (await pending(handle, "approve_resale"))["example"])
    await pending(handle, "sign_reseller_agreement")
    result = await handle.result()
    assert result.outcome == "agreement_expired"
    assert "resale:agreement_expired" in harness.email_steps(handle.id)
