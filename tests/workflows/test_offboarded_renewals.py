"""Offboarding and customer renewals together, on the time-skipping server (issue 13; seed
FAQ: Mattermost knows every end customer "so that Mattermost can provide ongoing service and
renewals if the reseller relationship ends"): a reseller offboarded through its `Partner`
entity leaves its customer's subscription running, and the renewal reminders that follow go
to the customer directly, not to the reseller."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from activities.partners import get_partner
from models.settings import Settings
from starters.task_updates import complete_task
from tests.eventually import eventually
from tests.workflows.harness import status, workflow_harness
from tests.workflows.test_partner import offboarding, start_entity, today
from tests.workflows.test_subscription_renewal import (
    CUSTOMER_EMAIL,
    REMINDERS,
    RESELLER_EMAIL,
    licensed_order,
    partner,
    sent,
    sleep_until,
    subscription,
)


async def test_an_offboarded_resellers_customer_is_reminded_directly(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = partner(settings)
        entity = await start_entity(h, partner_id)
        order, renewal = await licensed_order(h, partner_id)
        order_id = order.id.removeprefix("order-")
        expires_at = datetime.fromisoformat((await status(renewal))["facts"]["expires_at"])

        accepted = await complete_task(h.client, entity.id, "offboard", offboarding(await today(h)))
        assert accepted.status == "accepted", accepted.message

        def ended() -> bool:
            record = get_partner(settings, "mattermost", partner_id)
            return record is not None and record.status == "ended"

        await eventually(ended, what="the partner record ended by its entity")
        term = subscription(h, order_id, 1)
        assert term is not None and term.status == "active"  # the customer keeps it

        await sleep_until(h, expires_at - timedelta(days=20))
        await h.emailed(renewal.id, *REMINDERS)
        for step in REMINDERS:
            email = sent(h, renewal.id, step)
            assert CUSTOMER_EMAIL in email.to_addrs and RESELLER_EMAIL not in email.to_addrs
            assert "no longer a Mattermost partner" in email.text_body
