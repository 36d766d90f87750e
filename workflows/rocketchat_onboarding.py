"""RocketChatOnboarding (`rc-onboarding-{partner_id}`): the seven steps of the Rocket.Chat
partnership program's onboarding (seed 002, "Onboarding process").

1. pre-requirements form (`rocketchat-partner`) + embargo screening, reviewed by the partner
   manager → 2. meeting with the account manager (scheduled, then held, with notes) →
3. goals for three months and the year → 4. contract terms (term ≥ 1 year, support contract)
   and click-signature; on signature the USD 1,200 yearly fee is invoiced and the 60-day
   training clock starts → in parallel: 5. website names Rocket.Chat, the partnership type and
   a service (badge and brand guide emailed, the page fetched and checked; a follow-up task
   listing what is missing when it does not), 6. workgroup on
   the community server, 7. basic training per service type within 60 days (reminders at 30,
   45, 55 days, escalation on day 61) → starts `RocketChatPartnership` and completes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        EmailAttachment,
        InvoiceEvent,
        InvoiceInfo,
        PartnerRecord,
    )
    from models.forms import money
    from models.rocketchat import (
        CALENDAR,
        PARTNER_TYPE_LABELS,
        REPORT_DUE_DAY,
        SERVICES,
        YEARLY_PROGRAM_FEE_CENTS,
        Certification,
        ContractTerms,
        FeeInvoice,
        GoalsSet,
        MeetingHeld,
        MeetingScheduled,
        PrerequisitesReview,
        RocketChatApplication,
        RocketChatOnboardingResult,
        RocketChatPartnershipInput,
        WebCheckResult,
        WebsiteFollowUp,
        WebsitePublished,
        Workgroup,
        WorkgroupCreatedManually,
        WorkgroupRequest,
        add_months,
        training_schedule,
        website_request,
    )

from workflows.calls import EXTERNAL, SLOW, call
from workflows.deadlines import Deadline, Escalate, business_deadline
from workflows.human_tasks import HumanTask
from workflows.partner_link import ENTITY_PATCH, tell_partner_entity
from workflows.process import ProcessWorkflow
from workflows.rocketchat_partners import program_fee_invoice, rocketchat_partner
from workflows.rocketchat_summary import SUMMARY_TASKS, RocketChatSummarySteps
from workflows.search_attributes import PARTNER_ID, PROGRAM
from workflows.signatures import AgreementWorkflow, sign_task

DEADLINES_PATCH = "rc-year-onboarding-deadline-activities"
INVOICE_EVENTS_PATCH = "rc-year-onboarding-invoice-events"
BRAND_GUIDE_URL = "https://github.com/RocketChat/Rocket.Chat.Artwork"
BADGE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="48" role="img" '
    'aria-label="Official Rocket.Chat Partner">'
    '<rect width="220" height="48" rx="6" fill="#f5455c"/>'
    '<text x="110" y="30" fill="#fff" font-family="Helvetica,Arial,sans-serif" font-size="15" '
    'text-anchor="middle">Official Rocket.Chat Partner</text></svg>\n'
)

REVIEW_PREREQUISITES = HumanTask(
    "review_prerequisites",
    "review_prerequisites",
    "partner_manager",
    (
        "Review the partner's pre-requirements (company, type, services, website) and approve or "
        "decline"
    ),
    PrerequisitesReview,
    {"reviewer": "partners@rocket.chat", "decision": "approve"},
)
SCHEDULE_MEETING = HumanTask(
    "schedule_meeting",
    "schedule_meeting",
    "account_manager",
    (
        "Schedule the partnership meeting with the partner (details of the partnership, business "
        "location)"
    ),
    MeetingScheduled,
    {
        "account_manager": "sales@rocket.chat",
        "scheduled_at": "2026-12-01T15:00:00Z",
        "location": "https://open.rocket.chat/video/partner-call",
    },
)
RECORD_MEETING = HumanTask(
    "record_meeting",
    "record_meeting",
    "account_manager",
    "Record that the partnership meeting was held, with notes",
    MeetingHeld,
    {
        "account_manager": "sales@rocket.chat",
        "notes": "Discussed target markets, pricing and support levels.",
        "business_location_visited": False,
    },
)
SET_GOALS = HumanTask(
    "set_goals",
    "set_goals",
    "account_manager",
    (
        "Agree measurable goals for the next three months and the year (the baseline of the "
        "quarterly reviews)"
    ),
    GoalsSet,
    {
        "agreed_by": "sales@rocket.chat",
        "goals": [
            {"metric": "deals_closed", "quarter_target": 2, "year_target": 10},
            {"metric": "revenue_cents", "quarter_target": 1_000_000, "year_target": 5_000_000},
            {"metric": "certified_staff", "quarter_target": 1, "year_target": 2},
        ],
    },
)
SET_CONTRACT_TERMS = HumanTask(
    "set_contract_terms",
    "set_contract_terms",
    "account_manager",
    "Set the contract terms: term of at least 12 months and the partner's support contract",
    ContractTerms,
    {
        "prepared_by": "sales@rocket.chat",
        "term_months": 12,
        "support_contract_reference": "SUP-2026-0001",
    },
)
SIGN_CONTRACT = sign_task(
    "sign_partner_agreement",
    "partner",
    (
        "The partner click-signs the Rocket.Chat Partner Agreement (link emailed to the partner's "
        "contact)"
    ),
)
WEBSITE_PUBLISHED = HumanTask(
    "publish_website",
    "website_published",
    "partner",
    (
        "The partner adds the Rocket.Chat logo, partnership description and services to its "
        "website and names the page"
    ),
    WebsitePublished,
    {
        "url": "https://partner.example/partners/rocket-chat",
        "confirmed_by": "contact@partner.example",
    },
    partner_task=(
        "Please add the Rocket.Chat partner logo, the description of the partnership and the "
        "services you provide to your website."
    ),
    partner_action="tell us the address of the page, and we check it and confirm",
)
WEBSITE_FOLLOW_UP = HumanTask(
    "website_follow_up",
    "website_follow_up",
    "account_manager",
    (
        "The partner's website does not show Rocket.Chat, its partnership type and one of its "
        "services yet: follow up with the partner, then check again or confirm by hand"
    ),
    WebsiteFollowUp,
    {"decided_by": "sales@rocket.chat", "outcome": "recheck"},
)
WORKGROUP_MANUAL = HumanTask(
    "create_workgroup",
    "workgroup_created",
    "partner_manager",
    (
        "The community server refused to create the workgroup: create it on open.rocket.chat by "
        "hand and record its name"
    ),
    WorkgroupCreatedManually,
    {"created_by": "partners@rocket.chat", "room_name": "partner-example"},
)
BASIC_TRAINING = HumanTask(
    "basic_training",
    "record_certification",
    "partner",
    (
        "The partner completes basic training for each service type it provides within 60 days of "
        "signature; the trainer records each certification"
    ),
    Certification,
    {"service": "consulting", "certified_by": "training@rocket.chat", "trainee": "Jane Doe"},
    partner_task=(
        "Please complete the basic training for each type of service you provide, within 60 "
        "days of signing the partner agreement: each service needs its certification."
    ),
    partner_action="tell us who takes the training and when, and we schedule it with you",
)


@workflow.defn
class RocketChatOnboarding(RocketChatSummarySteps, AgreementWorkflow):
    """Rocket.Chat partner onboarding: seven steps, then the partnership starts."""

    process = "RocketChatOnboarding"
    human_tasks = (
        *ProcessWorkflow.human_tasks,
        REVIEW_PREREQUISITES,
        SCHEDULE_MEETING,
        RECORD_MEETING,
        SET_GOALS,
        SET_CONTRACT_TERMS,
        SIGN_CONTRACT,
        WEBSITE_PUBLISHED,
        WEBSITE_FOLLOW_UP,
        WORKGROUP_MANUAL,
        BASIC_TRAINING,
        *SUMMARY_TASKS,
    )

    def __init__(self) -> None:
        super().__init__()
        self._app: RocketChatApplication | None = None
        self._review: PrerequisitesReview | None = None
        self._meeting: MeetingScheduled | None = None
        self._held: MeetingHeld | None = None
        self._goals: GoalsSet | None = None
        self._terms: ContractTerms | None = None
        self._website: WebsitePublished | None = None
        self._follow_up: WebsiteFollowUp | None = None
        self._workgroup_manual: WorkgroupCreatedManually | None = None
        self._certifications: dict[str, Certification] = {}
        self.deadlines_as_activities = False
        self._invoice_events_on = False
        self._fee: FeeInvoice | None = None
        self._fee_events: list[InvoiceEvent] = []
        self._fee_events_over = False

    # --- human handlers -------------------------------------------------------------------

    @workflow.signal
    def review_prerequisites(self, payload: Any) -> None:
        """Partner manager: `{"reviewer": "partners@rocket.chat", "decision": "approve"}` or
        `{"reviewer": "...", "decision": "decline", "reason": "..."}`."""
        if (
            review := self.accept(REVIEW_PREREQUISITES, payload, PrerequisitesReview)
        ) and self._review is None:
            self._review = review

    @workflow.signal
    def schedule_meeting(self, payload: Any) -> None:
        """Account manager: `{"account_manager": "sales@rocket.chat",
        "scheduled_at": "2026-12-01T15:00:00Z",
        "location": "https://open.rocket.chat/video/partner-call"}`"""
        if (
            meeting := self.accept(SCHEDULE_MEETING, payload, MeetingScheduled)
        ) and self._meeting is None:
            self._meeting = meeting

    @workflow.signal
    def record_meeting(self, payload: Any) -> None:
        """Account manager: `{"account_manager": "sales@rocket.chat", "notes": "Discussed ...",
        "business_location_visited": false}`"""
        if (held := self.accept(RECORD_MEETING, payload, MeetingHeld)) and self._held is None:
            self._held = held

    @workflow.signal
    def set_goals(self, payload: Any) -> None:
        """Account manager: `{"agreed_by": "sales@rocket.chat",
        "goals": [{"metric": "deals_closed", "quarter_target": 2, "year_target": 10}]}`
        (metrics: deals_closed, revenue_cents, certified_staff, prospective_sales)."""
        if (goals := self.accept(SET_GOALS, payload, GoalsSet)) and self._goals is None:
            self._goals = goals

    @workflow.signal
    def set_contract_terms(self, payload: Any) -> None:
        """Account manager: `{"prepared_by": "sales@rocket.chat", "term_months": 12,
        "support_contract_reference": "SUP-2026-0001"}`
        (a term shorter than 12 months is refused)."""
        if (
            terms := self.accept(SET_CONTRACT_TERMS, payload, ContractTerms)
        ) and self._terms is None:
            self._terms = terms

    @workflow.signal
    def website_published(self, payload: Any) -> None:
        """Partner: `{"url": "https://partner.example/partners/rocket-chat",
        "confirmed_by": "contact@partner.example"}`"""
        if published := self.accept(WEBSITE_PUBLISHED, payload, WebsitePublished):
            self._website = published

    @workflow.signal
    def website_follow_up(self, payload: Any) -> None:
        """Account manager, after a failed check: `{"decided_by": "sales@rocket.chat",
        "outcome": "recheck"}`
        (optionally with a corrected `url`) or `{"decided_by": "...",
        "outcome": "verified_manually", "note": "..."}`."""
        if follow_up := self.accept(WEBSITE_FOLLOW_UP, payload, WebsiteFollowUp):
            self._follow_up = follow_up

    @workflow.signal
    def workgroup_created(self, payload: Any) -> None:
        """Partner manager, when the API failed: `{"created_by": "partners@rocket.chat",
        "room_name": "partner-acme"}`"""
        if manual := self.accept(WORKGROUP_MANUAL, payload, WorkgroupCreatedManually):
            self._workgroup_manual = manual

    @workflow.signal
    def record_certification(self, payload: Any) -> None:
        """Trainer: one service type certified: `{"service": "consulting",
        "certified_by": "training@rocket.chat", "trainee": "Jane Doe"}`"""
        cert = self.accept(BASIC_TRAINING, payload, Certification)
        if cert is None:
            return
        services = self._require_app().services
        if cert.service not in services or cert.service in self._certifications:
            self.note(
                BASIC_TRAINING.task,
                cert.certified_by,
                "rejected",
                field="service",
                reason=(
                    f"{cert.service!r} is not an uncertified service of this partner "
                    f"({', '.join(services)})"
                ),
            )
            return
        self._certifications[cert.service] = cert
        self.note(
            BASIC_TRAINING.task,
            cert.certified_by,
            "certified",
            service=cert.service,
            trainee=cert.trainee,
        )
        self._facts["certifications"] = sorted(self._certifications)
        remaining = [s for s in services if s not in self._certifications]
        task = self._tasks.get(BASIC_TRAINING.task)
        if remaining and task is not None:
            self._tasks[BASIC_TRAINING.task] = task.model_copy(
                update={
                    "example": {**task.example, "service": remaining[0]},
                    "description": self._training_description(remaining),
                }
            )
            self._publish()

    # --- the process ------------------------------------------------------------------------

    @workflow.signal
    def invoice_event(self, payload: Any) -> None:
        """A billing-provider event for the program fee's invoice (the Stripe webhook): a paid
        fee is recorded as paid (the partnership then asks finance for nothing); anything
        else is noted. `{"event_id": "evt_1", "type": "invoice.paid", "invoice_id": "in_1",
        "status": "paid"}`"""
        if not self._invoice_events_on:  # started before the patch: ignored, as it was
            return
        event = self.parse("invoice_event", payload, InvoiceEvent)
        if event is None:
            return
        fee = self._fee
        if fee is not None and fee.invoice_id == event.invoice_id and event.status == "paid":
            if not fee.paid and all(e.event_id != event.event_id for e in self._fee_events):
                self._fee_events.append(event)
            return
        self.note(
            "invoice",
            "billing",
            "noted",
            event_id=event.event_id,
            type=event.type,
            invoice_id=event.invoice_id,
            status=event.status,
        )

    @workflow.run
    async def run(self, app: RocketChatApplication) -> RocketChatOnboardingResult:
        self.summary_start()  # the patch, asked before any local activity
        # Deadlines by ordinary activity: the parallel steps 5-7 and the summary's tasks
        # each compute theirs, and concurrent local activities may replay out of order.
        self.deadlines_as_activities = workflow.patched(DEADLINES_PATCH)
        self._invoice_events_on = workflow.patched(INVOICE_EVENTS_PATCH)
        self._app = app
        workflow.upsert_search_attributes(
            [PROGRAM.value_set("rocketchat"), PARTNER_ID.value_set(app.partner_id)]
        )
        self._facts = {
            "partner_id": app.partner_id,
            "company": app.company,
            "partner_type": app.partner_type,
            "services": app.services,
            "website": str(app.website),
        }
        self.set_stage("screening")
        if refusal := await self.screen(
            app.company, app.country, app.subdivision, step="screening"
        ):
            return await self._end("embargoed", refusal)
        await self._upsert_partner("applicant")

        # 1. pre-requirements review
        await self._human(
            REVIEW_PREREQUISITES,
            "prerequisites_review",
            lambda: self._review is not None,
            business_days=2,
        )
        assert self._review is not None
        await self.decide(
            "review_prerequisites",
            self._review.reviewer,
            self._review.decision,
            reason=self._review.reason,
        )
        if self._review.decision == "decline":
            await self._notify(
                "declined",
                "Your Rocket.Chat partner application",
                [
                    (
                        "Thank you for applying to the Rocket.Chat Partner Program. We cannot "
                        f"accept the application as submitted: {self._review.reason}"
                    )
                ],
            )
            return await self._end("declined", self._review.reason)

        # 2. meeting with the account manager
        await self._human(
            SCHEDULE_MEETING, "meeting", lambda: self._meeting is not None, business_days=5
        )
        assert self._meeting is not None
        self._facts["meeting"] = {
            "scheduled_at": self._meeting.scheduled_at.isoformat(),
            "location": self._meeting.location,
        }
        await self.decide(
            "schedule_meeting",
            self._meeting.account_manager,
            "scheduled",
            scheduled_at=self._meeting.scheduled_at.isoformat(),
        )
        held_due = await business_deadline(
            max(self._meeting.scheduled_at, workflow.now()), 2, CALENDAR
        )
        await self._human(
            RECORD_MEETING, "meeting", lambda: self._held is not None, due_at=held_due
        )
        assert self._held is not None
        await self.decide(
            "record_meeting", self._held.account_manager, "held", notes=self._held.notes
        )

        # 3. goals
        await self._human(SET_GOALS, "goals", lambda: self._goals is not None, business_days=5)
        assert self._goals is not None
        self._facts["goals"] = [g.model_dump() for g in self._goals.goals]
        await self.decide("set_goals", self._goals.agreed_by, "agreed", goals=self._facts["goals"])
        await self.summary_statement_of_work()

        # 4. contract
        await self._human(
            SET_CONTRACT_TERMS, "contract", lambda: self._terms is not None, business_days=3
        )
        terms = self._terms
        assert terms is not None
        self._facts["term_months"] = terms.term_months
        self.set_stage("contract_signing")
        signed = await self.collect_signature(
            SIGN_CONTRACT,
            kind="rocketchat_partner_agreement",
            template="rocketchat_partner_agreement",
            context=self._agreement_context(terms),
            signer_name=app.contact.name,
            signer_email=str(app.contact.email),
            company=app.company,
            vendor="Rocket.Chat",
            calendar=CALENDAR,
        )
        if signed is None:
            await self._notify(
                "not_signed",
                "Your Rocket.Chat partner agreement expired",
                [
                    (
                        "The link to sign the Rocket.Chat Partner Agreement expired before it was "
                        "signed. Contact your account manager to receive a new one."
                    )
                ],
            )
            return await self._end("not_signed", "the partner agreement was not signed in time")
        signed_at = signed.signed_at
        self._facts["signed_at"] = signed_at.isoformat()
        documents = await self.summary_documents_folder()
        await self._upsert_partner("active")
        fee = self._fee = await self._invoice_fee(signed_at)
        fee_events = None
        if self._invoice_events_on:  # the partner receives the fee's invoice; its payment heard
            fee_events = asyncio.create_task(self._follow_fee_events())
            await self._email_fee_invoice(fee)
        reminders, deadline, _ = training_schedule(signed_at)
        self._facts["training_due_at"] = deadline.isoformat()
        await self._notify(
            "signed",
            "Welcome to the Rocket.Chat Partner Program",
            [
                (
                    f"Your Rocket.Chat Partner Agreement is signed: {app.company} is now an "
                    f"official Rocket.Chat {PARTNER_TYPE_LABELS[app.partner_type]}."
                ),
                (
                    f"The yearly partner program fee of {money(YEARLY_PROGRAM_FEE_CENTS)} is "
                    "invoiced separately, payable within 30 days."
                ),
                (
                    "Next steps: put Rocket.Chat on your website, join your workgroup on the "
                    "community server, and complete the basic training for each service you "
                    "provide within 60 days."
                ),
            ],
            facts=[
                ["Program fee invoice", fee.invoice_id],
                ["Training due", deadline.strftime("%B %d, %Y")],
                ["Services", ", ".join(SERVICES[app.partner_type][s] for s in app.services)],
                *documents,
            ],
        )

        # 5-7 in parallel
        self.set_stage("onboarding")
        website, workgroup, *_ = await asyncio.gather(
            self._website_step(),
            self._workgroup_step(),
            self._training_step(signed_at),
            self.summary_after_signature(),
        )

        # the partnership
        if fee_events is not None:  # a fee paid meanwhile is recorded before it starts
            self._fee_events_over = True
            await fee_events
            assert self._fee is not None
            fee = self._fee
        state = RocketChatPartnershipInput(
            application=app,
            goals=self._goals.goals,
            signed_at=signed_at,
            term_months=terms.term_months,
            support_contract_reference=terms.support_contract_reference,
            term_end=add_months(signed_at, terms.term_months),
            fee_invoices=[fee],
            website_url=website,
            workgroup=workgroup,
            certifications={s: c.trainee for s, c in self._certifications.items()},
        )
        partnership_id = f"rc-partnership-{app.partner_id}"
        await workflow.start_child_workflow(
            "RocketChatPartnership",
            state,
            id=partnership_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(PROGRAM, "rocketchat"),
                    SearchAttributePair(PARTNER_ID, app.partner_id),
                ]
            ),
            static_summary=f"Rocket.Chat partnership: {app.company} "
            f"({PARTNER_TYPE_LABELS[app.partner_type]})",
            static_details=(
                f"**{app.company}**, Rocket.Chat {PARTNER_TYPE_LABELS[app.partner_type]} "
                f"({app.country})\n\n"
                f"- **Contact:** {app.contact.name} <{app.contact.email}>\n"
                f"- **Term:** {terms.term_months} months from {signed_at.date().isoformat()}, "
                f"yearly fee {money(fee.amount_cents)}\n"
                f"- **Website:** {website or '—'} · **Workgroup:** {workgroup or '—'}\n"
                f"- **Started by:** `{workflow.info().workflow_id}`"
            ),
        )
        self._facts["partnership_workflow_id"] = partnership_id
        await self._upsert_partner("active")
        if workflow.patched(ENTITY_PATCH):  # asked as the record's write wakes the workflow
            await tell_partner_entity(
                self._partner_record("active"), partnership_workflow_id=partnership_id
            )
        await self._notify(
            "onboarded",
            "Onboarding complete",
            [
                (
                    "Your onboarding is complete. Your monthly sales report is due on the 10th of "
                    "each month for the month before, and we review the partnership with you "
                    "every quarter."
                )
            ],
            facts=[["Workgroup", workgroup or "—"], ["Website", website or "—"]],
        )
        await self.summary_list_on_site(website)
        return await self._end("onboarded", None, partnership_workflow_id=partnership_id)

    # --- steps --------------------------------------------------------------------------------

    async def _human(
        self,
        spec: HumanTask,
        stage: str,
        done: Any,
        *,
        business_days: int | None = None,
        due_at: datetime | None = None,
    ) -> None:
        """Open an internal task with a business-day deadline, a reminder half-way and the
        default escalation (role email) at the deadline; wait until done."""
        now = workflow.now()
        if due_at is None:
            assert business_days is not None
            due_at = await business_deadline(now, business_days, CALENDAR)
        reminder = now + (due_at - now) / 2
        self.open_task(spec, due_at)
        self.set_stage(stage)
        await self.wait_for(spec, done, Deadline(reminders=[reminder], due_at=due_at))
        self.close_task(spec.task)

    async def _website_step(self) -> str | None:
        """5. Badge and brand guide by email; the partner names the page; the page is
        checked; failing that the account manager follows up (recheck or confirm)."""
        app = self._require_app()
        await self._notify(
            "badge",
            "Your Rocket.Chat partner badge and brand guide",
            [
                (
                    "Please add your company's Rocket.Chat partnership to your website: the "
                    "Rocket.Chat logo, a description of the partnership and its type, and the "
                    "services you provide. The partner badge is attached; the brand guide and "
                    "logos are at "
                )
                + BRAND_GUIDE_URL
                + ".",
                (
                    "When the page is online, confirm it with the page's address (signal "
                    "website_published), and we will check it."
                ),
            ],
            attachments=[
                EmailAttachment(
                    filename="rocketchat-partner-badge.svg",
                    content=BADGE_SVG,
                    mime_type="image/svg+xml",
                )
            ],
        )
        due_at = await business_deadline(workflow.now(), 10, CALENDAR)
        example = {"url": str(app.website), "confirmed_by": str(app.contact.email)}
        self.open_task(WEBSITE_PUBLISHED, due_at, example=example)
        reminder = await business_deadline(workflow.now(), 5, CALENDAR)
        await self.wait_for(
            WEBSITE_PUBLISHED,
            lambda: self._website is not None,
            Deadline(
                reminders=[reminder],
                due_at=due_at,
                remind=self.clock.reminder_email(WEBSITE_PUBLISHED, to=self._partner()),
                escalate=self._partner_escalation(WEBSITE_PUBLISHED, "account_manager"),
            ),
        )
        self.close_task(WEBSITE_PUBLISHED.task)
        assert self._website is not None
        url = str(self._website.url)
        attempt = 0
        while True:
            attempt += 1
            request = website_request(url, app.partner_type, app.services)
            result = await call(
                "check_partner_website",
                request,
                options=SLOW,
                result_type=WebCheckResult,
                summary=f"check {request.url} shows Rocket.Chat, the type and a service",
            )
            self._facts["website_check"] = {
                "url": url,
                "ok": result.ok,
                "reason": result.reason,
                "found": result.found,
                "missing": result.missing,
                "checked_at": result.checked_at.isoformat(),
            }
            self.note(
                "website_check",
                "system",
                "passed" if result.ok else "failed",
                url=url,
                reason=result.reason,
                found=result.found,
                missing=result.missing,
            )
            if result.ok:
                await self.decide(f"website_check:{attempt}", "system", "passed", url=url)
                return url
            self._follow_up = None
            due = await business_deadline(workflow.now(), 5, CALENDAR)
            last = f"Last check of {url}: {result.reason}"
            if result.found or result.missing:  # the page was read
                last += (
                    f". Found: {', '.join(result.found) or 'nothing'}. "
                    f"Missing: {', '.join(result.missing)}"
                )
            self.open_task(
                WEBSITE_FOLLOW_UP,
                due,
                description=f"{WEBSITE_FOLLOW_UP.description}. {last}",
                example={**WEBSITE_FOLLOW_UP.example, "url": url},
            )
            await self.wait_for(
                WEBSITE_FOLLOW_UP, lambda: self._follow_up is not None, Deadline(due_at=due)
            )
            self.close_task(WEBSITE_FOLLOW_UP.task)
            follow_up = self._follow_up
            assert follow_up is not None
            if follow_up.url:
                url = str(follow_up.url)
            if follow_up.outcome == "verified_manually":
                await self.decide(
                    f"website_check:{attempt}",
                    follow_up.decided_by,
                    "verified_manually",
                    url=url,
                    note=follow_up.note,
                )
                return url

    async def _workgroup_step(self) -> str | None:
        """6. The workgroup on the community server (an activity; a task only if it fails)."""
        app = self._require_app()
        workflow_id = workflow.info().workflow_id
        try:
            group = await call(
                "create_workgroup",
                WorkgroupRequest(
                    idempotency_key=f"{workflow_id}:workgroup",
                    workflow_id=workflow_id,
                    partner_id=app.partner_id,
                    company=app.company,
                    topic=f"{app.company} × Rocket.Chat core team",
                ),
                options=EXTERNAL,
                result_type=Workgroup,
                summary=f"community workgroup for {app.company}",
            )
        except ActivityError as exc:
            reason = str(exc.cause or exc)
            self.note("workgroup", "system", "failed", reason=reason)
            self.open_task(
                WORKGROUP_MANUAL,
                None,
                example={**WORKGROUP_MANUAL.example, "room_name": f"partner-{app.partner_id}"},
            )
            await self.wait_for(WORKGROUP_MANUAL, lambda: self._workgroup_manual is not None)
            self.close_task(WORKGROUP_MANUAL.task)
            assert self._workgroup_manual is not None
            self._facts["workgroup"] = self._workgroup_manual.room_name
            await self.decide(
                "workgroup",
                self._workgroup_manual.created_by,
                "created_manually",
                room_name=self._workgroup_manual.room_name,
            )
            return self._workgroup_manual.room_name
        self._facts["workgroup"] = {
            "room": group.room_name,
            "url": group.url,
            "backend": group.backend,
        }
        await self.decide("workgroup", "system", "created", room=group.room_name, url=group.url)
        return group.url

    async def _training_step(self, signed_at: datetime) -> None:
        """7. Basic training per service type within 60 days of signature."""
        app = self._require_app()
        reminders, deadline, escalation = training_schedule(signed_at)
        remaining = [s for s in app.services if s not in self._certifications]
        self.open_task(
            BASIC_TRAINING,
            deadline,
            description=self._training_description(remaining),
            example={
                **BASIC_TRAINING.example,
                "service": remaining[0] if remaining else app.services[0],
                "trainee": app.contact.name,
            },
        )

        async def escalate() -> None:
            self._facts["training_missed"] = True
            self.note(
                BASIC_TRAINING.task,
                "system",
                "training_missed",
                missing=[s for s in app.services if s not in self._certifications],
            )
            await self._partner_escalation(BASIC_TRAINING, "partner_manager")()

        await self.wait_for(
            BASIC_TRAINING,
            lambda: all(s in self._certifications for s in app.services),
            Deadline(
                reminders=reminders,
                due_at=escalation,
                remind=self.clock.reminder_email(
                    BASIC_TRAINING, to=self._partner(), cc=["role:partner_manager"]
                ),
                escalate=escalate,
            ),
        )
        self.close_task(BASIC_TRAINING.task)
        late = workflow.now() > deadline
        self._facts["training_completed_at"] = workflow.now().isoformat()
        await self.decide(
            "basic_training",
            "system",
            "certified_late" if late else "certified",
            services={s: c.trainee for s, c in self._certifications.items()},
        )

    def _training_description(self, remaining: list[str]) -> str:
        labels = SERVICES[self._require_app().partner_type]
        return (
            f"{BASIC_TRAINING.description}. Still to certify: "
            f"{', '.join(labels[s] for s in remaining)}"
        )

    # --- partner emails for partner-owned tasks ------------------------------------------------

    def _partner(self) -> list[str]:
        return [str(self._require_app().contact.email)]

    def _partner_escalation(self, spec: HumanTask, owner_role: str) -> Escalate:
        """The escalation email to the partner and the role that follows the task up."""
        return self.clock.escalation_email(
            spec, to=[*self._partner(), f"role:{owner_role}"], cc=["role:operations"]
        )

    # --- helpers --------------------------------------------------------------------------------

    async def _invoice_fee(self, signed_at: datetime) -> FeeInvoice:
        app = self._require_app()
        workflow_id = workflow.info().workflow_id
        invoice = await call(
            "create_invoice",
            program_fee_invoice(
                app,
                1,
                f"Rocket.Chat Partner Program fee, year 1 (from {signed_at:%Y-%m-%d})",
                {"workflow_id": workflow_id, "program": "rocketchat"},
            ),
            options=SLOW,
            result_type=InvoiceInfo,
            summary="create, finalize and send the invoice",
        )
        self._facts["fee_invoice"] = {
            "id": invoice.id,
            "number": invoice.number,
            "amount_cents": invoice.amount_due_cents,
        }
        await self.decide(
            "program_fee:1",
            "system",
            "invoiced",
            invoice_id=invoice.id,
            amount_cents=invoice.amount_due_cents,
        )
        return FeeInvoice(
            year=1,
            invoice_id=invoice.id,
            amount_cents=invoice.amount_due_cents,
            due_at=invoice.due_at,
        )

    async def _email_fee_invoice(self, fee: FeeInvoice) -> None:
        """The yearly program fee's invoice, to the partner (as each revenue share's is)."""
        number = self._facts.get("fee_invoice", {}).get("number") or fee.invoice_id
        due = f"{fee.due_at:%B %d, %Y}" if fee.due_at else "30 days from today"
        await self._notify(
            "fee_invoice",
            "Your Rocket.Chat Partner Program fee invoice",
            [
                (
                    f"Here is the invoice of the yearly partner program fee of "
                    f"{money(fee.amount_cents)} (year {fee.year})."
                ),
                f"Payment is due by {due} (net 30).",
            ],
            facts=[["Invoice", number], ["Amount", money(fee.amount_cents)], ["Due", due]],
        )

    async def _follow_fee_events(self) -> None:
        """The program fee paid in the billing system (`invoice_event`), recorded as the
        partnership records it; ends when the partnership is about to start."""
        while True:
            await workflow.wait_condition(lambda: bool(self._fee_events) or self._fee_events_over)
            if not self._fee_events:
                return
            event = self._fee_events.pop(0)
            fee = self._fee
            if fee is None or fee.paid:
                continue
            self._fee = fee.model_copy(update={"paid": True})
            self._facts["fee_invoice"] = {**self._facts.get("fee_invoice", {}), "paid": True}
            await self.decide(f"program_fee:{fee.year}", "billing", "paid", event_id=event.event_id)

    def _agreement_context(self, terms: ContractTerms) -> dict[str, Any]:
        app = self._require_app()
        assert self._goals is not None
        return {
            "agreement_number": f"RC-{app.partner_id}",
            "company": app.company,
            "country": app.country,
            "website": str(app.website),
            "partner_type": app.partner_type,
            "partner_type_label": PARTNER_TYPE_LABELS[app.partner_type],
            "services": [SERVICES[app.partner_type][s] for s in app.services],
            "term_months": terms.term_months,
            "support_contract_reference": terms.support_contract_reference,
            "fee_cents": YEARLY_PROGRAM_FEE_CENTS,
            "report_due_day": REPORT_DUE_DAY,
            "goals": [g.model_dump() for g in self._goals.goals],
        }

    async def _notify(
        self,
        step: str,
        headline: str,
        paragraphs: list[str],
        *,
        facts: list[list[str]] | None = None,
        **extra: Any,
    ) -> None:
        app = self._require_app()
        context = {
            "headline": headline,
            "company": app.company,
            "contact_name": app.contact.name,
            "paragraphs": paragraphs,
            "facts": facts or [],
        }
        await self.email(
            f"notice:{step}",
            [str(app.contact.email)],
            "rocketchat_notice",
            context,
            cc=["role:account_manager"],
            **extra,
        )

    async def _upsert_partner(self, status: str) -> None:
        await self.record_partner(self._partner_record(status))

    def _partner_record(self, status: str) -> PartnerRecord:
        app = self._require_app()
        return rocketchat_partner(
            app,
            status,
            {
                "services": app.services,
                "certifications": sorted(self._certifications),
                "goals": self._facts.get("goals", []),
                "term_months": self._terms.term_months if self._terms else None,
                "signed_at": self._facts.get("signed_at"),
                **self.summary_attributes(),
            },
        )

    async def _end(
        self, outcome: str, reason: str | None, **extra: Any
    ) -> RocketChatOnboardingResult:
        self.conclude(outcome, reason)
        return RocketChatOnboardingResult(
            partner_id=self._require_app().partner_id, outcome=outcome, reason=reason, **extra
        )

    def _require_app(self) -> RocketChatApplication:
        assert self._app is not None
        return self._app
