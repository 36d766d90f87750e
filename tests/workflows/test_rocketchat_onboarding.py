"""RocketChatOnboarding on the time-skipping server: the seven steps with the real activities
(local adapters), a loopback partner website, and every deadline skipped through."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.agreements import get_agreement
from models.rocketchat import RocketChatApplication
from models.settings import Settings
from models.tables import DecisionRow, InvoiceRow, PartnerRow, RocketChatWorkgroupRow
from tests.eventually import eventually
from tests.workflows.harness import (
    Harness,
    escalated,
    events,
    gone,
    pending,
    task_once,
    workflow_harness,
)
from tests.workflows.program_mail import assert_program_mail
from workflows.rocketchat_onboarding import RocketChatOnboarding


def application(**overrides: Any) -> RocketChatApplication:
    data = {
        "partner_id": f"rc-{uuid.uuid4().hex[:8]}",
        "company": "Porto Chat Lda",
        "country": "PT",
        "website": "https://portochat.example/",
        "contact": {"name": "Ana Costa", "email": "ana.costa@portochat.example"},
        "partner_type": "technology_provider",
        "services": ["installation", "brand_theming"],
    }
    return RocketChatApplication.model_validate({**data, **overrides})


async def start(h: Harness, **overrides: Any) -> WorkflowHandle:
    app = application(**overrides)
    handle = await h.client.start_workflow(
        RocketChatOnboarding.run,
        app,
        id=f"rc-onboarding-{app.partner_id}",
        task_queue=h.task_queue,
        execution_timeout=timedelta(days=400),
    )
    h.started += [handle.id, f"rc-partnership-{app.partner_id}"]
    return handle


async def act(handle: WorkflowHandle, task: str, **changes: Any) -> dict[str, Any]:
    t = await pending(handle, task)
    await handle.signal(t["handler"], {**t["example"], **changes})
    await gone(handle, task)
    return t


# The tasks before the contract terms, in order (the statement of work is the summary's).
BEFORE_TERMS = (
    "review_prerequisites",
    "schedule_meeting",
    "record_meeting",
    "set_goals",
    "agree_statement_of_work",
)


async def through_signature(handle: WorkflowHandle) -> None:
    for task in (*BEFORE_TERMS, "set_contract_terms", "sign_partner_agreement"):
        await act(handle, task)


# The program summary's tasks opened after the signature, in the order they are completed.
SUMMARY_AFTER_SIGNATURE = (
    "schedule_test_sessions",
    "record_test_sessions",
    "submit_market_strategy",
    "record_discount_and_prices",
)


async def complete_summary(handle: WorkflowHandle) -> None:
    """The program summary's tasks after the signature, each with its published example."""
    for task in SUMMARY_AFTER_SIGNATURE:
        await act(handle, task)


async def certify_all(handle: WorkflowHandle, services: list[str]) -> None:
    t = await pending(handle, "basic_training")
    for service in services:
        await handle.signal("record_certification", {**t["example"], "service": service})


def _signed(agreement: Any) -> Any:
    return agreement if agreement is not None and agreement.status == "signed" else None


async def _checks(handle: Any, count: int) -> bool:
    return len(events(await handle.query("status"), "website_check")) == count


async def test_full_onboarding_starts_the_partnership(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        review = await pending(handle, "review_prerequisites")
        assert review["assignee"] == "partner_manager" and review["due_at"]
        await through_signature(handle)
        status = await handle.query("status")
        agreement_id = status["facts"]["sign_partner_agreement_agreement"]["agreement_id"]
        # The task closes before the signature is stored (an activity).
        agreement = await eventually(
            lambda: _signed(get_agreement(settings, agreement_id)), what="the agreement signed"
        )
        assert (
            agreement and agreement.status == "signed" and "Technology Provider" in agreement.title
        )
        assert (
            "30% for\nRocket.Chat and 70% for Partner" in agreement.text
            and "12 months" in agreement.text
        )
        # Steps 5-7 are open at the same time.
        website = await pending(handle, "publish_website")
        training = await pending(handle, "basic_training")
        assert website["assignee"] == "partner" and training["assignee"] == "partner"
        await handle.signal(
            "website_published", {**website["example"], "url": h.site + "/partners"}
        )
        await certify_all(handle, ["installation", "brand_theming"])
        await complete_summary(handle)
        result = await handle.result()

        assert (
            result.outcome == "onboarded"
            and result.partnership_workflow_id == f"rc-partnership-{result.partner_id}"
        )
        child = await h.client.get_workflow_handle(result.partnership_workflow_id).describe()
        assert child.workflow_type == "RocketChatPartnership" and child.status.name == "RUNNING"
        [fee] = h.rows(InvoiceRow, workflow_id=handle.id)
        assert (
            fee.amount_due_cents == 120_000
            and fee.status == "open"
            and (fee.due_at - fee.finalized_at).days == 30
        )
        [partner] = h.rows(PartnerRow, partner_id=result.partner_id)
        assert (
            partner.program == "rocketchat"
            and partner.partner_type == "technology_provider"
            and partner.status == "active"
        )
        assert json.loads(partner.attributes_json)["certifications"] == [
            "brand_theming",
            "installation",
        ]
        [group] = h.rows(RocketChatWorkgroupRow, partner_id=result.partner_id)
        assert group.backend == "local" and group.room_name == f"partner-{result.partner_id}"
        steps = h.email_steps(handle.id)
        assert {
            "sign_partner_agreement:request",
            "notice:signed",
            "notice:badge",
            "notice:onboarded",
        } <= set(steps)
        [badge] = [e for e in h.emails(handle.id) if e.step == "notice:badge"]
        assert (
            "rocketchat-partner-badge.svg" in badge.attachments and "brand guide" in badge.text_body
        )
        decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
        assert {
            ("review_prerequisites", "approve"),
            ("program_fee:1", "invoiced"),
            ("website_check:1", "passed"),
            ("workgroup", "created"),
            ("basic_training", "certified"),
        } <= decisions
        assert assert_program_mail(settings, "rocketchat", h.emails(handle.id)) >= 4


async def test_term_shorter_than_a_year_is_refused(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        for task in BEFORE_TERMS:
            await act(handle, task)
        terms = await pending(handle, "set_contract_terms")
        await handle.signal("set_contract_terms", {**terms["example"], "term_months": 11})
        await handle.signal("set_contract_terms", {**terms["example"], "term_months": 12})
        await pending(handle, "sign_partner_agreement")
        status = await handle.query("status")
        [rejected] = [
            x
            for x in status["history"]
            if x["step"] == "set_contract_terms" and x["event"] == "rejected"
        ]
        assert "at least one year" in json.dumps(rejected["detail"])


async def test_every_step_escalates_when_its_deadline_passes(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        for task in (*BEFORE_TERMS, "set_contract_terms"):
            await pending(handle, task)
            await h.env.sleep(timedelta(days=10))  # past any business-day deadline
            t = await escalated(handle, task)
            assert t["escalated"] and t["reminders_sent"] == 1, t
            sent = await h.emailed(handle.id, f"{task}:reminder:1", f"{task}:escalation")
            assert {f"{task}:reminder:1", f"{task}:escalation"} <= set(sent)
            await act(handle, task)
        await act(handle, "sign_partner_agreement")
        await pending(handle, "publish_website")
        await h.env.sleep(timedelta(days=16))
        website = await escalated(handle, "publish_website")
        assert website["escalated"]
        await h.emailed(handle.id, "publish_website:escalation")
        [escalation] = [e for e in h.emails(handle.id) if e.step == "publish_website:escalation"]
        assert "ana.costa@portochat.example" in escalation.to_addrs  # the partner, not a role
        # the page names Rocket.Chat and a service, the type only in a script: not shown
        await handle.signal("website_published", {**website["example"], "url": h.site + "/no-type"})
        follow_up = await pending(handle, "website_follow_up")
        assert follow_up["description"].endswith(
            "Found: Rocket.Chat, service: Installation services. "
            "Missing: partnership type: Technology Provider"
        ), follow_up["description"]
        check = (await handle.query("status"))["facts"]["website_check"]
        assert not check["ok"] and check["missing"] == ["partnership type: Technology Provider"]
        assert check["found"] == ["Rocket.Chat", "service: Installation services"]
        await h.env.sleep(timedelta(days=10))
        assert (await escalated(handle, "website_follow_up"))["escalated"]
        await handle.signal(
            "website_follow_up", {**follow_up["example"], "url": h.site + "/partners"}
        )  # corrected page, recheck
        await gone(handle, "website_follow_up")
        await eventually(lambda: _checks(handle, 2), what="the corrected page checked again")
        status = await handle.query("status")
        assert events(status, "website_check") == ["failed", "passed"]
        check = status["facts"]["website_check"]
        assert check["ok"] and check["missing"] == []
        assert check["found"] == [
            "Rocket.Chat",
            "partnership type: Technology Provider",
            "service: Installation services",
            "service: Brand Theming",
        ]
        # Every email so far, reminders and escalations included, is Rocket.Chat's; the
        # partner's (its signature request, the website's escalation) show no internal tool.
        assert assert_program_mail(settings, "rocketchat", h.emails(handle.id)) >= 2


async def test_training_missed_at_day_61_escalates(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner_type="hosting", services=["private_cloud_hosting"])
        await through_signature(handle)
        website = await pending(handle, "publish_website")
        await handle.signal("website_published", {**website["example"], "url": h.site + "/"})
        await gone(handle, "publish_website")
        await complete_summary(handle)
        await h.env.sleep(timedelta(days=60, hours=12))
        training = await task_once(
            handle, "basic_training", lambda t: t["reminders_sent"] == 3, "reminded 3 times"
        )
        assert training["reminders_sent"] == 3 and not training["escalated"]
        steps = await h.emailed(handle.id, *(f"basic_training:reminder:{n}" for n in (1, 2, 3)))
        assert {
            "basic_training:reminder:1",
            "basic_training:reminder:2",
            "basic_training:reminder:3",
        } <= set(steps)
        assert "basic_training:escalation" not in steps
        await h.env.sleep(timedelta(days=1))
        training = await escalated(handle, "basic_training")
        assert training["escalated"]
        await h.emailed(handle.id, "basic_training:escalation")
        [escalation] = [e for e in h.emails(handle.id) if e.step == "basic_training:escalation"]
        assert "ana.costa@portochat.example" in escalation.to_addrs
        status = await handle.query("status")
        assert status["facts"]["training_missed"] is True and status["stage"] == "onboarding"
        await certify_all(handle, ["private_cloud_hosting"])
        result = await handle.result()
        assert result.outcome == "onboarded"
        decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
        assert ("basic_training", "certified_late") in decisions
        # The training reminders and escalation reach the partner in Rocket.Chat's name.
        assert assert_program_mail(settings, "rocketchat", h.emails(handle.id)) >= 4


async def test_embargoed_country_is_refused(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, country="CU")
        result = await handle.result()
        assert result.outcome == "embargoed"
        assert h.rows(PartnerRow, partner_id=result.partner_id) == []


async def test_declined_application_is_emailed_and_ends(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        review = await pending(handle, "review_prerequisites")
        await handle.signal(
            "review_prerequisites", {"reviewer": "partners@rocket.chat", "decision": "decline"}
        )  # no reason: rejected
        await handle.signal(
            "review_prerequisites",
            {**review["example"], "decision": "decline", "reason": "No Rocket.Chat projects yet"},
        )
        result = await handle.result()
        assert result.outcome == "declined" and result.reason == "No Rocket.Chat projects yet"
        [notice] = [e for e in h.emails(handle.id) if e.step == "notice:declined"]
        assert (
            "No Rocket.Chat projects yet" in notice.text_body
            and "ana.costa@portochat.example" in notice.to_addrs
        )
        assert events(await handle.query("status"), "review_prerequisites") == [
            "rejected",
            "decline",
        ]


async def test_refused_workgroup_becomes_a_task_for_the_partner_manager(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    no_credentials = settings.model_copy(
        update={"rocketchat_backend": "rest"}
    )  # the REST client refuses: permanent
    async with workflow_harness(time_skipping_env, no_credentials) as h:
        handle = await start(h)
        await through_signature(handle)
        manual = await pending(handle, "create_workgroup")
        assert manual["assignee"] == "partner_manager"
        await handle.signal("workgroup_created", manual["example"])
        website = await pending(handle, "publish_website")
        await handle.signal("website_published", {**website["example"], "url": h.site + "/"})
        await certify_all(handle, ["installation", "brand_theming"])
        await complete_summary(handle)
        result = await handle.result()
        assert result.outcome == "onboarded"
        decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
        assert ("workgroup", "created_manually") in decisions
