"""SystemIntegratorApplication (`si-application-{application_id}`): joining the Mattermost
System Integrators Partner Program (seed: "Mattermost System Integrators Partner Program").

Contact form (embargo screened) → a partner manager holds the discussion (task) → decision:
approve or reject with a reason → on approval the partner record becomes an active System
Integrator, its DirectoryListing starts, and the benefits are tracked to done, each with an
owner task: directory inclusion, guest blog post, co-hosted webinar, social promotion,
evaluation license.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import (
        BENEFITS,
        BenefitDone,
        DiscussionHeld,
        SiApplicationForm,
        SiApplicationResult,
        SiDecision,
    )
    from models.directory import DirectoryListingInput

from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.partner_application import PartnerApplicationWorkflow
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM

CALENDAR = "US"
DISCUSSION_BUSINESS_DAYS = 10
DECISION_BUSINESS_DAYS = 5
BENEFIT_REMINDER_BUSINESS_DAYS = 20
BENEFIT_DUE_BUSINESS_DAYS = 40

RECORD_DISCUSSION = HumanTask(
    task="record_discussion",
    handler="record_discussion",
    assignee="partner_manager",
    description="Hold the partnership discussion with the applicant and record it",
    model=DiscussionHeld,
    example={
        "held_on": "2026-12-01",
        "held_by": "partners@mattermost.com",
        "notes": "Strong GitLab and SSO integration practice.",
    },
)
DECIDE_APPLICATION = HumanTask(
    task="decide_application",
    handler="decide_application",
    assignee="partner_manager",
    description="Decide on the System Integrator application: approve, or reject with a reason",
    model=SiDecision,
    example={"decided_by": "partners@mattermost.com", "decision": "approve"},
)


def benefit_task(benefit: str) -> HumanTask:
    owner, what = BENEFITS[benefit]
    return HumanTask(
        task=f"benefit_{benefit}",
        handler="complete_benefit",
        assignee=owner,
        description=what,
        model=BenefitDone,
        example={"benefit": benefit, "done_by": "partners@mattermost.com", "reference": None},
    )


BENEFIT_TASKS = {benefit: benefit_task(benefit) for benefit in BENEFITS}


@workflow.defn
class SystemIntegratorApplication(PartnerApplicationWorkflow):
    """System Integrator application: discussion → decision → benefits tracked to done."""

    process = "SystemIntegratorApplication"
    human_tasks = (
        *ProcessWorkflow.human_tasks,
        RECORD_DISCUSSION,
        DECIDE_APPLICATION,
        *BENEFIT_TASKS.values(),
    )

    def __init__(self) -> None:
        super().__init__()
        self._application: SiApplicationForm | None = None
        self._discussion: DiscussionHeld | None = None
        self._decision: SiDecision | None = None
        self._benefits: dict[str, BenefitDone] = {}

    @workflow.signal
    def record_discussion(self, payload: Any) -> None:
        """`{"held_on": "2026-12-01", "held_by": "partners@mattermost.com", "notes": "…"}`"""
        value = self.accept(RECORD_DISCUSSION, payload, DiscussionHeld)
        if value is not None and self._discussion is None:
            self._discussion = value

    @workflow.signal
    def decide_application(self, payload: Any) -> None:
        """`{"decided_by": "partners@mattermost.com", "decision": "approve"}` or
        `{"decided_by": "…", "decision": "reject", "reason": "…"}`."""
        value = self.accept(DECIDE_APPLICATION, payload, SiDecision)
        if value is not None and self._decision is None:
            self._decision = value

    @workflow.signal
    def complete_benefit(self, payload: Any) -> None:
        """The owner delivered one benefit:
        `{"benefit": "guest_blog_post", "done_by": "partners@mattermost.com", "reference": "https://mattermost.com/blog/…"}`
        (benefits: directory_inclusion, guest_blog_post, co_hosted_webinar, social_promotion,
        evaluation_license)."""
        benefit = payload.get("benefit") if isinstance(payload, dict) else None
        spec = BENEFIT_TASKS.get(str(benefit))
        if spec is None:
            self.note(
                "complete_benefit",
                "system",
                "rejected",
                field="benefit",
                reason=f"unknown benefit {benefit!r}",
            )
            return
        value = self.accept(spec, payload, BenefitDone)
        if value is not None and value.benefit not in self._benefits:
            self._benefits[value.benefit] = value

    @workflow.run
    async def run(self, application: SiApplicationForm) -> SiApplicationResult:
        self._application = application
        partner_id = application.resolved_partner_id
        workflow.upsert_search_attributes(
            [PROGRAM.value_set("mattermost"), PARTNER_ID.value_set(partner_id)]
        )
        self._facts.update(
            application_id=application.application_id,
            partner_id=partner_id,
            company=application.company,
            country=application.country,
            expertise=application.expertise,
            contact=application.contact.model_dump(),
        )
        self.set_stage("screening")
        if refusal := await self.screen(application.company, application.country, step="screening"):
            await self.notify(
                "application:declined",
                [application.contact.email],
                "application_declined",
                self._mail(reasons=[refusal]),
            )
            return await self._end("embargoed", refusal)

        due_at = await business_deadline(workflow.now(), DISCUSSION_BUSINESS_DAYS, CALENDAR)
        self.open_task(RECORD_DISCUSSION, due_at)
        self.set_stage("discussion")
        await self.wait_for(
            RECORD_DISCUSSION, lambda: self._discussion is not None, Deadline(due_at=due_at)
        )
        self.close_task(RECORD_DISCUSSION.task)
        assert self._discussion is not None
        self._facts["discussion"] = self._discussion.model_dump(mode="json")
        await self.decide(
            "record_discussion", self._discussion.held_by, "held", notes=self._discussion.notes
        )

        due_at = await business_deadline(workflow.now(), DECISION_BUSINESS_DAYS, CALENDAR)
        self.open_task(DECIDE_APPLICATION, due_at)
        self.set_stage("decision")
        await self.wait_for(
            DECIDE_APPLICATION, lambda: self._decision is not None, Deadline(due_at=due_at)
        )
        self.close_task(DECIDE_APPLICATION.task)
        decision = self._decision
        assert decision is not None
        await self.decide(
            "decide_application", decision.decided_by, decision.decision, reason=decision.reason
        )
        if decision.decision == "reject":
            await self.notify(
                "application:rejected",
                [application.contact.email],
                "application_declined",
                self._mail(reasons=[decision.reason]),
            )
            return await self._end("rejected", decision.reason)

        await self.save_partner(
            partner_id=partner_id,
            partner_type="system_integrator",
            company=application.company,
            country=application.country,
            website=str(application.website),
            contact=application.contact,
            status="active",
            attributes={
                "application_id": application.application_id,
                "organization_type": application.organization_type,
                "expertise": application.expertise,
            },
        )
        await self.start_directory_listing(
            DirectoryListingInput(
                partner_id=partner_id,
                partner_type="system_integrator",
                company=application.company,
                contact=application.contact,
                city=application.city,
                country=application.country,
                website=str(application.website),
            )
        )
        await self.notify(
            "partner:welcome",
            [application.contact.email],
            "partner_welcome",
            self._mail(
                partner_type="System Integrator", benefits=[BENEFITS[b][1] for b in BENEFITS]
            ),
        )
        self.set_stage("benefits")
        await self._track_benefits()
        return await self._end("active", None)

    async def _track_benefits(self) -> None:
        now = workflow.now()
        reminder = await business_deadline(now, BENEFIT_REMINDER_BUSINESS_DAYS, CALENDAR)
        due_at = await business_deadline(now, BENEFIT_DUE_BUSINESS_DAYS, CALENDAR)
        company = self._require().company
        for spec in BENEFIT_TASKS.values():
            self.open_task(spec, due_at, description=f"{spec.description}: {company}")
        self._facts["benefits"] = {benefit: "open" for benefit in BENEFIT_TASKS}

        async def track(benefit: str, spec: HumanTask) -> None:
            await self.wait_for(
                spec,
                lambda: benefit in self._benefits,
                Deadline(reminders=[reminder], due_at=due_at),
            )
            self.close_task(spec.task)
            done = self._benefits[benefit]
            self._facts["benefits"][benefit] = {
                "done_by": done.done_by,
                "reference": done.reference,
            }
            await self.decide(f"benefit:{benefit}", done.done_by, "done", reference=done.reference)

        await asyncio.gather(*(track(benefit, spec) for benefit, spec in BENEFIT_TASKS.items()))

    async def _end(self, outcome: str, reason: str | None) -> SiApplicationResult:
        application = self._require()
        self.conclude(outcome, reason)
        return SiApplicationResult(
            application_id=application.application_id,
            partner_id=application.resolved_partner_id,
            outcome=outcome,
            reason=reason,
            benefits_done=sorted(self._benefits),
        )

    def _mail(self, **extra: Any) -> dict[str, Any]:
        application = self._require()
        return {
            "company": application.company,
            "contact_name": application.contact.name,
            "application_id": application.application_id,
            "program": "Mattermost System Integrators Partner Program",
            **extra,
        }

    def _require(self) -> SiApplicationForm:
        assert self._application is not None
        return self._application
