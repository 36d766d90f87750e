"""DealRegistration (`deal-{deal_number}`): a Value-Added Reseller's customer opportunity.

Screening (embargo; channel conflicts flagged to the reviewer; the partner record read: a
customer country or industry outside the reseller agreement's territory or industries flagged
too) → review by the partner's Sales Manager (the review and the quotation are assigned to the
address the VAR application recorded, reminders go there; the `sales_manager` role when none is
on record, `ROUTING_PATCH`): approve, reject, or request more information (the partner
answers by form or signal, the review goes on, any number of rounds) → approved: the
opportunity is protected (the input's protection_days, PARTNERFLOW_DEAL_PROTECTION_DAYS at
intake, 90 by default; reminder; lapses without a quotation) and the reseller discount
applies → the Sales Manager's quotation (with the customer's contact email for the license
key) → the customer's click-signature on the quotation → the partner's purchase order →
`OrderFulfillment` (child) to a paid invoice.

The license goes to the quotation's license contact: the order emails the license (and the
terms to accept) to the purchase order's end-customer contact, so a purchase order whose
end-customer contact email differs from the quotation's `license_contact_email` is refused,
naming both addresses (the update `submit_purchase_order` refuses it at once, nothing
changes); the partner sends it again with the quotation's contact. (Quotations signed before
this rule, `LICENSE_CONTACT_PATCH`, accept the contact a purchase order names.)

If the customer buys online instead, the partner is owed a referral fee (the discount off
list price), tracked as a finance task until paid. The partner may withdraw at any stage
before the purchase order.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import PartnerLeft
    from models.contracts import Contact, OrderFulfillmentInput, OrderLine, PurchaseOrder
    from models.deals import (
        PAYMENTS_EMAIL,
        AgreementFit,
        ApprovalClaim,
        ClaimResult,
        DealConflict,
        DealConflictQuery,
        DealInformation,
        DealPurchaseOrder,
        DealRecord,
        DealRegistrationInput,
        DealReview,
        PurchasedOnline,
        Quotation,
        ReferralFeePaid,
        ReferralFeeRecord,
        SalesOutcome,
        Withdrawal,
        agreement_fit,
        agreement_flag,
        license_contact_mismatch,
        normalize_company,
        referral_fee_note,
        sales_manager_of,
    )
    from models.orders import review_order_terms
    from models.pricing import purchase_referral_fee, quote

from workflows.calls import RECORD, call
from workflows.deadlines import Deadline, Escalate, Remind, business_deadline
from workflows.deal_routing import ROUTING_PATCH, person_escalation, person_reminder
from workflows.human_tasks import HumanTask
from workflows.partner_link import DEAL_EVENTS_PATCH, tell_deal_status
from workflows.process import ProcessWorkflow
from workflows.sales import CALENDAR, SalesWorkflow
from workflows.search_attributes import DEAL_NUMBER, PARTNER_ID, PROGRAM
from workflows.signatures import sign_task

REVIEW = HumanTask(
    task="review_deal",
    handler="review_deal",
    assignee="sales_manager",
    description=(
        "Review the deal registration: approve, reject (reason required) or request more "
        "information (question)"
    ),
    model=DealReview,
    example={"reviewer": "sales-manager@mattermost.com", "decision": "approve"},
)
ANSWER = HumanTask(
    task="provide_deal_information",
    handler="provide_deal_information",
    assignee="partner",
    description=(
        "Answer the reviewer's question about the deal registration (form `deal-information` or "
        "this signal)"
    ),
    model=DealInformation,
    example={"answered_by": "partner@example.com", "answer": "…"},
)
QUOTE = HumanTask(
    task="submit_quotation",
    handler="submit_quotation",
    assignee="sales_manager",
    description=(
        "Prepare the quotation for the approved deal: quote number, list price, discount, net "
        "price and the customer's contact email for the license key"
    ),
    model=Quotation,
    example={},
)
SIGN_QUOTE = sign_task(
    "sign_quotation",
    "end_customer",
    "The end customer signs the quotation (signed link emailed to the customer's contact)",
)
PURCHASE_ORDER = HumanTask(
    task="submit_purchase_order",
    handler="submit_purchase_order",
    assignee="partner",
    description=(
        "Send the purchase order for the signed quotation: billed to the reseller, amount = the "
        "quotation's net price, with the end customer's details; the end customer's contact is "
        "the quotation's license contact (the license goes there)"
    ),
    model=DealPurchaseOrder,
    example={},
)
REFERRAL_FEE = HumanTask(
    task="record_referral_fee_paid",
    handler="record_referral_fee_paid",
    assignee="finance",
    description=(
        "Pay the partner's referral-fee invoice (sent to payments@mattermost.com) and record the "
        "payment"
    ),
    model=ReferralFeePaid,
    example={},
)
REVIEW_REMINDER = timedelta(hours=4)
# A purchase order's end-customer contact must be the quotation's license contact; workflows
# whose quotation was signed before this rule accept the contact a purchase order names.
LICENSE_CONTACT_PATCH = "po-license-contact"
# The referral fee follows what the customer bought online (the report's seats, list price and
# term); workflows whose purchase was reported before this rule owe the registered seats' discount.
PURCHASE_FEE_PATCH = "referral-fee-from-purchase"


@workflow.defn
class DealRegistration(SalesWorkflow):
    """Deal registration of a Value-Added Reseller: review → quotation → signature → PO → order."""

    process = "DealRegistration"
    _partner_told: bool | None = None  # DEAL_EVENTS_PATCH once asked (`_tells_partner`)
    _offboarded: PartnerLeft | None = None  # the partner's entity offboarded the partner
    human_tasks = (
        *ProcessWorkflow.human_tasks,
        REVIEW,
        ANSWER,
        QUOTE,
        SIGN_QUOTE,
        PURCHASE_ORDER,
        REFERRAL_FEE,
    )

    def __init__(self) -> None:
        super().__init__()
        self._deal: DealRegistrationInput | None = None
        self._review: DealReview | None = None
        self._answer: DealInformation | None = None
        self._quote: Quotation | None = None
        self._po: DealPurchaseOrder | None = None
        self._withdrawal: Withdrawal | None = None
        self._online: PurchasedOnline | None = None
        self._fee_paid: ReferralFeePaid | None = None
        self._approved = False
        self._quote_signed = False
        self._license_contact_rule = False  # LICENSE_CONTACT_PATCH, set as the quote is signed
        self._closed = False
        self._fee_cents = 0
        self._fee_from_purchase = False  # PURCHASE_FEE_PATCH, asked as the purchase is reported
        self._protected_until: datetime | None = None
        self._routed = False  # ROUTING_PATCH, asked as the run starts
        self._sales_manager: Contact | None = None  # the partner's, when on record
        self._agreement: AgreementFit | None = None

    # --- handlers ----------------------------------------------------------------------------

    @workflow.signal
    def review_deal(self, payload: Any) -> None:
        """Sales manager's decision: `{"reviewer": "sales-manager@mattermost.com",
        "decision": "approve"}`,
        `{"reviewer": "...", "decision": "reject", "reason": "..."}` or
        `{"reviewer": "...", "decision": "request_information", "question": "..."}`."""
        review = self.accept(REVIEW, payload, DealReview)
        if review is not None and self._review is None:
            self._review = review

    @workflow.signal
    def provide_deal_information(self, payload: Any) -> None:
        """The partner answers the reviewer's question (also the `deal-information` form):
        `{"answered_by": "lena@nordlicht-it.example", "answer": "The customer runs a pilot..."}`"""
        answer = self.accept(ANSWER, payload, DealInformation)
        if answer is None or self._answer is not None:
            return
        if answer.deal_number and answer.deal_number != self._require().deal_number:
            self.note(
                ANSWER.task,
                answer.answered_by,
                "rejected",
                field="deal_number",
                reason=(
                    f"the answer is for deal {answer.deal_number}, not "
                    f"{self._require().deal_number}"
                ),
            )
            return
        self._answer = answer

    @workflow.signal
    def submit_quotation(self, payload: Any) -> None:
        """The Sales Manager's quotation (the pending task's example has the computed prices):
        `{"quote_number": "Q-2026-0042", "prepared_by": "sales-manager@mattermost.com",
        "seats": 250,
        "list_unit_price_cents": 12000, "discount_percent": 20, "net_price_cents": 2400000,
        "license_contact_email": "jonas.weber@hanse-logistik.example"}`"""
        quotation = self.accept(QUOTE, payload, Quotation)
        if quotation is None or self._quote is not None:
            return
        deal = self._require()
        if quotation.discount_percent != deal.discount_percent:
            self.note(
                QUOTE.task,
                quotation.prepared_by,
                "rejected",
                field="discount_percent",
                reason=(
                    f"the approved registration's reseller discount is {deal.discount_percent}%, "
                    f"not {quotation.discount_percent}%"
                ),
            )
            return
        expected = quote(quotation.list_unit_price_cents, quotation.seats, deal.discount_percent)
        if quotation.net_price_cents != expected.net_cents:
            self.note(
                QUOTE.task,
                quotation.prepared_by,
                "rejected",
                field="net_price_cents",
                reason=(
                    f"net price {quotation.net_price_cents} cents does not follow from the list "
                    f"price and discount: expected {expected.net_cents} cents"
                ),
            )
            return
        self._quote = quotation

    @workflow.signal
    def submit_purchase_order(self, payload: Any) -> None:
        """The partner's purchase order, only after the customer signed the quotation; the end
        customer's contact must be the quotation's license contact (the license goes there):
        `{"number": "PO-4711", "submitted_by": "lena@nordlicht-it.example", "amount_cents": 2400000,
        "bill_to": "Nordlicht IT-Systemhaus GmbH", "issued_by": "reseller",
        "end_customer": {..., "contact": {"name": "...", "email": "<license_contact_email>"}}}`"""
        if not self._quote_signed and self._po is None and not self._closed:
            self.note(
                PURCHASE_ORDER.task,
                "system",
                "rejected",
                reason=(
                    "the customer has not signed the quotation yet: a purchase order is accepted "
                    "only after the customer's signature on the quotation"
                ),
            )
            return
        po = self.accept(PURCHASE_ORDER, payload, DealPurchaseOrder)
        if po is None or self._po is not None:
            return
        if problems := self._po_problems(po):
            self.note(
                PURCHASE_ORDER.task,
                po.submitted_by,
                "rejected",
                reason="; ".join(p["message"] for p in problems),
                errors=problems,
            )
            return
        self._po = po

    @workflow.signal
    def withdraw(self, payload: Any) -> None:
        """The partner withdraws the registration (any stage before the purchase order):
        `{"withdrawn_by": "lena@nordlicht-it.example",
        "reason": "The customer postponed the project"}`"""
        withdrawal = self.parse("withdraw", payload, Withdrawal)
        if withdrawal is None:
            return
        if self._po is not None or self._closed or self._interrupt is not None:
            self.note(
                "withdraw",
                withdrawal.withdrawn_by,
                "rejected",
                reason=f"the registration can no longer be withdrawn (stage {self._stage})",
            )
            return
        self._withdrawal = withdrawal
        self._interrupt = "withdrawn"
        self.note("withdraw", withdrawal.withdrawn_by, "accepted", reason=withdrawal.reason)

    @workflow.signal
    def partner_offboarded(self, payload: Any) -> None:
        """The partner was offboarded (sent by its `Partner` entity): an open registration
        releases its protection and its reviewer is told; one with a purchase order goes on
        (the customer keeps its order).
        `{"reason": "…", "decided_by": "partners@mattermost.com"}`"""
        left = self.parse("partner_offboarded", payload, PartnerLeft)
        if left is None:
            return
        if self._po is not None or self._closed or self._interrupt is not None:
            self.note("partner_offboarded", left.decided_by, "ignored", stage=self._stage)
            return
        self._offboarded = left
        self._interrupt = "partner_offboarded"
        self.note("partner_offboarded", left.decided_by, "accepted", reason=left.reason)

    @workflow.signal
    def customer_purchased_online(self, payload: Any) -> None:
        """The registered customer bought online instead; on an approved, protected
        registration the partner is owed a referral fee (also the `deal-purchased-online` form):
        `{"reported_by": "sales@mattermost.com", "online_order_reference": "WEB-2026-4411",
        "seats": 250, "list_unit_price_cents": 12000, "term_months": 12}`; the fee is the
        registration's discount off that purchase's list price (reports without the purchase:
        off the registered seats' list price)"""
        report = self.parse("customer_purchased_online", payload, PurchasedOnline)
        if report is None:
            return
        if (
            not self._approved
            or self._po is not None
            or self._closed
            or self._interrupt is not None
        ):
            self.note(
                "customer_purchased_online",
                report.reported_by,
                "rejected",
                reason=(
                    "a referral fee is owed only on an approved, protected registration without "
                    f"a purchase order (stage {self._stage})"
                ),
            )
            return
        self._online = report
        # Asked here, as the report wakes the workflow, before any local activity of the task.
        self._fee_from_purchase = report.has_purchase and workflow.patched(PURCHASE_FEE_PATCH)
        self._interrupt = "purchased_online"
        self.note(
            "customer_purchased_online",
            report.reported_by,
            "accepted",
            online_order_reference=report.online_order_reference,
        )

    @workflow.signal
    def record_referral_fee_paid(self, payload: Any) -> None:
        """Finance paid the partner's referral-fee invoice:
        `{"recorded_by": "finance@mattermost.com", "amount_cents": 600000,
        "reference": "PAY-123"}`"""
        paid = self.accept(REFERRAL_FEE, payload, ReferralFeePaid)
        if paid is None or self._fee_paid is not None:
            return
        if paid.amount_cents != self._fee_cents:
            self.note(
                REFERRAL_FEE.task,
                paid.recorded_by,
                "rejected",
                field="amount_cents",
                reason=f"amount {paid.amount_cents} differs from the referral fee "
                f"{self._fee_cents}",
            )
            return
        self._fee_paid = paid

    # --- the process ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, deal: DealRegistrationInput) -> SalesOutcome:
        self._deal = deal
        # Asked first, before any local activity of the run's first workflow task.
        self._routed = workflow.patched(ROUTING_PATCH)
        self._facts = self._deal_facts()
        workflow.upsert_search_attributes(
            [
                DEAL_NUMBER.value_set(deal.deal_number),
                PROGRAM.value_set("mattermost"),
                *(
                    [PARTNER_ID.value_set(deal.partner.partner_id)]
                    if deal.partner.partner_id
                    else []
                ),
            ]
        )
        self.set_stage("screening")
        await self._record("screening")
        address = deal.end_customer.address
        if refusal := await self.screen(
            deal.end_customer.legal_name,
            address.country,
            address.subdivision,
            step="screening:intake",
        ):
            await self._tell("refused", "refused", reason=refusal)
            return await self._end("embargoed", refusal)
        await self._check_conflicts()
        if self._routed:
            await self._route()
        await self._record("in_review")
        await self._tell("received", "received")

        decision = await self._review_rounds()
        if self._interrupt:
            return await self._interrupted()
        assert decision is not None
        if decision.decision == "reject":
            await self._tell("rejected", "not approved", reason=decision.reason)
            return await self._end("rejected", decision.reason)

        if not await self._protected_until_quoted():
            if self._interrupt:
                return await self._interrupted()
            await call(
                "release_deal_claims",
                deal.deal_number,
                options=RECORD,
                summary=f"release the opportunity of {deal.deal_number}",
            )
            reason = f"no quotation within the {deal.protection_days}-day protection period"
            await self.decide("protection", "system", "lapsed", reason=reason)
            await self._tell("lapsed", "lapsed", reason=reason)
            return await self._end("lapsed", reason)

        signed = await self._collect_quote_signature()
        if self._interrupt:
            return await self._interrupted()
        if not signed:
            await call(
                "release_deal_claims",
                deal.deal_number,
                options=RECORD,
                summary=f"release the opportunity of {deal.deal_number}",
            )
            reason = "the customer did not sign the quotation before the link expired"
            await self._tell("quotation_expired", "quotation expired", reason=reason)
            return await self._end("quotation_expired", reason)

        if not await self._wait_for_purchase_order():
            return await self._interrupted()
        return await self._order()

    # --- steps ---------------------------------------------------------------------------------

    async def _check_conflicts(self) -> None:
        deal = self._require()
        conflicts = await call(
            "find_deal_conflicts",
            DealConflictQuery(
                deal_number=deal.deal_number,
                partner_id=deal.partner.partner_id or "",
                end_customer_name=deal.end_customer.legal_name,
                contact_email=deal.end_customer.contact.email,
                sku=deal.sku,
            ),
            options=RECORD,
            result_type=list[DealConflict],
            summary=f"channel conflicts: {deal.end_customer.legal_name} / {deal.sku}",
        )
        self._facts["channel_conflicts"] = [c.model_dump() for c in conflicts]
        if conflicts:
            await self.decide(
                "screening:channel_conflict",
                "system",
                "flagged",
                conflicts=[c.model_dump() for c in conflicts],
            )

    async def _route(self) -> None:
        """The partner record: its Sales Manager gets the review and the quotation (the role
        when none is on record), and a deal outside the agreement's territory or industries is
        flagged to the reviewer with the facts of both."""
        deal = self._require()
        partner_id = deal.partner.partner_id
        record = await self.find_partner(partner_id) if partner_id else None
        attributes = record.attributes if record is not None else {}
        self._sales_manager = sales_manager_of(attributes)
        self._agreement = agreement_fit(
            attributes, deal.end_customer.address.country, deal.industry
        )
        manager = self._sales_manager
        self._facts["sales_manager"] = manager.model_dump(mode="json") if manager else None
        self._facts["agreement"] = (
            self._agreement.model_dump() | {"flagged": self._agreement.flagged}
            if self._agreement is not None
            else None
        )
        if self._agreement is not None and self._agreement.flagged:
            await self.decide(
                "screening:outside_agreement",
                "system",
                "flagged",
                findings=self._agreement.findings(),
                **self._agreement.model_dump(),
            )

    def _review_description(self) -> str:
        conflicts = self._facts.get("channel_conflicts") or []
        flags = [agreement_flag(self._agreement)] if self._agreement is not None else []
        if conflicts:
            listed = "; ".join(
                f"{c['deal_number']} by {c['partner_company']} ({c['status']}, same "
                f"{c['matched_on']})"
                for c in conflicts
            )
            flags.insert(0, f"CHANNEL CONFLICT: {listed}.")
        return " ".join([*filter(None, flags), REVIEW.description])

    def _assigned(self) -> dict[str, Any]:
        """Whom a Sales Manager's task is assigned to: the partner's Sales Manager's address;
        nothing (the role alone) when none is on record."""
        if self._sales_manager is None:
            return {}
        return {"assigned_to": str(self._sales_manager.email)}

    def _deadline_emails(self, spec: HumanTask) -> dict[str, Any]:
        """The reminders and the escalation of a Sales Manager's task: to the partner's Sales
        Manager (escalation also to the role and operations, as before); the defaults when none
        is on record."""
        if self._sales_manager is None:
            return {}
        address = str(self._sales_manager.email)
        return {
            "remind": person_reminder(self, spec, address),
            "escalate": person_escalation(self, spec, address),
        }

    async def _review_rounds(self) -> DealReview | None:
        """Review rounds until approved or rejected; None when interrupted."""
        deal = self._require()
        round_number = 0
        while True:
            round_number += 1
            self._facts["review_round"] = round_number
            due = await business_deadline(workflow.now(), deal.review_business_days, CALENDAR)
            self._review = None
            manager = self._sales_manager
            self.open_task(
                REVIEW,
                due,
                description=self._review_description(),
                example={**REVIEW.example, "reviewer": str(manager.email)} if manager else None,
                **self._assigned(),
            )
            self.set_stage("in_review")
            while True:
                await self.wait_for(
                    REVIEW,
                    lambda: self._review is not None,
                    Deadline(
                        reminders=[due - REVIEW_REMINDER],
                        due_at=due,
                        **self._deadline_emails(REVIEW),
                    ),
                )
                if self._interrupt:
                    self.close_task(REVIEW.task)
                    return None
                review = self._review
                assert review is not None
                if review.decision != "approve" or await self._claim(review):
                    break
                self._review = None
            self.close_task(REVIEW.task)
            await self.decide(
                f"review_deal:{round_number}",
                review.reviewer,
                review.decision,
                round=round_number,
                reason=review.reason,
                question=review.question,
            )
            if review.decision != "request_information":
                return review
            if not await self._ask_partner(review, round_number):
                return None

    async def _claim(self, review: DealReview) -> bool:
        deal = self._require()
        claim = await call(
            "claim_deal_approval",
            ApprovalClaim(
                deal_number=deal.deal_number,
                end_customer_name=deal.end_customer.legal_name,
                contact_email=deal.end_customer.contact.email,
                sku=deal.sku,
            ),
            options=RECORD,
            result_type=ClaimResult,
            summary=f"hold the opportunity for {deal.deal_number}",
        )
        if claim.granted:
            return True
        self.note(
            REVIEW.task,
            review.reviewer,
            "rejected",
            reason=(
                f"deal {claim.held_by} is already approved for this opportunity "
                f"({claim.matched_on}): two approved registrations of the same opportunity are "
                "impossible"
            ),
        )
        return False

    async def _ask_partner(self, review: DealReview, round_number: int) -> bool:
        deal = self._require()
        due = await business_deadline(workflow.now(), deal.answer_business_days, CALENDAR)
        self._answer = None
        example = {"answered_by": deal.partner.contact.email, "answer": "…"}
        self.open_task(
            ANSWER,
            due,
            description=f"Answer the reviewer's question: {review.question}",
            example=example,
        )
        self.set_stage("information_requested")
        await self._record("information_requested")
        await self._tell(
            f"information_requested:{round_number}",
            "more information needed",
            question=review.question,
            due_at=due.isoformat(),
        )
        answered = await self.wait_for(
            ANSWER,
            lambda: self._answer is not None,
            Deadline(
                reminders=[due - timedelta(days=1)],
                due_at=due,
                remind=self._partner_reminder(ANSWER, round_number),
                escalate=self._partner_escalation(ANSWER, round_number),
            ),
        )
        self.close_task(ANSWER.task)
        if not answered:
            return False
        assert self._answer is not None
        await self.decide(
            f"provide_deal_information:{round_number}",
            self._answer.answered_by,
            "answered",
            round=round_number,
            answer=self._answer.answer,
        )
        await self._record("in_review")
        return True

    async def _protected_until_quoted(self) -> bool:
        deal = self._require()
        self._approved = True
        protected_until = workflow.now() + timedelta(days=deal.protection_days)
        self._protected_until = protected_until
        priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
        self._facts.update(
            approved=True,
            protected_until=protected_until.isoformat(),
            discount_percent=deal.discount_percent,
            quote_preview=priced.model_dump(),
        )
        await self._record("approved")
        await self._tell(
            "approved",
            "approved",
            protected_until=protected_until.isoformat(),
            protection_days=deal.protection_days,
        )
        manager = self._sales_manager
        example = {
            "quote_number": f"Q-{deal.deal_number.removeprefix('DR-')}",
            "prepared_by": str(manager.email) if manager else "sales-manager@mattermost.com",
            "seats": deal.seats,
            "list_unit_price_cents": deal.list_unit_price_cents,
            "discount_percent": deal.discount_percent,
            "net_price_cents": priced.net_cents,
            "license_contact_email": deal.end_customer.contact.email,
        }
        self.open_task(QUOTE, protected_until, example=example, **self._assigned())
        self.set_stage("approved")
        reminder = protected_until - timedelta(days=deal.protection_reminder_days)

        async def remind(number: int) -> None:
            await self._tell(
                "protection_reminder",
                "protection ends soon",
                cc=[str(manager.email)] if manager else ["role:sales_manager"],
                protected_until=protected_until.isoformat(),
            )

        quoted = await self.wait_for(
            QUOTE,
            lambda: self._quote is not None,
            Deadline(reminders=[reminder], expires_at=protected_until, remind=remind),
        )
        self.close_task(QUOTE.task)
        if quoted:
            assert self._quote is not None
            await self.decide(
                QUOTE.task, self._quote.prepared_by, "quoted", **self._quote.model_dump(mode="json")
            )
        return quoted

    async def _collect_quote_signature(self) -> bool:
        deal = self._require()
        quotation = self._quote
        assert quotation is not None
        priced = quote(quotation.list_unit_price_cents, quotation.seats, deal.discount_percent)
        self._facts["quotation"] = {
            **quotation.model_dump(mode="json"),
            "list_cents": priced.list_cents,
            "discount_cents": priced.discount_cents,
        }
        await self._record("quoted")
        self.set_stage("awaiting_quotation_signature")
        context = {
            "quote_number": quotation.quote_number,
            "deal_number": deal.deal_number,
            "partner_company": deal.partner.company,
            "end_customer": deal.end_customer.model_dump(mode="json"),
            "product": deal.product,
            "sku": deal.sku,
            "seats": quotation.seats,
            "list_unit_price_cents": quotation.list_unit_price_cents,
            "discount_percent": deal.discount_percent,
            "net_unit_price_cents": priced.net_unit_cents,
            "list_cents": priced.list_cents,
            "net_cents": priced.net_cents,
            "license_contact_email": str(quotation.license_contact_email),
        }
        contact = deal.end_customer.contact
        signed = await self.collect_signature(
            SIGN_QUOTE,
            kind="quotation",
            template="quotation",
            context=context,
            signer_name=contact.name,
            signer_email=str(contact.email),
            company=deal.end_customer.legal_name,
        )
        if signed is None:
            return False
        # Asked as the signature's activity returns, before any local activity of this
        # workflow task (see docs/determinism.md).
        self._license_contact_rule = workflow.patched(LICENSE_CONTACT_PATCH)
        self._quote_signed = True
        await self.decide(
            "sign_quotation",
            signed.signer_email,
            "signed",
            agreement_id=signed.agreement_id,
            sha256=signed.sha256,
        )
        await self._tell(
            "quotation_signed",
            "quotation signed",
            quote_number=quotation.quote_number,
            net_cents=priced.net_cents,
            license_contact_email=str(quotation.license_contact_email),
        )
        return True

    async def _wait_for_purchase_order(self) -> bool:
        deal = self._require()
        quotation = self._quote
        assert quotation is not None
        due = await business_deadline(workflow.now(), deal.purchase_order_business_days, CALENDAR)
        example = {
            "number": f"PO-{deal.deal_number.removeprefix('DR-')}",
            "submitted_by": deal.partner.contact.email,
            "amount_cents": quotation.net_price_cents,
            "bill_to": deal.partner.company,
            "issued_by": "reseller",
            "end_customer": {
                **deal.end_customer.model_dump(mode="json", exclude_none=True),
                "contact": {
                    "name": deal.end_customer.contact.name,
                    "email": str(quotation.license_contact_email),
                },
            },
        }
        self.open_task(PURCHASE_ORDER, due, example=example)
        self.set_stage("awaiting_purchase_order")
        got = await self.wait_for(
            PURCHASE_ORDER,
            lambda: self._po is not None,
            Deadline(
                reminders=[due - timedelta(days=2)],
                due_at=due,
                remind=self._partner_reminder(PURCHASE_ORDER, 0),
                escalate=self._partner_escalation(PURCHASE_ORDER, 0),
            ),
        )
        self.close_task(PURCHASE_ORDER.task)
        return got

    async def _order(self) -> SalesOutcome:
        deal = self._require()
        po, quotation = self._po, self._quote
        assert po is not None and quotation is not None
        priced = quote(quotation.list_unit_price_cents, quotation.seats, deal.discount_percent)
        await self.decide(
            PURCHASE_ORDER.task,
            po.submitted_by,
            "accepted",
            number=po.number,
            amount_cents=po.amount_cents,
        )
        await self._record("ordered")
        await self._tell("ordered", "purchase order received", purchase_order=po.number)
        order = OrderFulfillmentInput(
            order_id=deal.deal_number,
            channel="value_added_reseller",
            deal_number=deal.deal_number,
            reseller=deal.partner,
            end_customer=po.end_customer,
            purchase_order=PurchaseOrder(
                number=po.number, issued_by=po.issued_by, custom_terms=po.custom_terms
            ),
            lines=[
                OrderLine(
                    sku=deal.sku,
                    description=deal.product,
                    seats=quotation.seats,
                    unit_price_cents=priced.net_unit_cents,
                )
            ],
        )
        result = await self.run_order(
            order, partner_id=deal.partner.partner_id, deal_number=deal.deal_number
        )
        await self._record("closed_won" if result.outcome == "paid" else f"order_{result.outcome}")
        return await self._end(
            result.outcome,
            result.reason,
            order_id=order.order_id,
            order_outcome=result.outcome,
            invoice_number=result.invoice_number,
        )

    async def _interrupted(self) -> SalesOutcome:
        self.clock.interruption = None
        self.close_all_tasks()
        deal = self._require()
        if self._interrupt == "withdrawn":
            withdrawal = self._withdrawal
            assert withdrawal is not None
            if self._approved:
                await call(
                    "release_deal_claims",
                    deal.deal_number,
                    options=RECORD,
                    summary=f"release the opportunity of {deal.deal_number}",
                )
            await self.decide(
                "withdraw", withdrawal.withdrawn_by, "withdrawn", reason=withdrawal.reason
            )
            await self._tell("withdrawn", "withdrawn", reason=withdrawal.reason)
            return await self._end("withdrawn", withdrawal.reason)
        if self._interrupt == "partner_offboarded":
            return await self._released_for_offboarding()
        return await self._referral_fee()

    async def _released_for_offboarding(self) -> SalesOutcome:
        """The partner left the program: the protection is released, the reviewer told."""
        deal, left = self._require(), self._offboarded
        assert left is not None
        if self._approved:
            await call(
                "release_deal_claims",
                deal.deal_number,
                options=RECORD,
                summary=f"release the opportunity of {deal.deal_number}",
            )
        await self.decide("partner_offboarded", left.decided_by, "released", reason=left.reason)
        manager = str(self._sales_manager.email) if self._sales_manager else "role:sales_manager"
        reviewer = self._review.reviewer if self._review else manager
        await self.email(
            "deal:partner_offboarded",
            [reviewer],
            "deal_registration_update",
            self._mail(
                event="partner_offboarded",
                headline="partner offboarded: protection released",
                contact_name="Sales team",
                reason=f"Reason: {left.reason}",
                question="",
                due_at=None,
                description=(
                    f"{deal.partner.company} has left the partner program: the protection of "
                    "this registration is released and the opportunity is open again."
                ),
            ),
        )
        return await self._end("partner_offboarded", left.reason)

    async def _referral_fee(self) -> SalesOutcome:
        deal = self._require()
        report = self._online
        assert report is not None
        workflow_id = workflow.info().workflow_id
        purchase: dict[str, Any] = {}
        if self._fee_from_purchase:
            assert report.seats is not None and report.list_unit_price_cents is not None
            fee_of = purchase_referral_fee(
                report.list_unit_price_cents,
                report.seats,
                report.term_months,
                deal.discount_percent,
            )
            self._fee_cents, list_cents = fee_of.fee_cents, fee_of.list_cents
            purchase = {
                "purchase": {
                    "seats": fee_of.seats,
                    "list_unit_price_cents": fee_of.list_unit_cents,
                    "term_months": fee_of.term_months,
                    "list_cents": fee_of.list_cents,
                    "amount_paid_cents": report.amount_paid_cents,
                }
            }
        else:
            priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
            self._fee_cents, list_cents = priced.discount_cents, priced.list_cents
        note = referral_fee_note(deal.deal_number)
        self._facts["referral_fee"] = {
            "amount_cents": self._fee_cents,
            "note": note,
            "invoice_to": PAYMENTS_EMAIL,
            "status": "payable",
            "online_order_reference": report.online_order_reference,
            **purchase,
        }
        await self.decide(
            "customer_purchased_online",
            report.reported_by,
            "referral_fee_payable",
            amount_cents=self._fee_cents,
            note=note,
            online_order_reference=report.online_order_reference,
            **purchase,
        )
        fee = ReferralFeeRecord(
            deal_number=deal.deal_number,
            workflow_id=workflow_id,
            partner_id=deal.partner.partner_id or "",
            amount_cents=self._fee_cents,
            note=note,
            status="payable",
            at=workflow.now(),
        )
        await call(
            "record_referral_fee",
            fee,
            options=RECORD,
            summary=f"referral fee {fee.deal_number}: {fee.status}",
        )
        await self._record("purchased_online")
        self.set_stage("referral_fee_payable")
        await self.email(
            "referral_fee:instructions",
            [str(deal.partner.contact.email)],
            "referral_fee_instructions",
            self._mail(
                fee_cents=self._fee_cents,
                note=note,
                payments_email=PAYMENTS_EMAIL,
                list_cents=list_cents,
                online_order_reference=report.online_order_reference,
                **(
                    {"seats": report.seats, "term_months": report.term_months}
                    if self._fee_from_purchase
                    else {"term_months": 12}
                ),
            ),
            cc=["role:finance"],
        )
        due = workflow.now() + timedelta(days=deal.referral_fee_payment_days)
        self.open_task(
            REFERRAL_FEE,
            due,
            example={
                "recorded_by": "finance@mattermost.com",
                "amount_cents": self._fee_cents,
                "reference": f"PAY-{deal.deal_number}",
            },
        )
        await self.wait_for(
            REFERRAL_FEE,
            lambda: self._fee_paid is not None,
            Deadline(reminders=[due - timedelta(days=3)], due_at=due),
        )
        self.close_task(REFERRAL_FEE.task)
        paid = self._fee_paid
        assert paid is not None
        await call(
            "record_referral_fee",
            fee.model_copy(
                update={"status": "paid", "reference": paid.reference, "at": workflow.now()}
            ),
            options=RECORD,
            summary=f"referral fee {fee.deal_number}: paid",
        )
        await self.decide(
            REFERRAL_FEE.task,
            paid.recorded_by,
            "paid",
            amount_cents=paid.amount_cents,
            reference=paid.reference,
        )
        self._facts["referral_fee"]["status"] = "paid"
        await self._tell(
            "referral_fee_paid",
            "referral fee paid",
            fee_cents=self._fee_cents,
            reference=paid.reference,
        )
        return await self._end("referral_fee_paid", None, referral_fee_cents=self._fee_cents)

    # --- helpers -------------------------------------------------------------------------------

    def _po_problems(self, po: DealPurchaseOrder) -> list[dict[str, str]]:
        """What is wrong with the purchase order, each with the field it is about ("" for
        the order's terms)."""
        deal = self._require()
        quotation = self._quote
        assert quotation is not None
        problems: list[tuple[str, str]] = []
        if po.amount_cents != quotation.net_price_cents:
            problems.append(
                (
                    "amount_cents",
                    f"the amount {po.amount_cents} cents does not match quotation "
                    f"{quotation.quote_number} ({quotation.net_price_cents} cents)",
                )
            )
        if normalize_company(po.bill_to) != normalize_company(deal.partner.company):
            problems.append(
                (
                    "bill_to",
                    f"the purchase order must be billed to the reseller {deal.partner.company}, "
                    f"not {po.bill_to}",
                )
            )
        if normalize_company(po.end_customer.legal_name) != normalize_company(
            deal.end_customer.legal_name
        ):
            problems.append(
                (
                    "end_customer.legal_name",
                    f"the end customer {po.end_customer.legal_name} is not the registered "
                    f"customer {deal.end_customer.legal_name}",
                )
            )
        if self._license_contact_rule and (mismatch := license_contact_mismatch(po, quotation)):
            problems.append(("end_customer.contact.email", mismatch))
        draft = OrderFulfillmentInput(
            order_id=deal.deal_number,
            reseller=deal.partner,
            end_customer=po.end_customer,
            purchase_order=PurchaseOrder(
                number=po.number, issued_by=po.issued_by, custom_terms=po.custom_terms
            ),
            lines=[
                OrderLine(
                    sku=deal.sku,
                    description=deal.product,
                    seats=quotation.seats,
                    unit_price_cents=1,
                )
            ],
        )
        problems += [("", reason) for reason in review_order_terms(draft)]
        return [{"field": field, "message": message} for field, message in problems]

    def _deal_facts(self) -> dict[str, Any]:
        deal = self._require()
        priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
        return {
            "deal_number": deal.deal_number,
            "partner_id": deal.partner.partner_id,
            "partner_company": deal.partner.company,
            "partner_contact": deal.partner.contact.model_dump(mode="json"),
            "end_customer_name": deal.end_customer.legal_name,
            "end_customer_country": deal.end_customer.address.country,
            "end_customer_contact": deal.end_customer.contact.model_dump(mode="json"),
            "product": deal.product,
            "sku": deal.sku,
            "seats": deal.seats,
            "list_cents": priced.list_cents,
            "discount_percent": deal.discount_percent,
            "expected_close_date": deal.expected_close_date.isoformat(),
            "approved": False,
            "signals": {
                "withdraw": "partner, any stage before the purchase order",
                "customer_purchased_online": "approved, protected registration",
            },
        }

    async def _record(self, status: str) -> None:
        deal = self._require()
        await call(
            "record_deal",
            DealRecord(
                deal_number=deal.deal_number,
                workflow_id=workflow.info().workflow_id,
                partner_id=deal.partner.partner_id or "",
                partner_company=deal.partner.company,
                end_customer_name=deal.end_customer.legal_name,
                contact_email=str(deal.end_customer.contact.email),
                sku=deal.sku,
                status=status,
                protected_until=self._protected_until,
                at=workflow.now(),
            ),
            options=RECORD,
            summary=f"record deal {deal.deal_number} ({status})",
        )
        if self._approved and deal.partner.partner_id and self._tells_partner():
            await tell_deal_status(deal.partner.partner_id, deal.deal_number, status)

    def _tells_partner(self) -> bool:
        """`DEAL_EVENTS_PATCH`, asked once: at the approval's record, or the first record of
        an approved registration after the change."""
        if self._partner_told is None:
            self._partner_told = workflow.patched(DEAL_EVENTS_PATCH)
        return self._partner_told

    def _mail(self, **extra: Any) -> dict[str, Any]:
        deal = self._require()
        priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
        return {
            "deal_number": deal.deal_number,
            "partner_company": deal.partner.company,
            "contact_name": deal.partner.contact.name,
            "end_customer_name": deal.end_customer.legal_name,
            "product": deal.product,
            "seats": deal.seats,
            "discount_percent": deal.discount_percent,
            "list_cents": priced.list_cents,
            "discount_cents": priced.discount_cents,
            "net_cents": priced.net_cents,
            "review_business_days": deal.review_business_days,
            **extra,
        }

    async def _tell(
        self, step: str, headline: str, *, cc: list[str] | None = None, **extra: Any
    ) -> None:
        """Email the registering partner about this deal."""
        event = step.split(":", 1)[0]
        context = self._mail(
            event=event,
            headline=headline,
            **{"reason": "", "question": "", "due_at": None, "description": "", **extra},
        )
        await self.email(
            f"deal:{step}",
            [str(self._require().partner.contact.email)],
            "deal_registration_update",
            context,
            cc=cc or [],
        )

    def _partner_reminder(self, spec: HumanTask, round_number: int) -> Remind:
        async def remind(number: int) -> None:
            task = self._tasks.get(spec.task)
            due = task.due_at.isoformat() if task and task.due_at else None
            await self._tell(
                f"{spec.task}:{round_number}:reminder:{number}",
                "reminder",
                description=f"Reminder: {task.description if task else spec.description}",
                due_at=due,
            )

        return remind

    def _partner_escalation(self, spec: HumanTask, round_number: int) -> Escalate:
        async def escalate() -> None:
            task = self._tasks.get(spec.task)
            await self._tell(
                f"{spec.task}:{round_number}:escalation",
                "overdue",
                cc=["role:partner_manager"],
                description=f"Overdue: {task.description if task else spec.description}",
                due_at=task.due_at.isoformat() if task and task.due_at else None,
            )

        return escalate

    async def _end(self, outcome: str, reason: str | None, **extra: Any) -> SalesOutcome:
        self._closed = True
        self.clock.interruption = None
        self.close_all_tasks()
        self._facts.update(outcome=outcome, reason=reason)
        if outcome in (
            "embargoed",
            "rejected",
            "lapsed",
            "withdrawn",
            "quotation_expired",
            "partner_offboarded",
        ):
            await self._record(outcome)
        self.set_stage(outcome)
        return SalesOutcome(
            workflow_id=workflow.info().workflow_id,
            outcome=outcome,
            reason=reason,
            deal_number=self._require().deal_number,
            **extra,
        )

    def _require(self) -> DealRegistrationInput:
        assert self._deal is not None
        return self._deal
