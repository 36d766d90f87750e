"""EvaluationLicense (`eval-license-{partner_id}`): the renewable Partner Evaluation License
(seed: "Partner Evaluation License").

Trial form (`[RESELLER]` after the organisation name, "Other" as "Where are you with
Mattermost"; only active VAR and SI partners asking for themselves: the organisation name and
the contact email's domain match the partner record) → checked against the partner records
(at intake, and here by the `check_evaluation_request` activity) → license desk review,
delivered within 2–3 business days (reminder on day 2, escalation after day 3) → checked
again, as the record may have changed during the review → a one-year Enterprise license for
up to 50 users, emailed → reminder 30 days before expiry with a renewal task → renewal issues
a new license (new idempotency key per license year; each renewal run checks the record
first) → ... Stops when the partner leaves (`partner_left`) or a renewal is declined. Each
license year is one run (continue-as-new), so the history stays bounded however many years
it runs.

A refused or rejected request ends its run, and the partner may ask again under the same id
(the form's `reusable_after`): each run chain keys its emails, audit records and licenses by
its first run id (`idempotency_scope`), so a new request is not taken for the old one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import (
        EVALUATION_SKU,
        EVALUATION_TERM_DAYS,
        EVALUATION_USERS,
        EvaluationCheck,
        EvaluationLicenseInput,
        EvaluationLicenseResult,
        EvaluationRenewal,
        EvaluationReview,
        PartnerLeft,
        evaluation_refusal,
    )
    from models.contracts import IssuedLicense, LicenseRequest

from workflows.calls import EXTERNAL, RECORD, call
from workflows.deadlines import Deadline, business_deadline, wait_until
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM

CALENDAR = "US"
# Patches (docs/determinism.md). New runs check the request against the partner record with
# `check_evaluation_request` (identity included) when they start, and key their effects by
# the run chain; histories from before looked the partner up with `get_partner`.
IDENTITY_PATCH = "evaluation-identity"
# The record is checked again after the review, just before a first license is issued (also
# for runs that were in review when this shipped).
ISSUE_CHECK_PATCH = "evaluation-identity-at-issue"

REVIEW_REQUEST = HumanTask(
    task="review_evaluation_license",
    handler="review_evaluation_license",
    assignee="license_desk",
    description=(
        "Review the partner's Evaluation License request against the certified-reseller records "
        "and approve delivery (within 2–3 business days)"
    ),
    model=EvaluationReview,
    example={"reviewer": "license-desk@mattermost.com", "decision": "approve"},
)
RENEW_LICENSE = HumanTask(
    task="renew_evaluation_license",
    handler="renew_evaluation_license",
    assignee="license_desk",
    description=(
        "The partner's Evaluation License expires in 30 days: renew it for another year, or let "
        "it expire"
    ),
    model=EvaluationRenewal,
    example={"decided_by": "license-desk@mattermost.com", "decision": "renew"},
)


@workflow.defn
class EvaluationLicense(ProcessWorkflow):
    """A partner's renewable one-year Enterprise evaluation license (50 users)."""

    process = "EvaluationLicense"
    human_tasks = (*ProcessWorkflow.human_tasks, REVIEW_REQUEST, RENEW_LICENSE)

    def __init__(self) -> None:
        super().__init__()
        self._input: EvaluationLicenseInput | None = None
        self._review: EvaluationReview | None = None
        self._renewal: EvaluationRenewal | None = None
        self._left: PartnerLeft | None = None
        self._scope: str | None = None  # set by the identity patch: keys of this run chain

    @workflow.signal
    def review_evaluation_license(self, payload: Any) -> None:
        """`{"reviewer": "license-desk@mattermost.com", "decision": "approve"}` or
        `{"reviewer": "…", "decision": "reject", "reason": "…"}`."""
        value = self.accept(REVIEW_REQUEST, payload, EvaluationReview)
        if value is not None and self._review is None:
            self._review = value

    @workflow.signal
    def renew_evaluation_license(self, payload: Any) -> None:
        """`{"decided_by": "license-desk@mattermost.com", "decision": "renew"}` or
        `{"decided_by": "…", "decision": "stop", "reason": "…"}`."""
        value = self.accept(RENEW_LICENSE, payload, EvaluationRenewal)
        if value is not None and self._renewal is None:
            self._renewal = value

    @workflow.signal
    def partner_left(self, payload: Any) -> None:
        """The partner left the program: no more licenses.
        `{"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"}`"""
        left = self.parse("partner_left", payload, PartnerLeft)
        if left is not None and self._left is None:
            self._left = left

    @workflow.run
    async def run(self, data: EvaluationLicenseInput) -> EvaluationLicenseResult:
        self._input = data
        form = data.form
        workflow.upsert_search_attributes(
            [PROGRAM.value_set("mattermost"), PARTNER_ID.value_set(form.partner_id)]
        )
        self._facts.update(
            partner_id=form.partner_id,
            organization=form.company,
            contact=form.contact.model_dump(),
            license_year=data.license_year,
            licenses=list(data.licenses),
            users=EVALUATION_USERS,
        )
        self.set_stage("checking_partner")
        if workflow.patched(IDENTITY_PATCH):
            info = workflow.info()
            self._scope = f"{info.workflow_id}:{info.first_execution_run_id}"
            check = await self._check_request()
            refusal, partner_type = check.refusal, check.partner_type
        else:
            partner = await self.find_partner(form.partner_id, "mattermost")
            refusal = evaluation_refusal(partner, form.partner_id)
            partner_type = partner.partner_type if partner else None
        if refusal:
            return await self._refuse(f"partner_check:{data.license_year}", refusal)
        self._facts["partner_type"] = partner_type

        if data.license_year == 1 and not await self._review_request():
            if self._left is not None:
                return await self._partner_left()
            assert self._review is not None
            await self.notify(
                "request:rejected",
                [form.contact.email],
                "evaluation_license_refused",
                self._mail(reason=self._review.reason),
            )
            return self._end("rejected", self._review.reason)

        # The seed's rule holds where the license moves: the partner record may have changed
        # during the review (renewal runs checked it just now, when they started).
        if data.license_year == 1 and workflow.patched(ISSUE_CHECK_PATCH):
            self.set_stage("checking_partner")
            if refusal := (await self._check_request()).refusal:
                return await self._refuse(f"issue_check:{data.license_year}", refusal)

        license_id, expires_at = await self._issue()
        licenses = [*data.licenses, license_id]
        self._facts["licenses"] = licenses

        # Reminder 30 days before expiry, with the renewal task.
        self.set_stage("licensed")
        remind_at = expires_at - timedelta(days=data.expiry_reminder_days)
        with self.waiting(lambda: self._left is not None):
            await wait_until(
                lambda: self._left is not None, remind_at, "evaluation license: expiry reminder"
            )
        if self._left is not None:
            return await self._partner_left(licenses)
        await self.notify(
            f"license:{data.license_year}:expiring",
            [form.contact.email],
            "evaluation_license_expiring",
            self._mail(
                license_id=license_id,
                expires_at=expires_at.isoformat(),
                days=data.expiry_reminder_days,
            ),
        )
        self.open_task(
            RENEW_LICENSE,
            expires_at,
            description=(
                f"The Evaluation License {license_id} of {form.company} expires on "
                f"{expires_at:%Y-%m-%d}: renew it for another year, or let it expire"
            ),
        )
        self.set_stage("renewal")
        decided = await self.wait_for(
            RENEW_LICENSE,
            lambda: self._renewal is not None or self._left is not None,
            Deadline(expires_at=expires_at),
        )
        self.close_task(RENEW_LICENSE.task)
        if self._left is not None:
            return await self._partner_left(licenses)
        if not decided or self._renewal is None:
            await self.decide(f"renewal:{data.license_year}", "system", "expired")
            return self._end("expired", "no renewal before the license expired", licenses)
        renewal = self._renewal
        await self.decide(
            f"renewal:{data.license_year}",
            renewal.decided_by,
            renewal.decision,
            reason=renewal.reason,
        )
        if renewal.decision == "stop":
            return self._end("stopped", renewal.reason or "renewal declined", licenses)
        await self.finish_handlers()
        workflow.continue_as_new(
            data.model_copy(
                update={
                    "license_year": data.license_year + 1,
                    "renewed_by": renewal.decided_by,
                    "licenses": licenses,
                    "starts_at": expires_at,
                }
            )
        )

    def idempotency_scope(self) -> str:
        return self._scope or super().idempotency_scope()

    async def _check_request(self) -> EvaluationCheck:
        """The request against the partner record as it is now (status, type, identity)."""
        form = self._require().form
        check: EvaluationCheck = await call(
            "check_evaluation_request",
            form,
            options=RECORD,
            result_type=EvaluationCheck,
            summary=f"check the request against partner {form.partner_id}",
        )
        return check

    async def _refuse(self, step: str, refusal: str) -> EvaluationLicenseResult:
        """The partner may not have the license (now): decided and, for a first request, the
        contact told why; a renewal run stops."""
        data = self._require()
        await self.decide(step, "system", "refused", reason=refusal)
        if data.license_year == 1:
            await self.notify(
                "request:refused",
                [data.form.contact.email],
                "evaluation_license_refused",
                self._mail(reason=refusal),
            )
            return self._end("refused", refusal)
        return self._end("stopped", refusal)

    async def _review_request(self) -> bool:
        now = workflow.now()
        reminder = await business_deadline(
            now, self._require().review_reminder_business_days, CALENDAR
        )
        due_at = await business_deadline(now, self._require().review_business_days, CALENDAR)
        self.open_task(REVIEW_REQUEST, due_at)
        self.set_stage("review")
        await self.wait_for(
            REVIEW_REQUEST,
            lambda: self._review is not None or self._left is not None,
            Deadline(reminders=[reminder], due_at=due_at),
        )
        self.close_task(REVIEW_REQUEST.task)
        if self._review is None:
            return False
        await self.decide(
            "review_evaluation_license",
            self._review.reviewer,
            self._review.decision,
            reason=self._review.reason,
        )
        return self._review.decision == "approve"

    async def _issue(self) -> tuple[str, Any]:
        data = self._require()
        form = data.form
        workflow_id = workflow.info().workflow_id
        now = workflow.now()
        starts_at = data.starts_at if data.starts_at and data.starts_at > now else now
        issued = await call(
            "issue_license",
            LicenseRequest(
                idempotency_key=f"{self.idempotency_scope()}:license:{data.license_year}",
                workflow_id=workflow_id,
                licensee=form.company,
                customer=form.company,
                customer_email=form.contact.email,
                sku=EVALUATION_SKU,
                users=EVALUATION_USERS,
                starts_at=starts_at,
                expires_at=starts_at + timedelta(days=EVALUATION_TERM_DAYS),
            ),
            options=EXTERNAL,
            result_type=IssuedLicense,
            summary=f"issue license for {EVALUATION_USERS} users",
        )
        self._facts.update(
            license_id=issued.license_id,
            license_starts_at=issued.starts_at.isoformat(),
            license_expires_at=issued.expires_at.isoformat(),
        )
        await self.decide(
            f"license:{data.license_year}",
            "system",
            "issued",
            license_id=issued.license_id,
            expires_at=issued.expires_at.isoformat(),
        )
        await self.notify(
            f"license:{data.license_year}:issued",
            [form.contact.email],
            "evaluation_license_issued",
            self._mail(
                license_id=issued.license_id,
                users=issued.users,
                starts_at=issued.starts_at.isoformat(),
                expires_at=issued.expires_at.isoformat(),
                license_year=data.license_year,
            ),
            attachments=[
                {"filename": issued.filename, "content": issued.content, "mime_type": "text/plain"}
            ],
        )
        return issued.license_id, issued.expires_at

    async def _partner_left(self, licenses: list[str] | None = None) -> EvaluationLicenseResult:
        left = self._left
        assert left is not None
        await self.decide("partner_left", left.decided_by, "stopped", reason=left.reason)
        return self._end("partner_left", left.reason, licenses)

    def _end(
        self, outcome: str, reason: str | None, licenses: list[str] | None = None
    ) -> EvaluationLicenseResult:
        data = self._require()
        self.conclude(outcome, reason)
        issued = licenses if licenses is not None else list(data.licenses)
        return EvaluationLicenseResult(
            partner_id=data.form.partner_id,
            outcome=outcome,
            reason=reason,
            licenses=issued,
            license_years=len(issued),
        )

    def _mail(self, **extra: Any) -> dict[str, Any]:
        form = self._require().form
        return {
            "company": form.company,
            "contact_name": form.contact.name,
            "partner_id": form.partner_id,
            **extra,
        }

    def _require(self) -> EvaluationLicenseInput:
        assert self._input is not None
        return self._input
