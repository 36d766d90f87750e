"""VarApplication (`var-application-{application_id}`): becoming a Mattermost Value-Added
Reseller (seed: "Becoming a Mattermost Value-Added Reseller").

Contact form → automatic pre-screen, each criterion with its evidence (existing customer,
two years of operating history, local-language support outside English-speaking countries,
embargo) → application review within 1–2 weeks (reminder at one week, escalation at two, on
the business calendar): approve, reject with a reason, or ask for more information (the
applicant answers, the review goes on) → the non-exclusive reseller agreement for the
approved territory and industries, click-signed → a Sales Manager assigned → online
training and the local support process confirmed → the partner record becomes an active
VAR (reseller discount, deal registration, directory listing, evaluation licenses). The
partner's DirectoryListing starts as soon as the agreement is signed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import (
        COUNTRY_NAMES,
        ApplicationReview,
        InformationProvided,
        LocalSupportConfirmed,
        PrescreenRequest,
        PrescreenResult,
        SalesManagerAssignment,
        TrainingCompleted,
        VarApplicationForm,
        VarApplicationResult,
    )
    from models.directory import DirectoryListingInput
    from models.pricing import DiscountBounds, agreed_discount_problem

from workflows.calls import LOCAL, call
from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.partner_application import PartnerApplicationWorkflow
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM
from workflows.signatures import sign_task

CALENDAR = "US"
REVIEW_REMINDER_BUSINESS_DAYS = 5  # one week
REVIEW_DUE_BUSINESS_DAYS = 10  # two weeks
INFO_REMINDER_BUSINESS_DAYS = (5, 10)
INFO_EXPIRY_BUSINESS_DAYS = 20
ONBOARDING_BUSINESS_DAYS = 5
ENABLEMENT_REMINDER_BUSINESS_DAYS = 20
ENABLEMENT_DUE_BUSINESS_DAYS = 30
# The discount of approvals recorded before the reviewer agreed one (histories whose pre-screen
# carries no discount bounds); new approvals agree it within the program's bounds.
LEGACY_DISCOUNT_PERCENT = 20

REVIEW_APPLICATION = HumanTask(
    task="review_application",
    handler="review_application",
    assignee="partner_manager",
    description=(
        "Review the Value-Added Reseller application against the criteria (within 1–2 weeks): "
        "approve with the agreed reseller discount (within the program's bounds), reject with "
        "a reason, or ask for more information"
    ),
    model=ApplicationReview,
    example={"reviewer": "partners@mattermost.com", "decision": "approve", "discount_percent": 20},
)
PROVIDE_INFORMATION = HumanTask(
    task="provide_information",
    handler="provide_information",
    assignee="partner",
    description="The applicant answers the reviewer's questions",
    model=InformationProvided,
    example={
        "answers": "Our support desk in Berlin answers in German and English.",
        "provided_by": "lena.hoffmann@example.com",
    },
)
SIGN_AGREEMENT = sign_task(
    "sign_var_agreement",
    "partner",
    (
        "The applicant signs the non-exclusive Mattermost Value-Added Reseller Agreement (link "
        "emailed to the contact)"
    ),
)
ASSIGN_SALES_MANAGER = HumanTask(
    task="assign_sales_manager",
    handler="assign_sales_manager",
    assignee="sales_manager",
    description=(
        "Assign the Sales Manager the new reseller works with on Mattermost Enterprise "
        "opportunities"
    ),
    model=SalesManagerAssignment,
    example={
        "sales_manager": {"name": "Sam Rivera", "email": "sam.rivera@mattermost.com"},
        "assigned_by": "sales-lead@mattermost.com",
    },
)
CONFIRM_TRAINING = HumanTask(
    task="confirm_training",
    handler="confirm_training",
    assignee="partner_manager",
    description="Confirm that the reseller completed the online training",
    model=TrainingCompleted,
    example={"completed_on": "2026-12-01", "confirmed_by": "partners@mattermost.com"},
)
CONFIRM_LOCAL_SUPPORT = HumanTask(
    task="confirm_local_support",
    handler="confirm_local_support",
    assignee="partner_manager",
    description="Confirm that the reseller's first- and second-tier local support process is "
    "in place",
    model=LocalSupportConfirmed,
    example={
        "process_summary": "Support desk in the local language, 9-17 local time, "
        "escalation to Mattermost",
        "languages": ["de"],
        "confirmed_by": "partners@mattermost.com",
    },
)


@workflow.defn
class VarApplication(PartnerApplicationWorkflow):
    """Value-Added Reseller application: pre-screen → review → agreement → enablement."""

    process = "VarApplication"
    human_tasks = (
        *ProcessWorkflow.human_tasks,
        REVIEW_APPLICATION,
        PROVIDE_INFORMATION,
        SIGN_AGREEMENT,
        ASSIGN_SALES_MANAGER,
        CONFIRM_TRAINING,
        CONFIRM_LOCAL_SUPPORT,
    )

    def __init__(self) -> None:
        super().__init__()
        self._application: VarApplicationForm | None = None
        self._review: ApplicationReview | None = None
        self._information: InformationProvided | None = None
        self._sales_manager: SalesManagerAssignment | None = None
        self._training: TrainingCompleted | None = None
        self._support: LocalSupportConfirmed | None = None
        self._discount_bounds: DiscountBounds | None = None

    # --- handlers -----------------------------------------------------------------------------

    @workflow.signal
    def review_application(self, payload: Any) -> None:
        """The reviewer's decision: `{"reviewer": "partners@mattermost.com",
        "decision": "approve", "discount_percent": 20}` (the agreed reseller discount, within
        the program's bounds),
        `{"reviewer": "…", "decision": "reject", "reason": "…"}` or
        `{"reviewer": "…", "decision": "request_information", "questions": "…"}`."""
        review = self.accept(REVIEW_APPLICATION, payload, ApplicationReview)
        if review is not None and self._review is None and self._agreeable(review):
            self._review = review

    def _agreeable(self, review: ApplicationReview) -> bool:
        """An approval agrees a discount within the program's bounds (pre-screened with the
        application; histories without them approve without one): refused otherwise."""
        if review.decision != "approve" or self._discount_bounds is None:
            return True
        problem = agreed_discount_problem(review.discount_percent, self._discount_bounds)
        if problem is None:
            return True
        error = {"field": "discount_percent", "message": problem}
        self.note(
            REVIEW_APPLICATION.task, "system", "rejected", reason="invalid input", errors=[error]
        )
        return False

    @workflow.signal
    def provide_information(self, payload: Any) -> None:
        """The applicant's answers: `{"answers": "…",
        "provided_by": "lena.hoffmann@example.com"}`."""
        info = self.accept(PROVIDE_INFORMATION, payload, InformationProvided)
        if info is not None and self._information is None:
            self._information = info

    @workflow.signal
    def assign_sales_manager(self, payload: Any) -> None:
        """`{"sales_manager": {"name": "Sam Rivera", "email": "sam.rivera@mattermost.com"},
        "assigned_by": "sales-lead@mattermost.com"}`"""
        value = self.accept(ASSIGN_SALES_MANAGER, payload, SalesManagerAssignment)
        if value is not None and self._sales_manager is None:
            self._sales_manager = value

    @workflow.signal
    def confirm_training(self, payload: Any) -> None:
        """`{"completed_on": "2026-12-01", "confirmed_by": "partners@mattermost.com"}`"""
        value = self.accept(CONFIRM_TRAINING, payload, TrainingCompleted)
        if value is not None and self._training is None:
            self._training = value

    @workflow.signal
    def confirm_local_support(self, payload: Any) -> None:
        """`{"process_summary": "…", "languages": ["de"],
        "confirmed_by": "partners@mattermost.com"}`"""
        value = self.accept(CONFIRM_LOCAL_SUPPORT, payload, LocalSupportConfirmed)
        if value is not None and self._support is None:
            self._support = value

    # --- the process ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, application: VarApplicationForm) -> VarApplicationResult:
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
            founded_on=application.founded_on.isoformat(),
            existing_customer=application.existing_customer,
            territory=application.territory,
            industries=application.industries,
            contact=application.contact.model_dump(),
        )
        self.set_stage("prescreen")
        screen = await call(
            "prescreen_application",
            PrescreenRequest(application=application, review_date=workflow.now().date()),
            options=LOCAL.taking(30),
            result_type=PrescreenResult,
            summary=f"pre-screen {application.company} ({application.country})",
        )
        self._discount_bounds = screen.discount_bounds
        self._facts.update(
            criteria=[c.model_dump() for c in screen.criteria],
            language_data=screen.data_source,
            official_languages=screen.official_languages,
        )
        await self.decide(
            "prescreen",
            "system",
            "passed" if screen.passed else "failed",
            criteria=[c.model_dump() for c in screen.criteria],
        )
        if not screen.passed:
            embargoed = any(c.name == "embargo" for c in screen.failed)
            return await self._decline("embargoed" if embargoed else "declined", screen)

        review = await self._review_loop(screen)
        if review is None:
            return await self._end("rejected", "no answer to the request for more information")
        if review.decision == "reject":
            await self.notify(
                "application:rejected",
                [application.contact.email],
                "application_declined",
                self._mail(reasons=[review.reason]),
            )
            return await self._end("rejected", review.reason)

        # The agreement is for the approved geography and industries (by default, those sought).
        territory = review.territory or application.territory
        industries = review.industries or application.industries
        discount = (
            LEGACY_DISCOUNT_PERCENT if review.discount_percent is None else review.discount_percent
        )
        self._facts.update(
            approved_territory=territory,
            approved_industries=industries,
            agreed_discount_percent=discount,
        )
        await self.tell_approved(  # the partner's entity starts (workflows/partner.py)
            partner_id=partner_id,
            partner_type="value_added_reseller",
            company=application.company,
            country=application.country,
            website=str(application.website),
            contact=application.contact,
            attributes={
                "application_id": application.application_id,
                "territory": territory,
                "industries": industries,
                "discount_percent": discount,
            },
        )
        self.set_stage("agreement")
        signed = await self.collect_signature(
            SIGN_AGREEMENT,
            kind="value_added_reseller_agreement",
            template="value_added_reseller_agreement",
            context=self._agreement_context(),
            signer_name=application.contact.name,
            signer_email=application.contact.email,
            company=application.company,
        )
        if signed is None:
            return await self._end(
                "agreement_expired", "the reseller agreement was not signed in time"
            )
        attributes: dict[str, Any] = {
            "application_id": application.application_id,
            "territory": territory,
            "industries": industries,
            "agreement_id": signed.agreement_id,
            "agreement_signed_at": signed.signed_at.isoformat(),
        }
        common: dict[str, Any] = {
            "partner_id": partner_id,
            "partner_type": "value_added_reseller",
            "company": application.company,
            "country": application.country,
            "website": str(application.website),
            "contact": application.contact,
        }
        await self.save_partner(**common, status="applicant", attributes=attributes)
        await self.start_directory_listing(
            DirectoryListingInput(
                partner_id=partner_id,
                partner_type="value_added_reseller",
                company=application.company,
                contact=application.contact,
                territory=territory,
                industries=industries,
                city=application.city,
                country=application.country,
                website=str(application.website),
            )
        )

        self.set_stage("onboarding")
        sales = await self._assign_sales_manager()
        attributes["sales_manager"] = sales.sales_manager.model_dump()
        await self.save_partner(**common, status="applicant", attributes=attributes)
        self.set_stage("enablement")
        await self._enablement()
        assert self._training is not None and self._support is not None
        attributes.update(
            training_completed_at=self._training.completed_on.isoformat(),
            local_support={
                "summary": self._support.process_summary,
                "languages": self._support.languages,
            },
            # The agreed rate, on record: a record without it is read as an agreement signed
            # before rates were agreed (20%, `models.pricing.agreed_discount_percent`), which
            # would turn an agreed 0% into 20%. An activity's input, not a new command.
            discount_percent=discount,
        )
        await self.save_partner(
            **common,
            status="active",
            discount_percent=discount,
            attributes=attributes,
        )
        await self.decide("activation", "system", "active", discount_percent=discount)
        await self.notify(
            "partner:welcome",
            [application.contact.email],
            "partner_welcome",
            self._mail(
                partner_type="Value-Added Reseller",
                discount_percent=discount,
                sales_manager=sales.sales_manager.model_dump(),
                benefits=[
                    (
                        "the reseller discount on Mattermost Enterprise list prices (on approved "
                        "deal registrations)"
                    ),
                    "deal registration",
                    "your listing in the Mattermost partner directory, with your territory",
                    "a renewable Partner Evaluation License for up to 50 users",
                ],
            ),
        )
        return await self._end("active", None)

    async def _review_loop(self, screen: PrescreenResult) -> ApplicationReview | None:
        application = self._require()
        round_number = 0
        while True:
            round_number += 1
            now = workflow.now()
            reminder = await business_deadline(now, REVIEW_REMINDER_BUSINESS_DAYS, CALENDAR)
            due_at = await business_deadline(now, REVIEW_DUE_BUSINESS_DAYS, CALENDAR)
            self._review = None
            criteria = "; ".join(
                f"{c.name}: {'ok' if c.passed else 'FAILED'} ({c.evidence})"
                for c in screen.criteria
            )
            self.open_task(
                REVIEW_APPLICATION,
                due_at,
                description=(
                    f"Review the VAR application of {application.company} "
                    f"({application.country}), round {round_number}. Pre-screen: {criteria}"
                    f"{self._discount_span()}"
                ),
                example=self._review_example(),
            )
            self.set_stage("application_review")
            review_step = f"review_application:{round_number}"
            await self.wait_for(
                REVIEW_APPLICATION,
                lambda: self._review is not None,
                Deadline(
                    reminders=[reminder],
                    due_at=due_at,
                    remind=self.clock.reminder_email(REVIEW_APPLICATION, step=review_step),
                    escalate=self.clock.escalation_email(REVIEW_APPLICATION, step=review_step),
                ),
            )
            self.close_task(REVIEW_APPLICATION.task)
            review = self._review
            assert review is not None
            await self.decide(
                f"review_application:{round_number}",
                review.reviewer,
                review.decision,
                reason=review.reason,
                questions=review.questions,
                notes=review.notes,
                discount_percent=review.discount_percent if review.decision == "approve" else None,
            )
            if review.decision != "request_information":
                return review
            if not await self._ask(round_number, review.questions or ""):
                return None

    async def _ask(self, round_number: int, questions: str) -> bool:
        application = self._require()
        now = workflow.now()
        reminders = [await business_deadline(now, d, CALENDAR) for d in INFO_REMINDER_BUSINESS_DAYS]
        expires_at = await business_deadline(now, INFO_EXPIRY_BUSINESS_DAYS, CALENDAR)
        self._information = None
        self.open_task(
            PROVIDE_INFORMATION,
            expires_at,
            description=f"The applicant answers the reviewer's questions: {questions}",
            example={**PROVIDE_INFORMATION.example, "provided_by": application.contact.email},
        )
        self.set_stage("awaiting_information")
        context = self._mail(questions=questions, expires_at=expires_at.isoformat())
        await self.notify(
            f"information:{round_number}:request",
            [application.contact.email],
            "application_information_request",
            context,
        )

        async def remind(number: int) -> None:
            await self.notify(
                f"information:{round_number}:reminder:{number}",
                [application.contact.email],
                "application_information_request",
                {**context, "reminder_number": number},
            )

        answered = await self.wait_for(
            PROVIDE_INFORMATION,
            lambda: self._information is not None,
            Deadline(reminders=reminders, expires_at=expires_at, remind=remind),
        )
        self.close_task(PROVIDE_INFORMATION.task)
        if answered:
            assert self._information is not None
            self._facts.setdefault("information", []).append(
                {"questions": questions, "answers": self._information.answers}
            )
            await self.decide(
                f"provide_information:{round_number}",
                self._information.provided_by,
                "answered",
                answers=self._information.answers,
            )
        return answered

    async def _assign_sales_manager(self) -> SalesManagerAssignment:
        due_at = await business_deadline(workflow.now(), ONBOARDING_BUSINESS_DAYS, CALENDAR)
        self.open_task(ASSIGN_SALES_MANAGER, due_at)
        await self.wait_for(
            ASSIGN_SALES_MANAGER, lambda: self._sales_manager is not None, Deadline(due_at=due_at)
        )
        self.close_task(ASSIGN_SALES_MANAGER.task)
        assert self._sales_manager is not None
        self._facts["sales_manager"] = self._sales_manager.sales_manager.model_dump()
        await self.decide(
            "assign_sales_manager",
            self._sales_manager.assigned_by,
            "assigned",
            sales_manager=self._sales_manager.sales_manager.model_dump(),
        )
        return self._sales_manager

    async def _enablement(self) -> None:
        now = workflow.now()
        reminder = await business_deadline(now, ENABLEMENT_REMINDER_BUSINESS_DAYS, CALENDAR)
        due_at = await business_deadline(now, ENABLEMENT_DUE_BUSINESS_DAYS, CALENDAR)
        self.open_task(CONFIRM_TRAINING, due_at)
        self.open_task(CONFIRM_LOCAL_SUPPORT, due_at)

        async def training() -> None:
            await self.wait_for(
                CONFIRM_TRAINING,
                lambda: self._training is not None,
                Deadline(reminders=[reminder], due_at=due_at),
            )
            self.close_task(CONFIRM_TRAINING.task)
            assert self._training is not None
            await self.decide(
                "confirm_training",
                self._training.confirmed_by,
                "confirmed",
                completed_on=self._training.completed_on.isoformat(),
            )

        async def support() -> None:
            await self.wait_for(
                CONFIRM_LOCAL_SUPPORT,
                lambda: self._support is not None,
                Deadline(reminders=[reminder], due_at=due_at),
            )
            self.close_task(CONFIRM_LOCAL_SUPPORT.task)
            assert self._support is not None
            await self.decide(
                "confirm_local_support",
                self._support.confirmed_by,
                "confirmed",
                languages=self._support.languages,
            )

        await asyncio.gather(training(), support())

    async def _decline(self, outcome: str, screen: PrescreenResult) -> VarApplicationResult:
        application = self._require()
        reasons = [c.evidence for c in screen.failed]
        await self.notify(
            "application:declined",
            [application.contact.email],
            "application_declined",
            self._mail(reasons=reasons),
        )
        return await self._end(outcome, "; ".join(reasons))

    async def _end(self, outcome: str, reason: str | None) -> VarApplicationResult:
        application = self._require()
        self.conclude(outcome, reason)
        if outcome != "active":
            await self.decide("outcome", "system", outcome, reason=reason)
        return VarApplicationResult(
            application_id=application.application_id,
            partner_id=application.resolved_partner_id,
            outcome=outcome,
            reason=reason,
        )

    def _discount_span(self) -> str:
        bounds = self._discount_bounds
        if bounds is None:
            return ""
        return (
            f". An approval agrees the reseller discount (discount_percent), between "
            f"{bounds.min_percent}% and {bounds.max_percent}%"
        )

    def _review_example(self) -> dict[str, Any]:
        """The task's example: an approval with a discount within the bounds (none in
        histories without bounds)."""
        example = dict(REVIEW_APPLICATION.example)
        bounds = self._discount_bounds
        if bounds is None:
            example.pop("discount_percent")
        elif not bounds.min_percent <= example["discount_percent"] <= bounds.max_percent:
            example["discount_percent"] = bounds.min_percent
        return example

    def _agreement_context(self) -> dict[str, Any]:
        application = self._require()
        territory = self._facts.get("approved_territory") or application.territory
        industries = self._facts.get("approved_industries") or application.industries
        return {
            "agreement_number": f"VAR-{application.application_id}",
            "effective_date": workflow.now().date().isoformat(),
            "company": application.company,
            "city": application.city,
            "country": COUNTRY_NAMES.get(application.country, application.country),
            "territory": [f"{COUNTRY_NAMES.get(code, code)} ({code})" for code in territory],
            "industries": industries,
            "support_languages": sorted(
                set(application.first_tier_support_languages)
                | set(application.second_tier_support_languages)
            ),
            "discount_percent": self._facts.get("agreed_discount_percent", LEGACY_DISCOUNT_PERCENT),
        }

    def _mail(self, **extra: Any) -> dict[str, Any]:
        application = self._require()
        return {
            "company": application.company,
            "contact_name": application.contact.name,
            "application_id": application.application_id,
            "program": "Mattermost Value-Added Reseller Program",
            **extra,
        }

    def _require(self) -> VarApplicationForm:
        assert self._application is not None
        return self._application
