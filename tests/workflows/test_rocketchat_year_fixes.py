"""Gaps the Rocket.Chat year (tests/starters/test_rocketchat_year.py) showed, on the
time-skipping server: the onboarding hears the program fee invoice's billing events (a paid
fee is recorded, the partnership then asks finance for nothing), and a partnership that ends
revokes the partner's opportunities-portal access."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from models.tables import DecisionRow, EmailRow, RocketChatPortalAccessRow
from starters.web.app import create_app
from tests.eventually import eventually
from tests.workflows.harness import Harness, events, gone, pending, workflow_harness
from tests.workflows.test_rocketchat_onboarding import (
    certify_all,
    complete_summary,
    start,
    through_signature,
)


def decisions(h: Harness, workflow_id: str) -> set[tuple[str, str]]:
    return {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=workflow_id)}


async def onboarded(h: Harness, handle: Any) -> Any:
    website = await pending(handle, "publish_website")
    await handle.signal("website_published", {**website["example"], "url": h.site + "/"})
    await certify_all(handle, ["installation", "brand_theming"])
    await complete_summary(handle)
    result = await handle.result()
    assert result.outcome == "onboarded"
    return h.client.get_workflow_handle(result.partnership_workflow_id)


async def test_the_program_fee_paid_in_billing_is_recorded_by_the_onboarding(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        await through_signature(handle)

        async def fee() -> dict[str, Any] | None:
            facts = (await handle.query("status"))["facts"]
            return facts.get("fee_invoice")

        invoice = await eventually(fee, what="the program fee invoiced")
        [sent] = await eventually(
            lambda: h.rows(EmailRow, handle.id, step="notice:fee_invoice"),
            what="the fee's invoice emailed to the partner",
        )
        assert sent.subject.startswith("Your Rocket.Chat Partner Program fee invoice")
        assert "ana.costa@portochat.example" in sent.to_addrs and "USD 1,200.00" in sent.text_body
        paid = {
            "event_id": "evt_fee_paid",
            "type": "invoice.paid",
            "invoice_id": invoice["id"],
            "status": "paid",
            "amount_paid_cents": invoice["amount_cents"],
        }
        await handle.signal("invoice_event", {**paid, "event_id": "evt_x", "invoice_id": "in_x"})
        await handle.signal("invoice_event", {"event_id": "evt_bad"})  # rejected, named
        await handle.signal("invoice_event", paid)
        await handle.signal("invoice_event", paid)  # Stripe delivers again: recorded once
        await eventually(
            lambda: ("program_fee:1", "paid") in decisions(h, handle.id),
            what="the fee recorded as paid",
        )
        status = await handle.query("status")
        assert events(status, "invoice") == ["noted"]
        assert events(status, "invoice_event") == ["rejected"]
        assert status["facts"]["fee_invoice"]["paid"] is True

        partnership = await onboarded(h, handle)
        state = await eventually(
            lambda: partnership.query("status"), what="the partnership's first quarter"
        )
        assert [f["paid"] for f in state["facts"]["fees"]] == [True]
        tasks = [t["task"] for t in state["pending_tasks"]]
        assert "record_fee_payment" not in tasks  # finance is asked for nothing
        paid_rows = [
            d
            for d in h.rows(DecisionRow, workflow_id=handle.id)
            if (d.step, d.decision) == ("program_fee:1", "paid")
        ]
        assert len(paid_rows) == 1


async def test_an_unpaid_fee_goes_to_finance_and_the_end_revokes_portal_access(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        await through_signature(handle)
        partnership = await onboarded(h, handle)
        task = await pending(partnership, "record_fee_payment")
        assert task["example"]["amount_cents"] == 120_000
        assert ("program_fee:1", "paid") not in decisions(h, handle.id)
        partner_id = handle.id.removeprefix("rc-onboarding-")
        [grant] = h.rows(RocketChatPortalAccessRow, partner_id=partner_id)
        assert grant.revoked_at is None  # granted during onboarding

        # The partner leaves: the partnership ends and its portal access is revoked.
        await partnership.signal(
            "partner_offboarded",
            {"reason": "Partner left the program", "decided_by": "partners@rocket.chat"},
        )
        assert (await partnership.result())["outcome"] == "removed"
        [grant] = h.rows(RocketChatPortalAccessRow, partner_id=partner_id)
        assert grant.revoked_at is not None
        assert grant.revocation_reason == "Partner left the program"
        [ended] = [
            d for d in h.rows(DecisionRow, workflow_id=partnership.id) if d.step == "partnership"
        ]
        assert ended.decision == "removed" and '"portal_revoked": true' in ended.detail_json


async def test_a_renewal_is_announced_to_the_partner(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    from tests.workflows.test_rocketchat_partnership import drive
    from tests.workflows.test_rocketchat_partnership import start as start_partnership

    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start_partnership(
            h, partner_type="value_added", services=["consulting"], term_months=12
        )

        def announced() -> list[EmailRow]:
            return [r for r in h.emails(handle.id) if r.step.startswith("renewal:")]

        result, _, _ = await drive(
            h, handle, partner_type="value_added", renewal="renew", until=lambda: announced()
        )
        assert result is None  # stopped once the renewal was announced
        [notice] = announced()
        assert notice.subject.startswith("Your Rocket.Chat partner agreement is renewed")
        assert "ana.costa@portochat.example" in notice.to_addrs
        assert "renewed for 12 months, until" in notice.text_body
        status = await handle.query("status")
        assert notice.step == f"renewal:{status['facts']['term_end'][:10]}"
        # The run ends (the partner leaves), so its history is kept for the replay test.
        await handle.signal(
            "partner_offboarded",
            {"reason": "Partner left the program", "decided_by": "partners@rocket.chat"},
        )
        assert (await handle.result()).outcome == "removed"


async def test_a_fee_paid_after_the_onboarding_reaches_the_partnership(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The fee invoice names the onboarding (its metadata's workflow id); once the onboarding
    has ended, the Stripe webhook hands the event to the partnership it started."""
    from tests.starters.test_stripe_webhook import WEBHOOK_SECRET, signed

    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        await through_signature(handle)
        partnership = await onboarded(h, handle)
        task = await pending(partnership, "record_fee_payment")
        fee = (await partnership.query("status"))["facts"]["fees"][0]
        web_settings = h.settings.model_copy(
            update={"stripe_webhook_secret": SecretStr(WEBHOOK_SECRET)}
        )
        event = {
            "id": "evt_fee_late",
            "type": "invoice.paid",
            "data": {
                "object": {
                    "object": "invoice",
                    "id": fee["invoice_id"],
                    "status": "paid",
                    "amount_paid": fee["amount_cents"],
                    "metadata": {"workflow_id": handle.id},
                }
            },
        }
        body, headers = signed(event)
        app = create_app(web_settings, h.client)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as web:
            answer = await web.post("/webhooks/stripe", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True, "workflow_id": partnership.id}
        await gone(partnership, task["task"])
        assert [f["paid"] for f in (await partnership.query("status"))["facts"]["fees"]] == [True]
