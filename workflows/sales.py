"""What DealRegistration and AuthorizedResale share: audited decisions, embargo screening,
waits that a withdrawal (or another interrupting event) ends, emails to people outside the
company for their own tasks, and the hand-over to `OrderFulfillment` as a child workflow."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        OrderFulfillmentInput,
        OrderFulfillmentResult,
        OrderProgress,
    )
    from models.forms.spec import money

from workflows.search_attributes import (
    AMOUNT_DUE_CENTS,
    DEAL_NUMBER,
    INVOICE_DUE_AT,
    INVOICE_NUMBER,
    INVOICE_STAGE,
    PARTNER_ID,
    PROGRAM,
    STAGE,
)
from workflows.signatures import AgreementWorkflow

CALENDAR = "US"
INVOICE_OUTCOMES = ("paid", "void", "uncollectible")


class SalesWorkflow(AgreementWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._interrupt: str | None = None
        self._order_seq = 0
        # Waits end early (returning False) once an interrupting event (a withdrawal, the
        # customer buying online) arrived; the process checks `_interrupt` after each wait.
        self.clock.interruption = lambda: self._interrupt is not None

    async def run_order(
        self, order: OrderFulfillmentInput, *, partner_id: str | None, deal_number: str | None
    ) -> OrderFulfillmentResult:
        """Hand the order to `OrderFulfillment` (child `order-{order_id}`) and follow it to
        its end; the child's outcome and invoice land in this workflow's facts and
        search attributes."""
        child_id = f"order-{order.order_id}"
        self.clock.interruption = None
        self._facts["order"] = {
            "workflow_id": child_id,
            "order_id": order.order_id,
            "total_cents": order.total_cents,
        }
        pairs: list[SearchAttributePair[Any]] = [
            SearchAttributePair(PROGRAM, "mattermost"),
            SearchAttributePair(STAGE, "received"),
        ]
        if partner_id:
            pairs.append(SearchAttributePair(PARTNER_ID, partner_id))
        if deal_number:
            pairs.append(SearchAttributePair(DEAL_NUMBER, deal_number))
        self.set_stage("order_fulfillment")
        deal = f", deal {deal_number}" if deal_number else ""
        child = await workflow.start_child_workflow(
            "OrderFulfillment",
            order,
            id=child_id,
            result_type=OrderFulfillmentResult,
            search_attributes=TypedSearchAttributes(pairs),
            static_summary=(
                f"Order {order.order_id} ({order.channel.replace('_', ' ')}{deal}): "
                f"{order.reseller.company} → {order.end_customer.legal_name}"
            ),
            static_details=(
                f"**Order {order.order_id}** for {order.end_customer.legal_name}, "
                f"{money(order.total_cents, order.currency)}\n\n"
                f"- **Reseller:** {order.reseller.company} — {order.reseller.contact.name} "
                f"<{order.reseller.contact.email}>\n"
                f"- **End customer:** {order.end_customer.contact.name} "
                f"<{order.end_customer.contact.email}>\n"
                f"- **Started by:** `{workflow.info().workflow_id}`"
                f"{f' (deal {deal_number})' if deal_number else ''}"
            ),
        )
        # The child reports every change (`order_progress`); the result closes the loop.
        with self.waiting(lambda: False):  # at rest: the order's tasks are the child's
            result: OrderFulfillmentResult = await child
        self._facts["order"].update(
            outcome=result.outcome,
            reason=result.reason,
            invoice_number=result.invoice_number,
            license_id=result.license_id,
        )
        updates: list[Any] = []
        if result.outcome in INVOICE_OUTCOMES:
            self._facts["invoice_stage"] = result.outcome
            updates.append(INVOICE_STAGE.value_set(result.outcome))
        if result.invoice_number:
            updates.append(INVOICE_NUMBER.value_set(result.invoice_number))
        if updates:
            workflow.upsert_search_attributes(updates)
        self._facts["order"]["stage"] = result.outcome
        await self.decide(
            "order",
            "system",
            result.outcome,
            order_id=order.order_id,
            reason=result.reason,
            invoice_number=result.invoice_number,
        )
        return result

    @workflow.signal
    def order_progress(self, payload: Any) -> None:
        """Sent by the child `OrderFulfillment` at every change: its stage, pending tasks and
        invoice, mirrored here (facts and the invoice search attributes)."""
        try:
            progress = OrderProgress.model_validate(payload)
        except ValueError:
            return
        order = self._facts.get("order")
        if (
            order is None
            or progress.workflow_id != order.get("workflow_id")
            or progress.seq <= self._order_seq
        ):
            return
        self._order_seq = progress.seq
        order.update(
            stage=progress.stage,
            pending_tasks=progress.pending_tasks,
            invoice_number=progress.invoice_number,
        )
        if progress.invoice_stage:
            self._facts["invoice_stage"] = progress.invoice_stage
            updates: list[Any] = [INVOICE_STAGE.value_set(progress.invoice_stage)]
            if progress.invoice_number:
                updates.append(INVOICE_NUMBER.value_set(progress.invoice_number))
            if progress.amount_due_cents is not None:
                updates.append(AMOUNT_DUE_CENTS.value_set(progress.amount_due_cents))
            if progress.invoice_due_at is not None:
                updates.append(INVOICE_DUE_AT.value_set(progress.invoice_due_at))
            workflow.upsert_search_attributes(updates)
        self._publish()
