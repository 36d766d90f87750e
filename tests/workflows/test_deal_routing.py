"""DealRegistration routed by the partner record (seed: "Resellers collaborate with the Sales
Manager"): the review and the quotation reach the partner's Sales Manager, older partners
without one keep the role, and a deal outside the agreement's territory or industries is
flagged to the reviewer with the facts of both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from activities.partners import PartnerActivities
from models.settings import Settings
from tests.factories import deal_input, partner_record
from tests.workflows.harness import (
    Harness,
    history_events,
    history_once,
    pending,
    search_attribute,
    status,
    workflow_harness,
)
from workflows.search_attributes import ASSIGNEE

SAM = {"name": "Sam Rivera", "email": "sam.rivera@mattermost.com"}
AGREEMENT = {"territory": ["DE", "AT", "CH"], "industries": ["public sector", "manufacturing"]}
ROLE_ADDRESS = "partners@mattermost.com"  # role:sales_manager of the Mattermost program


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


def var(settings: Settings, **attributes: Any) -> str:
    """An active VAR on record, with these attributes (as the VAR application writes them)."""
    partner_id = f"nordlicht-{uuid.uuid4().hex[:6]}"
    PartnerActivities(settings).upsert_partner(partner_record(partner_id, attributes=attributes))
    return partner_id


def deal_of(partner_id: str, *, country: str = "DE", industry: str | None = None) -> Any:
    return deal_input(
        partner={"partner_id": partner_id},
        end_customer={
            "address": {"line1": "Main Street 1", "city": "Somewhere", "country": country}
        },
        industry=industry,
    )


async def withdraw(handle: Any) -> None:  # ends the run, so its history is recorded
    await handle.signal("withdraw", {"withdrawn_by": "lena@x.example", "reason": "test over"})
    assert (await handle.result()).outcome == "withdrawn"


async def test_review_and_quotation_reach_the_partners_sales_manager(harness: Harness) -> None:
    partner_id = var(harness.settings, sales_manager=SAM, **AGREEMENT)
    handle = await harness.start_deal(deal_of(partner_id, industry="Public-Sector"))
    review = await pending(handle, "review_deal")
    assert review["assigned_to"] == SAM["email"] and review["assignee"] == "sales_manager"
    assert review["example"]["reviewer"] == SAM["email"]
    # Inside the agreement (the industry compared without case or punctuation): not flagged.
    assert not review["description"].startswith("OUTSIDE")
    facts = (await status(handle))["facts"]
    assert facts["sales_manager"] == SAM
    assert facts["agreement"]["flagged"] is False and facts["agreement"]["country"] == "DE"
    assert not await history_events(handle, "screening:outside_agreement")
    # The search attribute keeps the role: no person's address outside the encrypted payloads.
    assert await search_attribute(handle, ASSIGNEE) == ["sales_manager"]

    await harness.env.sleep(timedelta(days=6))
    await history_once(handle, "review_deal", "escalated")
    await harness.emailed(handle.id, "review_deal:reminder:1", "review_deal:escalation")
    mails = {m.step: m for m in harness.emails(handle.id)}
    reminder, escalation = mails["review_deal:reminder:1"], mails["review_deal:escalation"]
    assert reminder.to_addrs == SAM["email"] and reminder.template == "task_reminder"
    assert f"sales_manager ({SAM['email']})" in reminder.text_body
    assert SAM["email"] in escalation.to_addrs and ROLE_ADDRESS in escalation.to_addrs

    await handle.signal("review_deal", review["example"])
    quote = await pending(handle, "submit_quotation")
    assert quote["assigned_to"] == SAM["email"] and quote["example"]["prepared_by"] == SAM["email"]
    # The protection reminder (14 days before it ends) copies the Sales Manager, not the role.
    await harness.env.sleep(timedelta(days=77))
    await harness.emailed(handle.id, "deal:protection_reminder")
    [protection] = [m for m in harness.emails(handle.id) if m.step == "deal:protection_reminder"]
    assert protection.to_addrs.endswith(f"; cc: {SAM['email']}")
    await withdraw(handle)


async def test_without_a_sales_manager_on_record_the_role_has_the_review(
    harness: Harness,
) -> None:
    partner_id = var(harness.settings, **AGREEMENT)  # an older partner: no Sales Manager
    handle = await harness.start_deal(deal_of(partner_id))
    review = await pending(handle, "review_deal")
    assert review["assigned_to"] is None and review["assignee"] == "sales_manager"
    assert review["example"]["reviewer"] == "sales-manager@mattermost.com"
    assert (await status(handle))["facts"]["sales_manager"] is None
    await harness.env.sleep(timedelta(days=6))
    await harness.emailed(handle.id, "review_deal:reminder:1")
    [reminder] = [m for m in harness.emails(handle.id) if m.step == "review_deal:reminder:1"]
    assert reminder.to_addrs == ROLE_ADDRESS and SAM["email"] not in reminder.text_body
    await handle.signal("review_deal", review["example"])
    quote = await pending(handle, "submit_quotation")
    assert quote["assigned_to"] is None
    assert quote["example"]["prepared_by"] == "sales-manager@mattermost.com"
    await withdraw(handle)


@pytest.mark.parametrize(
    ("country", "industry", "finding"),
    [
        (
            "US",
            "manufacturing",
            "the customer's country US is outside the agreement's territory (DE, AT, CH)",
        ),
        (
            "AT",
            "Retail",
            "the customer's industry 'Retail' is outside the agreement's industries "
            "(public sector, manufacturing)",
        ),
    ],
    ids=["territory", "industry"],
)
async def test_deal_outside_the_agreement_is_flagged_to_the_reviewer(
    harness: Harness, country: str, industry: str, finding: str
) -> None:
    partner_id = var(harness.settings, sales_manager=SAM, **AGREEMENT)
    handle = await harness.start_deal(deal_of(partner_id, country=country, industry=industry))
    review = await pending(handle, "review_deal")
    assert review["description"].startswith(f"OUTSIDE THE AGREEMENT: {finding}.")
    assert review["assigned_to"] == SAM["email"]
    agreement = (await status(handle))["facts"]["agreement"]
    assert agreement["flagged"] is True
    assert agreement["territory"] == AGREEMENT["territory"]
    assert agreement["industries"] == AGREEMENT["industries"]
    assert (agreement["country"], agreement["industry"]) == (country, industry)
    [flag] = [
        h for h in (await status(handle))["history"] if h["step"] == "screening:outside_agreement"
    ]
    assert flag["event"] == "flagged" and flag["detail"]["findings"] == [finding]
    await handle.signal(
        "review_deal",
        {"reviewer": SAM["email"], "decision": "reject", "reason": "Outside the agreement"},
    )
    assert (await handle.result()).outcome == "rejected"
