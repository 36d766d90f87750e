"""OrderFulfillment (`order-{order_id}`): the shared tail of every Mattermost resale.

Terms review → the end customer accepts the Enterprise Subscription Terms for Purchase by
Resale (signed link, reminders, expiry) → license review within one business day and the
license by email → invoice due in 30 days (send_invoice) → followed to paid, void or
uncollectible (`workflows/invoice_following.py`, the invoice follower every billing process
shares). Embargo screening at intake and again before the license and the invoice, of
the end customer and of the reseller (the party invoiced; located by its address, else by
its partner record: an order whose reseller cannot be located is refused at intake).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        InvoiceInfo,
        InvoiceLine,
        InvoiceRequest,
        IssuedLicense,
        LicenseRequest,
        LicenseReview,
        OrderFulfillmentInput,
        OrderFulfillmentResult,
        OrderProgress,
        OrderRecord,
        TermsAcceptance,
    )
    from models.orders import order_facts, review_order_terms, unscreenable_reseller
    from models.tasks import LinkSpec

from workflows.calls import EXTERNAL, RECORD, SLOW, call
from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.invoice_following import RECORD_PAYMENT, RESOLVE_OVERDUE, InvoiceFollowing
from workflows.process import SCREEN_RESELLER_PATCH
from workflows.search_attributes import (
    PARTNER_ID,
    PROGRAM,
)
from workflows.subscription_renewal import start_renewal

CALENDAR = "US"  # Mattermost, Inc.'s business days
# Orders started without Program/PartnerId (e.g. from the Temporal UI's Start Workflow) set
# them themselves; histories from before this change have no such upsert.
IDENTITY_PATCH = "order-identity-attributes"
# A Value-Added Reseller's order checks the partner record again once the license review
# approves it, before the license and the invoice: a partner suspended or removed since the
# order started gets neither. Histories from before this change issue at once.
PARTNER_RECHECK_PATCH = "order-intake-partner-recheck"
# Orders start their subscription's renewal (SubscriptionRenewal) once licensed and screened
# before the invoice; histories from before have no such child.
RENEWALS_PATCH = "renewals-start"
ACCEPT_TERMS = HumanTask(
    task="accept_terms",
    handler="accept_terms",
    assignee="end_customer",
    description="The end customer agrees to the Enterprise Subscription Terms for Purchase by "
    "Resale (link emailed to the customer's contact)",
    model=TermsAcceptance,
    example={
        "name": "Anna Schmidt",
        "title": "Head of IT",
        "email": "anna@example.com",
        "agreed": True,
    },
)
REVIEW_LICENSE = HumanTask(
    task="review_license",
    handler="review_license",
    assignee="license_desk",
    description="Review the accepted order and approve issuing the Enterprise license "
    "(within one business day)",
    model=LicenseReview,
    example={"reviewer": "license-desk@mattermost.com", "decision": "approve"},
)


@workflow.defn
class OrderFulfillment(InvoiceFollowing):
    """Mattermost resale order: terms → license → net-30 invoice → paid."""

    process = "OrderFulfillment"
    human_tasks = (
        *InvoiceFollowing.human_tasks,
        ACCEPT_TERMS,
        REVIEW_LICENSE,
        RECORD_PAYMENT,
        RESOLVE_OVERDUE,
    )

    def __init__(self) -> None:
        super().__init__()
        self._order: OrderFulfillmentInput | None = None
        self._acceptance: TermsAcceptance | None = None
        self._review: LicenseReview | None = None
        self._progress_seq = 0
        # Where the reseller is screened (country, subdivision); None: not screened (an order
        # started before SCREEN_RESELLER_PATCH).
        self._reseller_at: tuple[str, str | None] | None = None
        self._license: IssuedLicense | None = None

    # --- human handlers (signals; JSON input, as in the Temporal UI) -----------------------

    @workflow.signal
    def accept_terms(self, payload: Any) -> None:
        """The end customer accepts the Enterprise Subscription Terms for Purchase by Resale.

        Sent by the accept page, or by an operator holding the customer's written consent:
        `{"name": "Anna Schmidt", "title": "Head of IT", "email": "anna@example.com",
        "agreed": true}`
        """
        acceptance = self.accept(ACCEPT_TERMS, payload, TermsAcceptance)
        if acceptance is None or self._acceptance is not None:
            return
        self._acceptance = acceptance
        self.note(
            "accept_terms",
            acceptance.email,
            "accepted",
            name=acceptance.name,
            title=acceptance.title,
            via=acceptance.via,
            ip=acceptance.ip,
        )

    @workflow.signal
    def review_license(self, payload: Any) -> None:
        """License desk decision: `{"reviewer": "license-desk@mattermost.com",
        "decision": "approve"}`
        or `{"reviewer": "...", "decision": "reject", "reason": "..."}` (reason required)."""
        review = self.accept(REVIEW_LICENSE, payload, LicenseReview)
        if review is None or self._review is not None:
            return
        if review.decision == "reject" and not review.reason:
            self.note(
                "review_license",
                review.reviewer,
                "rejected",
                field="reason",
                reason="a rejection needs a reason",
            )
            return
        self._review = review
        self.note(
            "review_license",
            review.reviewer,
            review.decision,
            reason=review.reason,
            notes=review.notes,
        )

    # --- the process ---------------------------------------------------------------------------

    def _identify(self, order: OrderFulfillmentInput) -> None:
        """Program and PartnerId, when whoever started the order did not set them (the form
        intake does; the Temporal UI's Start Workflow does not), so partner queries find it."""
        present = workflow.info().typed_search_attributes
        missing = [] if present.get(PROGRAM) else [PROGRAM.value_set("mattermost")]
        if order.reseller.partner_id and not present.get(PARTNER_ID):
            missing.append(PARTNER_ID.value_set(order.reseller.partner_id))
        if missing:
            workflow.upsert_search_attributes(missing)

    @workflow.run
    async def run(self, order: OrderFulfillmentInput) -> OrderFulfillmentResult:
        self._order = order
        self._facts = order_facts(order)
        renewals = workflow.patched(RENEWALS_PATCH)  # asked before any local activity
        if workflow.patched(IDENTITY_PATCH):
            self._identify(order)
        self.set_stage("terms_review")
        # Asked before the first local activity (see docs/determinism.md).
        if workflow.patched(SCREEN_RESELLER_PATCH):
            self._reseller_at = await self.locate_reseller(order.reseller)
            if self._reseller_at is None:
                return await self._refuse(
                    unscreenable_reseller(order.reseller), step="screening:intake:reseller"
                )
        if refusal := await self._screen("intake"):
            return await self._end("embargoed", refusal)
        if reasons := review_order_terms(order):
            return await self._refuse("; ".join(reasons))
        await self.decide("terms_review", "system", "accepted")
        await self._record_order("awaiting_acceptance")

        if not await self._collect_acceptance():
            await self.email(
                "acceptance:expired",
                [order.reseller.contact.email, order.end_customer.contact.email],
                "terms_acceptance_expired",
                self._mail_context(),
            )
            return await self._end("expired", "the end customer did not accept the terms in time")

        if not await self._review_license():
            assert self._review is not None
            return await self._refuse(f"license review: {self._review.reason}")
        # Asked as the approval's decision record wakes the workflow, before the screening's
        # local activities (see docs/determinism.md).
        if workflow.patched(PARTNER_RECHECK_PATCH) and (refusal := await self._partner_gone()):
            return await self._refuse(refusal, step="partner_check:before_license")
        if refusal := await self._screen("before_license"):
            return await self._end("embargoed", refusal)
        license_id = await self._issue_license()
        if refusal := await self._screen("before_invoice"):
            return await self._end("embargoed", refusal, license_id=license_id)
        if renewals and self._license is not None:
            await start_renewal(order, self._license)
        await self._issue_invoice()
        outcome = await self.follow_invoice(order.invoice_days_until_due)
        return await self._end(outcome, None, license_id=license_id)

    async def _collect_acceptance(self) -> bool:
        order = self._require_order()
        now = workflow.now()
        reminders = [
            await business_deadline(now, d, CALENDAR)
            for d in order.acceptance_reminder_business_days
        ]
        expires_at = await business_deadline(now, order.acceptance_expiry_business_days, CALENDAR)
        self._facts["acceptance_expires_at"] = expires_at.isoformat()
        contact = order.end_customer.contact
        example = {**ACCEPT_TERMS.example, "name": contact.name, "email": contact.email}
        self.open_task(ACCEPT_TERMS, expires_at, example=example)
        self.set_stage("awaiting_acceptance")
        links = {"accept_url": LinkSpec(purpose="accept_terms", expires_at=expires_at)}
        await self.email(
            "acceptance:request",
            [contact.email],
            "terms_acceptance_request",
            self._mail_context(expires_at=expires_at.isoformat()),
            links=links,
        )

        async def remind(number: int) -> None:
            await self.email(
                f"acceptance:reminder:{number}",
                [contact.email],
                "terms_acceptance_reminder",
                self._mail_context(expires_at=expires_at.isoformat(), reminder_number=number),
                links=links,
            )

        accepted = await self.wait_for(
            ACCEPT_TERMS,
            lambda: self._acceptance is not None,
            Deadline(reminders=reminders, expires_at=expires_at, remind=remind),
        )
        self.close_task(ACCEPT_TERMS.task)
        if accepted:
            assert self._acceptance is not None
            await self.decide(
                "accept_terms",
                self._acceptance.email,
                "accepted",
                **self._acceptance.model_dump(mode="json"),
            )
        return accepted

    async def _review_license(self) -> bool:
        order = self._require_order()
        due_at = await business_deadline(
            workflow.now(), order.license_review_business_days, CALENDAR
        )
        self.open_task(REVIEW_LICENSE, due_at)
        self.set_stage("license_review")
        await self.wait_for(
            REVIEW_LICENSE,
            lambda: self._review is not None,
            Deadline(reminders=[due_at - timedelta(hours=4)], due_at=due_at),
        )
        self.close_task(REVIEW_LICENSE.task)
        assert self._review is not None
        await self.decide(
            "review_license",
            self._review.reviewer,
            self._review.decision,
            reason=self._review.reason,
        )
        return self._review.decision == "approve"

    async def _issue_license(self) -> str:
        order = self._require_order()
        workflow_id = workflow.info().workflow_id
        starts_at = order.license_starts_at or workflow.now()  # a renewal: the old expiry
        issued = await call(
            "issue_license",
            LicenseRequest(
                idempotency_key=f"{workflow_id}:license",
                workflow_id=workflow_id,
                licensee=order.end_customer.legal_name,
                customer=order.end_customer.legal_name,
                customer_email=order.end_customer.contact.email,
                sku=order.lines[0].sku,
                users=order.seats,
                starts_at=starts_at,
                expires_at=starts_at + timedelta(days=order.license_term_days),
            ),
            options=EXTERNAL,
            result_type=IssuedLicense,
            summary=f"issue license for {order.seats} users",
        )
        self._license = issued
        self._facts.update(
            license_id=issued.license_id, license_expires_at=issued.expires_at.isoformat()
        )
        self.set_stage("licensed")
        await self.email(
            "license:issued",
            [order.end_customer.contact.email],
            "license_issued",
            self._mail_context(
                license_id=issued.license_id,
                users=issued.users,
                sku=issued.sku,
                starts_at=issued.starts_at.isoformat(),
                expires_at=issued.expires_at.isoformat(),
            ),
            cc=[order.reseller.contact.email],
            attachments=[
                {"filename": issued.filename, "content": issued.content, "mime_type": "text/plain"}
            ],
        )
        return issued.license_id

    async def _issue_invoice(self) -> None:
        order = self._require_order()
        workflow_id = workflow.info().workflow_id
        request = InvoiceRequest(
            idempotency_key=f"{workflow_id}:invoice",
            workflow_id=workflow_id,
            customer_name=order.reseller.company,
            customer_email=order.reseller.contact.email,
            customer_country=order.reseller.address.country if order.reseller.address else None,
            lines=[
                InvoiceLine(
                    description=f"{line.description} ({line.sku}) "
                    f"for {order.end_customer.legal_name}",
                    quantity=line.seats,
                    unit_amount_cents=line.unit_price_cents,
                )
                for line in order.lines
            ],
            currency=order.currency,
            days_until_due=order.invoice_days_until_due,
            description=(
                f"Order {order.order_id}, purchase order {order.purchase_order.number}, end "
                f"customer {order.end_customer.legal_name}"
            ),
            metadata={
                "order_id": order.order_id,
                "workflow_id": workflow_id,
                "end_customer": order.end_customer.legal_name,
                "deal_number": order.deal_number or "",
            },
            issued_at=workflow.now(),
        )
        # A refusal (e.g. Stripe's 400) becomes the operations task `resolve_failed_step`;
        # the invoice cannot be skipped: fix the cause and retry.
        invoice = await self.run_step(
            "invoice:create",
            lambda: call(
                "create_invoice",
                request,
                options=SLOW,
                result_type=InvoiceInfo,
                summary="create, finalize and send the invoice",
            ),
            skippable=False,
        )
        assert invoice is not None
        self._invoice = invoice
        self._facts.update(invoice_id=self._invoice.id, invoice_number=self._invoice.number)
        self.publish_invoice()
        self.set_stage("invoiced")
        await self.email(
            "invoice:issued",
            [order.reseller.contact.email],
            "invoice_issued",
            self._invoice_context(),
        )

    # --- helpers ---------------------------------------------------------------------------------

    async def _partner_gone(self) -> str | None:
        """Why a Value-Added Reseller's order stops before its license and invoice: its
        partner record says it is no longer active (suspended or removed since the intake
        checked it). None when it is active, and for orders of another channel or a reseller
        without a partner record (an authorized resale's one-time reseller)."""
        order = self._require_order()
        partner_id = order.reseller.partner_id
        if order.channel != "value_added_reseller" or not partner_id:
            return None
        record = await self.find_partner(partner_id)
        if record is None or record.status == "active":
            return None
        return (
            f"the reseller {order.reseller.company} ({partner_id}) is {record.status}, no "
            "longer an active partner: no license or invoice is issued for its order"
        )

    async def _screen(self, step: str) -> str | None:
        """Screen the end customer (`screening:{step}`), then the reseller
        (`screening:{step}:reseller`); the first refusal's reason, None when both pass."""
        order = self._require_order()
        address = order.end_customer.address
        if refusal := await self.screen(
            order.end_customer.legal_name,
            address.country,
            address.subdivision,
            step=f"screening:{step}",
        ):
            return refusal
        if self._reseller_at is None:
            return None
        country, subdivision = self._reseller_at
        return await self.screen(
            order.reseller.company,
            country,
            subdivision,
            step=f"screening:{step}:reseller",
            role="reseller",
        )

    async def _refuse(self, reason: str, *, step: str = "terms_review") -> OrderFulfillmentResult:
        order = self._require_order()
        await self.decide(step, "system", "refused", reason=reason)
        await self.email(
            "order:refused",
            [order.reseller.contact.email],
            "order_refused",
            self._mail_context(reason=reason),
        )
        return await self._end("refused", reason)

    async def _end(
        self, outcome: str, reason: str | None, *, license_id: str | None = None
    ) -> OrderFulfillmentResult:
        order = self._require_order()
        self.conclude(outcome, reason)
        await self._record_order(outcome)
        invoice = self._invoice
        return OrderFulfillmentResult(
            order_id=order.order_id,
            outcome=outcome,
            reason=reason,
            license_id=license_id,
            invoice_id=invoice.id if invoice else None,
            invoice_number=invoice.number if invoice else None,
            amount_cents=order.total_cents,
        )

    async def _record_order(self, status: str) -> None:
        order = self._require_order()
        await call(
            "record_order",
            OrderRecord(
                order_id=order.order_id,
                workflow_id=workflow.info().workflow_id,
                channel=order.channel,
                deal_number=order.deal_number,
                reseller_company=order.reseller.company,
                reseller_partner_id=order.reseller.partner_id,
                end_customer_name=order.end_customer.legal_name,
                end_customer_country=order.end_customer.address.country,
                amount_cents=order.total_cents,
                currency=order.currency,
                status=status,
                at=workflow.now(),
            ),
            options=RECORD,
            summary=f"record order ({status})",
        )

    def _publish(self) -> None:
        super()._publish()
        self._notify_parent()

    def _notify_parent(self) -> None:
        # Only a child order has a parent: an order started on its own issues no extra
        # commands, so its recorded histories replay unchanged.
        parent = workflow.info().parent
        if parent is not None and self._order is not None:
            self._progress_seq += 1
            asyncio.ensure_future(self._tell_parent(parent.workflow_id, self._progress()))

    def _progress(self) -> OrderProgress:
        invoice = self._invoice
        return OrderProgress(
            seq=self._progress_seq,
            workflow_id=workflow.info().workflow_id,
            stage=self._stage,
            pending_tasks=list(self._tasks),
            invoice_stage=self._facts.get("invoice_stage"),
            invoice_number=invoice.number if invoice else None,
            amount_due_cents=invoice.amount_due_cents if invoice else None,
            invoice_due_at=invoice.due_at if invoice else None,
        )

    async def _tell_parent(self, parent_id: str, progress: OrderProgress) -> None:
        """The deal or resale that started this order mirrors its progress (best effort:
        a parent that has closed no longer needs it)."""
        try:
            await workflow.get_external_workflow_handle(parent_id).signal(
                "order_progress", progress
            )
        except Exception as exc:  # noqa: BLE001
            workflow.logger.info("parent %s not told of order progress: %s", parent_id, exc)

    def invoice_published(self) -> None:
        self._notify_parent()

    async def invoice_email(self, kind: str, step: str, **extra: Any) -> None:
        """The reseller hears of its invoice (the due reminder, the overdue notices copied to
        finance, the payment); finance hears of a void or uncollectible one."""
        reseller = self._require_order().reseller.contact.email
        if kind == "due_reminder":
            await self.email(
                step, [reseller], "invoice_due_reminder", self._invoice_context(**extra)
            )
        elif kind == "overdue_notice":
            await self.email(
                step,
                [reseller],
                "invoice_overdue_notice",
                self._invoice_context(**extra),
                cc=["role:finance"],
            )
        elif kind == "paid":
            await self.email(step, [reseller], "invoice_paid", self._invoice_context(**extra))
        else:
            await self.email(
                step, ["role:finance"], "invoice_closed", self._invoice_context(**extra)
            )

    def _mail_context(self, **extra: Any) -> dict[str, Any]:
        order = self._require_order()
        return {
            "order_id": order.order_id,
            "reseller_company": order.reseller.company,
            "end_customer_name": order.end_customer.legal_name,
            "contact_name": order.end_customer.contact.name,
            "lines": [
                {"sku": line.sku, "description": line.description, "seats": line.seats}
                for line in order.lines
            ],
            "terms_title": self._facts["terms_title"],
            "terms_url": self._facts["terms_url"],
            **extra,
        }

    def _invoice_context(self, **extra: Any) -> dict[str, Any]:
        invoice = self.require_invoice()
        return self._mail_context(
            invoice_number=invoice.number,
            amount_cents=invoice.amount_due_cents,
            currency=invoice.currency,
            due_at=invoice.due_at.isoformat() if invoice.due_at else None,
            hosted_url=invoice.hosted_url,
            **extra,
        )

    def _require_order(self) -> OrderFulfillmentInput:
        assert self._order is not None
        return self._order
