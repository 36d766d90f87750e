"""Following an invoice to paid, void or uncollectible: the one implementation every
process that bills someone uses (`OrderFulfillment`'s order invoice, the Rocket.Chat monthly
revenue share in `RocketChatRevenueShare`).

`InvoiceFollowing` is a `ProcessWorkflow` base: it holds the invoice, the finance commands
(`record_payment`, `void_invoice`, `mark_uncollectible`) and the billing events
(`invoice_event`, the Stripe webhook: a repeated event id is ignored; an event reporting a
stage the invoice has left changes nothing, `models/invoices.py`). `follow_invoice()` opens
the payment task, reminds before the due date, marks the invoice `overdue` at it, sends the
overdue notices (1, 7, 14 and 30 days after it) and hands the invoice to finance at 30 days
overdue (`resolve_overdue_invoice`). Each process says who hears what (`invoice_email`) and
who else sees its progress (`invoice_published`): the emails and their steps are the
process's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        InvoiceAction,
        InvoiceClosure,
        InvoiceEvent,
        InvoiceInfo,
        InvoiceStage,
        PaymentRecorded,
    )
    from models.invoices import invoice_stage, invoice_stage_after

from workflows.calls import EXTERNAL, call
from workflows.deadlines import wait_until
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow
from workflows.search_attributes import (
    AMOUNT_DUE_CENTS,
    INVOICE_DUE_AT,
    INVOICE_NUMBER,
    INVOICE_STAGE,
)

# A billing event reporting a stage the invoice has left (a late `invoice.payment_failed`
# after `invoice.paid`) is recorded as ignored; before, it set the invoice's status back.
# The marker is written only when such an event arrives, so other histories are unchanged.
INVOICE_FORWARD_PATCH = "invoice-stages-forward"
CLOSED = ("paid", "void", "uncollectible")
DUE_REMINDER = timedelta(days=3)
# Overdue notices, counted from the due date; the last one hands the invoice to finance.
OVERDUE_NOTICES = (timedelta(days=1), timedelta(days=7), timedelta(days=14), timedelta(days=30))

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
class InvoiceCommand:
    action: str  # pay | void | mark_uncollectible
    actor: str
    detail: dict[str, Any]


class InvoiceFollowing(ProcessWorkflow):
    """A process that follows one invoice it issued (see the module's docstring)."""

    # The finance tasks of the invoice (a program may name its own examples).
    payment_task: ClassVar[HumanTask] = RECORD_PAYMENT
    overdue_task: ClassVar[HumanTask] = RESOLVE_OVERDUE

    def __init__(self) -> None:
        super().__init__()
        self._invoice: InvoiceInfo | None = None
        self._commands: list[InvoiceCommand] = []
        self._events_seen: set[str] = set()

    # --- what each process says -----------------------------------------------------------

    async def invoice_email(self, kind: str, step: str, **extra: Any) -> None:
        """Send the invoice email `kind` (`due_reminder`, `overdue_notice`, `paid`,
        `closed`) as `step`."""
        raise NotImplementedError

    def invoice_published(self) -> None:
        """The invoice's stage changed (others may mirror it)."""

    # --- finance and billing handlers (signals; JSON input, as in the Temporal UI) ---------

    @workflow.signal
    def record_payment(self, payload: Any) -> None:
        """Finance records the customer's payment (the full amount due):
        `{"recorded_by": "finance@mattermost.com", "amount_cents": 250000,
        "reference": "WIRE-123"}`"""
        payment = self.accept(self.payment_task, payload, PaymentRecorded)
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
        self._commands.append(InvoiceCommand("pay", payment.recorded_by, payment.model_dump()))

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
        change = invoice_stage_after(self.invoice_stage(), event.status)
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
        self._commands.append(InvoiceCommand(action, closure.decided_by, closure.model_dump()))

    # --- following -------------------------------------------------------------------------

    async def follow_invoice(self, days_until_due: int) -> str:
        """Wait for payment (billing event or finance task); remind before the due date,
        send overdue notices after it, hand the invoice to finance at 30 days overdue. The
        invoice's final status."""
        invoice = self.require_invoice()
        due_at = invoice.due_at or workflow.now() + timedelta(days=days_until_due)
        payment_example = {
            **self.payment_task.example,
            "amount_cents": invoice.amount_due_cents,
            "reference": f"WIRE-{invoice.number}",
        }
        self.open_task(self.payment_task, due_at, example=payment_example)
        schedule: list[tuple[datetime, str, int]] = [
            (due_at - DUE_REMINDER, "due_reminder", 0),
            (due_at, "overdue", 0),
        ]
        schedule += [
            (due_at + delta, "overdue_notice", n)
            for n, delta in enumerate(OVERDUE_NOTICES, start=1)
        ]
        while self.require_invoice().status not in CLOSED:
            next_at = schedule[0][0] if schedule else None
            woke = await self._wait_for_command(next_at)
            if self._commands:
                await self._apply(self._commands.pop(0))
            elif not woke and schedule:
                await self._on_invoice_timer(*schedule.pop(0)[1:], due_at=due_at)
        self.close_task(self.payment_task.task)
        self.close_task(self.overdue_task.task)
        status = self.require_invoice().status
        self.publish_invoice()
        self.set_stage(status)
        if status == "paid":
            await self.invoice_email("paid", "invoice:paid")
        else:
            await self.invoice_email(
                "closed",
                f"invoice:{status}",
                status=status,
                reason=self._facts.get("invoice_closed_reason") or "closed in the billing system",
            )
        return status

    async def _wait_for_command(self, until: datetime | None) -> bool:
        def ready() -> bool:
            return bool(self._commands) or self.require_invoice().status in CLOSED

        with self.waiting(ready):
            if until is None:
                await workflow.wait_condition(ready)
                return True
            return await wait_until(ready, until, "invoice: next notice")

    async def _apply(self, command: InvoiceCommand) -> None:
        invoice = self.require_invoice()
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
            self.publish_invoice()
            return
        if command.action != "pay":
            self._facts["invoice_closed_reason"] = command.detail.get("reason")
        await self.decide(
            f"invoice:{command.action}", command.actor, command.action, **command.detail
        )

    async def _on_invoice_timer(self, kind: str, number: int, *, due_at: datetime) -> None:
        if kind == "due_reminder":
            await self.invoice_email(
                "due_reminder", "invoice:due_reminder", days_until_due=DUE_REMINDER.days
            )
        elif kind == "overdue":
            self._facts["overdue"] = True
            self.publish_invoice()
            self.set_stage("overdue")
        else:
            days = (workflow.now() - due_at).days
            await self.invoice_email(
                "overdue_notice",
                f"invoice:overdue:{number}",
                days_overdue=days,
                notice_number=number,
            )
            self.note("invoice", "system", "overdue_notice", number=number, days_overdue=days)
            if number == len(OVERDUE_NOTICES):
                self.open_task(self.overdue_task, None)

    # --- the invoice -----------------------------------------------------------------------

    def invoice_stage(self) -> InvoiceStage:
        return invoice_stage(self.require_invoice().status, bool(self._facts.get("overdue")))

    def publish_invoice(self) -> None:
        """The invoice's stage in the facts and the invoice search attributes (what
        `/finance` lists)."""
        invoice = self.require_invoice()
        stage = self.invoice_stage()
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
        self.invoice_published()

    def require_invoice(self) -> InvoiceInfo:
        assert self._invoice is not None
        return self._invoice
