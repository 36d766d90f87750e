"""OrderFulfillment (`order-{order_id}`): the shared tail of every Mattermost resale.

Terms review → the end customer accepts the Enterprise Subscription Terms for Purchase by
Resale (signed link, reminders, expiry) → license review within one business day and the
license by email → invoice due in 30 days (send_invoice) → followed to paid, void or
uncollectible. Embargo screening at intake and again before the license and the invoice, of
the end customer and of the reseller (the party invoiced; located by its address, else by
its partner record: an order whose reseller cannot be located is refused at intake).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        InvoiceAction,
        InvoiceClosure,
        InvoiceEvent,
        InvoiceInfo,
        InvoiceLine,
        InvoiceRequest,
        InvoiceStage,
        IssuedLicense,
        LicenseRequest,
        LicenseReview,
        OrderFulfillmentInput,
        OrderFulfillmentResult,
        OrderProgress,
        OrderRecord,
        PaymentRecorded,
        TermsAcceptance,
    )
    from models.invoices import invoice_stage, invoice_stage_after
    from models.orders import order_facts, review_order_terms, unscreenable_reseller
    from models.tasks import LinkSpec

from workflows.calls import EXTERNAL, RECORD, SLOW, call
from workflows.deadlines import Deadline, business_deadline, wait_until
from workflows.human_tasks import HumanTask
from workflows.process import SCREEN_RESELLER_PATCH, ProcessWorkflow
from workflows.search_attributes import (
    AMOUNT_DUE_CENTS,
    INVOICE_DUE_AT,
    INVOICE_NUMBER,
    INVOICE_STAGE,
    PARTNER_ID,
    PROGRAM,
)

CALENDAR = "US"  # Mattermost, Inc.'s business days
# Orders started without Program/PartnerId (e.g. from the Temporal UI's Start Workflow) set
# them themselves; histories from before this change have no such upsert.
IDENTITY_PATCH = "order-identity-attributes"
# A billing event reporting a stage the invoice has left (a late `invoice.payment_failed`
# after `invoice.paid`) is recorded as ignored; before, it set the invoice's status back.
# The marker is written only when such an event arrives, so other histories are unchanged.
INVOICE_FORWARD_PATCH = "invoice-stages-forward"
# A Value-Added Reseller's order checks the partner record again once the license review
# approves it, before the license and the invoice: a partner suspended or removed since the
# order started gets neither. Histories from before this change issue at once.
PARTNER_RECHECK_PATCH = "order-intake-partner-recheck"
CLOSED = ("paid", "void", "uncollectible")
DUE_REMINDER = timedelta(days=3)
# Overdue notices, counted from the due date; the last one hands the invoice to finance.
OVERDUE_NOTICES = (timedelta(days=1), timedelta(days=7), timedelta(days=14), timedelta(days=30))

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
RECORD_PAYMENT = HumanTask(
    task="record_payment",
    handler="record_payment",
    assignee="finance",
    description="Record the customer's payment of the invoice when it arrives",
    model=PaymentRecorded,
    example={"recorded_by": "finance@mattermost.com", "amount_cents": 1, "reference": "WIRE-1"},
)
RESOLVE_OVERDUE = HumanTask(
    task="resolve_overdue_invoice",
    handler="mark_uncollectible",
    assignee="finance",
    description="The invoice is 30 days overdue: record the payment, void it, or mark it "
    "uncollectible",
    model=InvoiceClosure,
    example={
        "decided_by": "finance@mattermost.com",
        "reason": "No payment 30 days after the due date",
    },
)


@dataclass
class _InvoiceCommand:
    action: str  # pay | void | mark_uncollectible
    actor: str
    detail: dict[str, Any]


@workflow.defn
class OrderFulfillment(ProcessWorkflow):
    """Mattermost resale order: terms → license → net-30 invoice → paid."""

    process = "OrderFulfillment"
    human_tasks = (
        *ProcessWorkflow.human_tasks,
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
        self._invoice: InvoiceInfo | None = None
        self._commands: list[_InvoiceCommand] = []
        self._events_seen: set[str] = set()
        self._progress_seq = 0
        # Where the reseller is screened (country, subdivision); None: not screened (an order
        # started before SCREEN_RESELLER_PATCH).
        self._reseller_at: tuple[str, str | None] | None = None

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

    @workflow.signal
    def record_payment(self, payload: Any) -> None:
        """Finance records the customer's payment (the full amount due):
        `{"recorded_by": "finance@mattermost.com", "amount_cents": 250000,
        "reference": "WIRE-123"}`"""
        payment = self.accept(RECORD_PAYMENT, payload, PaymentRecorded)
        if payment is None or self._invoice is None:
            return
        if payment.amount_cents != self._invoice.amount_due_cents:
            self.note(
                "record_payment",
                payment.recorded_by,
                "rejected",
                field="amount_cents",
                reason=(
                    f"amount {payment.amount_cents} differs from the amount due "
                    f"{self._invoice.amount_due_cents}"
                ),
            )
            return
        self._commands.append(_InvoiceCommand("pay", payment.recorded_by, payment.model_dump()))

    @workflow.signal
    def void_invoice(self, payload: Any) -> None:
        """Finance voids the open invoice (e.g. issued in error):
        `{"decided_by": "finance@mattermost.com", "reason": "Order cancelled by the reseller"}`"""
        self._close_command("void", payload)

    @workflow.signal
    def mark_uncollectible(self, payload: Any) -> None:
        """Finance writes the open invoice off as uncollectible:
        `{"decided_by": "finance@mattermost.com",
        "reason": "No payment 30 days after the due date"}`"""
        self._close_command("mark_uncollectible", payload)

    @workflow.signal
    def invoice_event(self, payload: Any) -> None:
        """A billing-provider event for this order's invoice (sent by the Stripe webhook):
        `{"event_id": "evt_1", "type": "invoice.paid", "invoice_id": "in_1", "status": "paid"}`"""
        event = self.parse("invoice_event", payload, InvoiceEvent)
        if event is None:
            return
        if (
            event.event_id in self._events_seen
            or self._invoice is None
            or event.invoice_id != self._invoice.id
        ):
            return
        self._events_seen.add(event.event_id)
        change = invoice_stage_after(self._invoice_stage(), event.status)
        if not change.applies and workflow.patched(INVOICE_FORWARD_PATCH):
            self.note(
                "invoice",
                "billing",
                "ignored",
                event_id=event.event_id,
                type=event.type,
                reported=event.status,
                stage=change.stage,
                reason=change.reason,
            )
            return
        self._invoice = self._invoice.model_copy(
            update={"status": event.status, "amount_paid_cents": event.amount_paid_cents}
        )
        self.note("invoice", "billing", event.type, event_id=event.event_id)

    def _close_command(self, action: str, payload: Any) -> None:
        if self._invoice is None or self._invoice.status in CLOSED:
            self.note(action, "system", "rejected", reason="there is no open invoice")
            return
        closure = self.parse(action, payload, InvoiceClosure)
        if closure is None:
            return
        self._commands.append(_InvoiceCommand(action, closure.decided_by, closure.model_dump()))

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
        await self._issue_invoice()
        outcome = await self._follow_invoice()
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
        starts_at = workflow.now()
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
        self._publish_invoice()
        self.set_stage("invoiced")
        await self.email(
            "invoice:issued",
            [order.reseller.contact.email],
            "invoice_issued",
            self._invoice_context(),
        )

    async def _follow_invoice(self) -> str:
        """Wait for payment (Stripe event or finance task); remind before the due date,
        send overdue notices after it, hand the invoice to finance at 30 days overdue."""
        invoice = self._require_invoice()
        due_at = invoice.due_at or workflow.now() + timedelta(
            days=self._require_order().invoice_days_until_due
        )
        payment_example = {
            **RECORD_PAYMENT.example,
            "amount_cents": invoice.amount_due_cents,
            "reference": f"WIRE-{invoice.number}",
        }
        self.open_task(RECORD_PAYMENT, due_at, example=payment_example)
        schedule: list[tuple[datetime, str, int]] = [
            (due_at - DUE_REMINDER, "due_reminder", 0),
            (due_at, "overdue", 0),
        ]
        schedule += [
            (due_at + delta, "overdue_notice", n)
            for n, delta in enumerate(OVERDUE_NOTICES, start=1)
        ]
        while self._require_invoice().status not in CLOSED:
            next_at = schedule[0][0] if schedule else None
            woke = await self._wait_for_command(next_at)
            if self._commands:
                await self._apply(self._commands.pop(0))
            elif not woke and schedule:
                await self._on_invoice_timer(*schedule.pop(0)[1:], due_at=due_at)
        self.close_task(RECORD_PAYMENT.task)
        self.close_task(RESOLVE_OVERDUE.task)
        status = self._require_invoice().status
        self._publish_invoice()
        self.set_stage(status)
        if status == "paid":
            await self.email(
                "invoice:paid",
                [self._require_order().reseller.contact.email],
                "invoice_paid",
                self._invoice_context(),
            )
        else:
            await self.email(
                f"invoice:{status}",
                ["role:finance"],
                "invoice_closed",
                self._invoice_context(
                    status=status,
                    reason=self._facts.get("invoice_closed_reason")
                    or "closed in the billing system",
                ),
            )
        return status

    async def _wait_for_command(self, until: datetime | None) -> bool:
        def ready() -> bool:
            return bool(self._commands) or self._require_invoice().status in CLOSED

        with self.waiting(ready):
            if until is None:
                await workflow.wait_condition(ready)
                return True
            return await wait_until(ready, until, "invoice: next notice")

    async def _apply(self, command: _InvoiceCommand) -> None:
        invoice = self._require_invoice()
        if invoice.status in CLOSED:
            return
        workflow_id = workflow.info().workflow_id
        action = InvoiceAction(
            invoice_id=invoice.id,
            idempotency_key=f"{workflow_id}:invoice:{command.action}",
            action=command.action,
            reason=command.detail.get("reason"),
        )
        try:
            self._invoice = await call(
                "apply_invoice_action",
                action,
                options=EXTERNAL,
                result_type=InvoiceInfo,
                summary=f"invoice {action.action}",
            )
        except ActivityError as exc:
            # The billing system refused (e.g. the invoice changed there): record why and
            # take the billing system's current view of the invoice.
            self.note(
                f"invoice:{command.action}", command.actor, "rejected", reason=str(exc.cause or exc)
            )
            self._invoice = await call(
                "get_invoice",
                invoice.id,
                options=EXTERNAL,
                result_type=InvoiceInfo,
                summary=f"read invoice {invoice.id}",
            )
            self._publish_invoice()
            return
        if command.action != "pay":
            self._facts["invoice_closed_reason"] = command.detail.get("reason")
        await self.decide(
            f"invoice:{command.action}", command.actor, command.action, **command.detail
        )

    async def _on_invoice_timer(self, kind: str, number: int, *, due_at: datetime) -> None:
        order = self._require_order()
        if kind == "due_reminder":
            await self.email(
                "invoice:due_reminder",
                [order.reseller.contact.email],
                "invoice_due_reminder",
                self._invoice_context(days_until_due=DUE_REMINDER.days),
            )
        elif kind == "overdue":
            self._facts["overdue"] = True
            self._publish_invoice()
            self.set_stage("overdue")
        else:
            days = (workflow.now() - due_at).days
            await self.email(
                f"invoice:overdue:{number}",
                [order.reseller.contact.email],
                "invoice_overdue_notice",
                self._invoice_context(days_overdue=days, notice_number=number),
                cc=["role:finance"],
            )
            self.note("invoice", "system", "overdue_notice", number=number, days_overdue=days)
            if number == len(OVERDUE_NOTICES):
                self.open_task(RESOLVE_OVERDUE, None)

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

    def _invoice_stage(self) -> InvoiceStage:
        return invoice_stage(self._require_invoice().status, bool(self._facts.get("overdue")))

    def _publish_invoice(self) -> None:
        invoice = self._require_invoice()
        stage = self._invoice_stage()
        self._facts["invoice_stage"] = stage
        updates: list[SearchAttributeUpdate[Any]] = [
            INVOICE_STAGE.value_set(stage),
            AMOUNT_DUE_CENTS.value_set(invoice.amount_due_cents),
        ]
        if invoice.number:
            updates.append(INVOICE_NUMBER.value_set(invoice.number))
        if invoice.due_at:
            updates.append(INVOICE_DUE_AT.value_set(invoice.due_at))
        workflow.upsert_search_attributes(updates)
        self._notify_parent()

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
        invoice = self._require_invoice()
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

    def _require_invoice(self) -> InvoiceInfo:
        assert self._invoice is not None
        return self._invoice
