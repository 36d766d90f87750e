"""Partner (the partner as an entity) on the time-skipping server: started by a VAR
application's approval and told every record change; `may` answers; the offboarding update
(validated) and its cascade on the effective date (listing withdrawn, evaluation license
ended, open deal released and its reviewer told, the partner emailed, the records ended); a
Rocket.Chat partnership ended as its removal does; continue-as-new keeping the state."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.deals import list_claims
from activities.partners import PartnerActivities
from models.directory import DirectoryListingInput
from models.partner_entity import PartnerEntityInput, PartnerEvent
from models.settings import Settings
from models.tables import DecisionRow, PartnerRow
from starters.task_updates import complete_task
from tests.eventually import eventually
from tests.factories import deal_input, partner_record
from tests.workflows.harness import (
    Harness,
    _describe,
    pending,
    search_attribute,
    uid,
    workflow_harness,
)
from tests.workflows.test_evaluation_license import request as evaluation_request
from tests.workflows.test_rocketchat_partnership import start as start_partnership
from tests.workflows.test_var_application import application
from tests.workflows.test_var_application import start as start_var
from workflows.search_attributes import PARTNER_ID, PROGRAM

ENABLED = {
    "application_id": "VAR-TEST",
    "territory": ["DE", "AT"],
    "industries": ["manufacturing"],
    "agreement_id": "agr-1",
    "agreement_signed_at": "2026-12-01T10:00:00+00:00",
    "sales_manager": {"name": "Sam Rivera", "email": "sam.rivera@mattermost.com"},
    "training_completed_at": "2026-12-01",
    "local_support": {"summary": "Berlin desk", "languages": ["de"]},
}


async def facts(handle: WorkflowHandle) -> dict[str, Any]:
    return dict((await handle.query("status"))["facts"])


async def facts_once(handle: WorkflowHandle, what: str, check: Any) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        found = await facts(handle)  # an error (not started yet) is retried
        return found if check(found) else None

    return await eventually(reached, what=f"{what} on {handle.id}")


async def start_entity(
    h: Harness, partner_id: str, *, program: str = "mattermost", **record: Any
) -> WorkflowHandle:
    """The entity as an approval starts it: then told the active, enabled record."""
    data = PartnerEntityInput(program=program, partner_id=partner_id)  # type: ignore[arg-type]
    handle = await h.start("Partner", data, f"partner-{program}-{partner_id}")
    partnership = record.pop("partnership_workflow_id", None)
    event = PartnerEvent(
        source_workflow_id=f"var-application-{partner_id}",
        record=partner_record(
            partner_id, discount_percent=20, attributes=ENABLED, program=program, **record
        ),
        partnership_workflow_id=partnership,
    )
    await handle.signal("partner_record", event)
    await facts_once(handle, "active", lambda f: f["status"] == "active")
    return handle


def offboarding(effective: date, **changes: Any) -> dict[str, Any]:
    return {
        "reason": "The reseller agreement was terminated by mutual consent",
        "effective_date": effective.isoformat(),
        "decided_by": "partners@mattermost.com",
        **changes,
    }


async def _run_id(handle: WorkflowHandle) -> str:
    """The latest run (the raw description: see `tests.workflows.harness._describe`)."""
    raw = await _describe(handle._client, handle.id)
    return str(raw.workflow_execution_info.execution.run_id)


async def _next_run(handle: WorkflowHandle, run_id: str) -> bool:
    return await _run_id(handle) != run_id


async def today(h: Harness) -> date:
    return (await h.env.get_current_time()).date()


async def test_var_approval_starts_the_entity_which_follows_the_application(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        var = await start_var(h, app)
        review = await h.task(var, "review_application")
        await var.signal("review_application", {**review["example"], "territory": ["DE", "AT"]})
        entity = h.handle(f"partner-mattermost-{app.resolved_partner_id}")
        onboarding = await facts_once(entity, "onboarding", lambda f: f["status"] == "onboarding")
        assert onboarding["agreement"]["territory"] == ["DE", "AT"]
        assert (await entity.query("may", "register_deal"))["allowed"] is False
        await h.complete(var, "sign_var_agreement")
        await h.complete(var, "assign_sales_manager")
        await h.complete(var, "confirm_training")
        await h.complete(var, "confirm_local_support")
        assert (await var.result())["outcome"] == "active"

        state = await facts_once(entity, "active", lambda f: f["status"] == "active")
        assert state["agreement"]["territory"] == ["DE", "AT"]
        assert state["agreement"]["agreement_id"] and state["agreement"]["discount_percent"] == 20
        assert state["agreement"]["industries"] == app.industries
        assert state["sales_manager"]["email"] == "sam.rivera@mattermost.com"
        assert state["training_completed_on"] == "2026-12-01"
        assert state["local_support"]["languages"] == ["de"]
        assert state["listing_workflow_id"] == f"directory-{app.resolved_partner_id}"
        assert state["evaluation_workflow_id"] == f"eval-license-{app.resolved_partner_id}"
        assert state["started_by"] == [var.id]
        assert state["may"] == {
            "register_deal": True,
            "order_var": True,
            "order_referral": True,
            "request_evaluation": True,
        }
        assert await search_attribute(entity, PARTNER_ID) == app.resolved_partner_id
        assert await search_attribute(entity, PROGRAM) == "mattermost"
        decisions = h.rows(DecisionRow, entity.id)
        assert {(d.step, d.decision) for d in decisions} == {("status:active", "active")}


async def test_may_answers_with_the_reason(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        var = await start_entity(h, f"nordlicht-{uid()}")
        assert await var.query("may", "order_var") == {
            "action": "order_var",
            "allowed": True,
            "reason": "an active, enabled Value-Added Reseller (reseller discount applies)",
        }
        unknown = await var.query("may", "fly")
        assert unknown["allowed"] is False and "register_deal" in unknown["reason"]
        si = await start_entity(h, f"integrator-{uid()}", partner_type="system_integrator")
        assert (await si.query("may", "request_evaluation"))["allowed"] is True
        refused = await si.query("may", "register_deal")
        assert refused["allowed"] is False and "Value-Added Resellers" in refused["reason"]


async def test_suspend_and_reinstate(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = f"nordlicht-{uid()}"
        entity = await start_entity(h, partner_id)
        change = {"reason": "Unpaid invoices past 60 days", "decided_by": "pm@mattermost.com"}
        early = await complete_task(h.client, entity.id, "reinstate", change)
        assert early.status == "rejected" and "only a suspended partner" in early.message
        suspended = await complete_task(h.client, entity.id, "suspend", change)
        assert suspended.status == "accepted" and suspended.result is not None
        assert suspended.result.stage == "suspended"
        assert (await entity.query("may", "register_deal"))["reason"] == (
            "the partner is suspended, not active"
        )
        (row,) = h.rows(PartnerRow, partner_id=partner_id)
        assert row.status == "suspended"
        again = await complete_task(h.client, entity.id, "suspend", change)
        assert again.status == "rejected"
        back = await complete_task(h.client, entity.id, "reinstate", {**change, "reason": "Paid"})
        assert back.status == "accepted"
        (row,) = h.rows(PartnerRow, partner_id=partner_id)
        assert row.status == "active"
        assert (await entity.query("may", "register_deal"))["allowed"] is True
        decisions = [(d.decision, d.actor) for d in h.rows(DecisionRow, entity.id)]
        assert ("suspended", "pm@mattermost.com") in decisions
        assert ("active", "pm@mattermost.com") in decisions


async def test_offboarding_refusals_name_the_problem(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        entity = await start_entity(h, f"nordlicht-{uid()}")
        now = await today(h)
        late = await complete_task(
            h.client, entity.id, "offboard", offboarding(now - timedelta(days=45))
        )
        assert late.status == "rejected" and late.field_errors().keys() == {"effective_date"}
        assert "more than 30 days in the past" in late.message
        far = await complete_task(
            h.client, entity.id, "offboard", offboarding(now + timedelta(days=400))
        )
        assert far.status == "rejected" and "days ahead" in far.message
        blank = await complete_task(h.client, entity.id, "offboard", offboarding(now, reason=""))
        assert blank.status == "rejected" and "reason" in blank.field_errors()
        accepted = await complete_task(
            h.client, entity.id, "offboard", offboarding(now + timedelta(days=20))
        )
        assert accepted.status == "accepted" and accepted.result is not None
        assert accepted.result.stage == "offboarding" and not accepted.result.ended
        again = await complete_task(h.client, entity.id, "offboard", offboarding(now))
        assert again.status == "rejected" and "already offboarding" in again.message
        (row,) = h.rows(PartnerRow, partner_id=entity.id.removeprefix("partner-mattermost-"))
        assert row.status == "offboarding"
        assert (await entity.query("may", "register_deal"))["reason"] == (
            "the partner is offboarding, not active"
        )


async def test_offboarding_cascade_on_the_effective_date(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = f"nordlicht-{uid()}"
        PartnerActivities(settings).upsert_partner(partner_record(partner_id))
        entity = await start_entity(h, partner_id)
        record = partner_record(partner_id)
        listing = await h.start(
            "DirectoryListing",
            DirectoryListingInput(
                partner_id=partner_id,
                partner_type="value_added_reseller",
                company=record.company,
                contact={"name": record.contact_name, "email": record.contact_email},  # type: ignore[arg-type]
            ),
            f"directory-{partner_id}",
        )
        await pending(listing, "submit_listing")
        evaluation = await h.start(
            "EvaluationLicense", evaluation_request(partner_id), f"eval-license-{partner_id}"
        )
        review = await pending(evaluation, "review_evaluation_license")
        await evaluation.signal("review_evaluation_license", review["example"])
        await facts_once(evaluation, "licensed", lambda f: f.get("license_id"))
        deal = deal_input(partner={"partner_id": partner_id})
        deal_handle = await h.start_deal(deal)
        await pending(deal_handle, "review_deal")
        await deal_handle.signal(
            "review_deal", {"reviewer": "sam.rivera@mattermost.com", "decision": "approve"}
        )
        await pending(deal_handle, "submit_quotation")
        await facts_once(entity, "open deal", lambda f: len(f["open_deals"]) == 1)
        assert any(c.deal_number == deal.deal_number for c in list_claims(settings))

        effective = await today(h) + timedelta(days=3)
        accepted = await complete_task(h.client, entity.id, "offboard", offboarding(effective))
        assert accepted.status == "accepted"
        result = await entity.result()

        assert result["status"] == "ended"
        assert result["reached"] == {
            "listing": True,
            "evaluation_license": True,
            deal.deal_number: True,
        }
        assert (await listing.result())["outcome"] == "removed"
        assert (await evaluation.result())["outcome"] == "partner_left"
        assert (await deal_handle.result()).outcome == "partner_offboarded"
        assert not any(c.deal_number == deal.deal_number for c in list_claims(settings))
        (told,) = [e for e in h.emails(deal_handle.id) if e.step == "deal:partner_offboarded"]
        assert "sam.rivera@mattermost.com" in told.to_addrs
        (notice,) = h.emails(entity.id)
        assert notice.step == "offboarding:notice" and deal.deal_number in notice.text_body
        assert "keep their subscriptions" in notice.text_body
        (row,) = h.rows(PartnerRow, partner_id=partner_id)
        assert row.status == "ended"
        steps = {(d.step, d.decision) for d in h.rows(DecisionRow, entity.id)}
        assert {("offboard", "accepted"), ("offboarding", "ended")} <= steps
        state = await facts(entity)
        assert state["status"] == "ended" and state["open_deals"] == []


async def test_offboarding_ends_a_rocketchat_partnership_as_a_removal(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partnership = await start_partnership(h)
        partner_id = partnership.id.removeprefix("rc-partnership-")
        entity = await start_entity(
            h,
            partner_id,
            program="rocketchat",
            partner_type="technology_provider",
            partnership_workflow_id=partnership.id,
        )
        assert (await facts(entity))["listing_workflow_id"] is None
        accepted = await complete_task(h.client, entity.id, "offboard", offboarding(await today(h)))
        assert accepted.status == "accepted" and accepted.result and accepted.result.ended
        assert (await entity.result())["reached"] == {"partnership": True}
        assert (await partnership.result()).outcome == "removed"
        (notice,) = h.emails(entity.id)
        assert notice.template == "rocketchat_notice"


async def test_continue_as_new_keeps_the_state(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = f"nordlicht-{uid()}"
        data = PartnerEntityInput(program="mattermost", partner_id=partner_id, max_events_per_run=3)
        await h.start("Partner", data, f"partner-mattermost-{partner_id}")
        entity = h.client.get_workflow_handle(f"partner-mattermost-{partner_id}")  # latest run
        await entity.signal(
            "partner_record",
            PartnerEvent(
                source_workflow_id="var-application-x",
                record=partner_record(partner_id, discount_percent=20, attributes=ENABLED),
            ),
        )
        await facts_once(entity, "active", lambda f: f["status"] == "active")
        now = (await h.env.get_current_time()).isoformat()
        # One event at a time, each seen before the next; the events that end a run are
        # awaited on the run's description, not by a query racing the continue-as-new.
        updates = [(f"DR-{n}", "approved") for n in range(1, 6)] + [("DR-1", "closed_won")]
        for number, (deal, deal_status) in enumerate(updates, start=2):
            run_id = await _run_id(entity)
            await entity.signal(
                "deal_update",
                {
                    "deal_number": deal,
                    "workflow_id": f"deal-{deal}",
                    "status": deal_status,
                    "at": now,
                },
            )
            if number % 3 == 0:
                await eventually(
                    lambda r=run_id: _next_run(entity, r), what=f"run after event {number}"
                )
            await facts_once(
                entity,
                f"event {number}",
                lambda f, n=number: (
                    len(f["open_deals"]) + f["closed_deals"] == min(n - 1, 5)
                    and (n < 7 or f["closed_deals"] == 1)
                ),
            )
        state = await facts(entity)
        assert state["run_number"] == 3  # 7 events, 3 a run
        assert [d["deal_number"] for d in state["open_deals"]] == ["DR-2", "DR-3", "DR-4", "DR-5"]
        assert state["status"] == "active" and state["sales_manager"]["name"] == "Sam Rivera"
        history = (await entity.query("status"))["history"]
        assert [e["step"] for e in history][:3] == ["partner_record", "status:active", "deal:DR-1"]
        assert (await entity.query("may", "order_var"))["allowed"] is True
        # The last run, started from the carried state, ends by offboarding (recorded).
        effective = await today(h)
        accepted = await complete_task(h.client, entity.id, "offboard", offboarding(effective))
        assert accepted.status == "accepted"
        assert set((await entity.result())["reached"]) == {
            "listing",
            "evaluation_license",
            "DR-2",
            "DR-3",
            "DR-4",
            "DR-5",
        }


async def test_rocketchat_onboarding_starts_the_entity_when_the_partner_is_active(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    from tests.workflows.test_rocketchat_onboarding import (
        certify_all,
        complete_summary,
        through_signature,
    )
    from tests.workflows.test_rocketchat_onboarding import start as start_onboarding

    async with workflow_harness(time_skipping_env, settings) as h:
        onboarding = await start_onboarding(h, services=["installation"])
        await through_signature(onboarding)
        website = await pending(onboarding, "publish_website")
        await onboarding.signal(
            "website_published", {**website["example"], "url": h.site + "/partners"}
        )
        await certify_all(onboarding, ["installation"])
        await complete_summary(onboarding)
        result = await onboarding.result()
        entity = h.handle(f"partner-rocketchat-{result.partner_id}")
        state = await facts_once(entity, "active", lambda f: f["status"] == "active")
        assert state["partnership_workflow_id"] == result.partnership_workflow_id
        assert state["partner_type"] == "technology_provider" and state["started_by"] == [
            onboarding.id
        ]
        assert state["listing_workflow_id"] is None and state["agreement"]["signed_at"]
        refused = await entity.query("may", "register_deal")
        assert refused["allowed"] is False


async def test_si_approval_starts_an_active_entity(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    from models.applications import BENEFITS
    from tests.workflows.test_system_integrator_application import application as si_application
    from tests.workflows.test_system_integrator_application import start as start_si

    async with workflow_harness(time_skipping_env, settings) as h:
        app = si_application()
        si = await start_si(h, app)
        await h.complete(si, "record_discussion")
        await h.complete(si, "decide_application")
        entity = h.handle(f"partner-mattermost-{app.resolved_partner_id}")
        state = await facts_once(entity, "active", lambda f: f["status"] == "active")
        assert state["partner_type"] == "system_integrator" and state["started_by"] == [si.id]
        assert (await entity.query("may", "request_evaluation"))["allowed"] is True
        for benefit in BENEFITS:
            task = await h.task(si, f"benefit_{benefit}")
            await si.signal(
                "complete_benefit", {**task["example"], "reference": "https://x.example"}
            )
        assert (await si.result())["outcome"] == "active"
