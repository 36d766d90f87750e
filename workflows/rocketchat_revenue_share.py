"""RocketChatRevenueShare (`rc-revenue-share-{partner_id}-{YYYY-MM}`): one month's revenue
share, invoiced to the partner, followed to the bank.

Started for the partnership (`RocketChatPartnership`, through the activity
`start_revenue_share_follower`: not a child, as it outlives the quarter's run and the
partnership) with the invoice it issued through the billing port (Stripe
`send_invoice`, net 30; the local ledger by default). The partner receives the invoice in
Rocket.Chat's name; then the invoice follower every billing process shares
(`workflows/invoice_following.py`: payment task for finance, a reminder three days before the
due date, `overdue` at it, overdue notices to the partner at 1, 7, 14 and 30 days, then
finance's `resolve_overdue_invoice`: pay, void or uncollectible). Stripe events reach it by
the invoice's `metadata.workflow_id`. Each stage is told to the partnership
(`revenue_share_progress`), which counts unpaid shares at its quarterly review.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import InvoiceClosure, PaymentRecorded
    from models.forms import money
    from models.rocketchat_billing import (
        RevenueShareInvoiceInput,
        RevenueShareInvoiceResult,
        ShareInvoice,
    )

from workflows.human_tasks import HumanTask
from workflows.invoice_following import RECORD_PAYMENT, RESOLVE_OVERDUE, InvoiceFollowing
from workflows.search_attributes import PARTNER_ID, PROGRAM

RC_RECORD_PAYMENT = HumanTask(
    task=RECORD_PAYMENT.task,
    handler=RECORD_PAYMENT.handler,
    assignee="finance",
    description="Record the partner's payment of its monthly revenue-share invoice when it arrives",
    model=PaymentRecorded,
    example={"recorded_by": "finance@rocket.chat", "amount_cents": 1, "reference": "WIRE-1"},
)
RC_RESOLVE_OVERDUE = HumanTask(
    task=RESOLVE_OVERDUE.task,
    handler=RESOLVE_OVERDUE.handler,
    assignee="finance",
    description="The revenue-share invoice is 30 days overdue: record the payment, void it, "
    "or mark it uncollectible",
    model=InvoiceClosure,
    example={
        "decided_by": "finance@rocket.chat",
        "reason": "No payment 30 days after the due date",
    },
)


@workflow.defn
class RocketChatRevenueShare(InvoiceFollowing):
    """One month's Rocket.Chat revenue share: invoice → paid, overdue, uncollectible."""

    process = "RocketChatRevenueShare"
    payment_task = RC_RECORD_PAYMENT
    overdue_task = RC_RESOLVE_OVERDUE
    human_tasks = (*InvoiceFollowing.human_tasks, RC_RECORD_PAYMENT, RC_RESOLVE_OVERDUE)

    def __init__(self) -> None:
        super().__init__()
        self._share: RevenueShareInvoiceInput | None = None
        self._seq = 0
        self._telling: list[asyncio.Future[None]] = []

    @workflow.run
    async def run(self, share: RevenueShareInvoiceInput) -> RevenueShareInvoiceResult:
        self._share = share
        self._invoice = share.invoice
        workflow.upsert_search_attributes(
            [PROGRAM.value_set("rocketchat"), PARTNER_ID.value_set(share.partner_id)]
        )
        self._facts = {
            "partner_id": share.partner_id,
            "company": share.company,
            "month": share.month,
            "partnership": share.partnership_workflow_id,
            "lines": list(share.lines),
            "invoice_id": share.invoice.id,
            "invoice_number": share.invoice.number,
        }
        self.publish_invoice()
        self.set_stage("invoiced")
        await self._email_partner(
            "invoice:issued",
            f"Your Rocket.Chat revenue share invoice for {share.month}",
            [
                (
                    f"Here is the invoice of Rocket.Chat's share of your sales in {share.month}, "
                    "computed from your monthly sales report."
                ),
                f"Payment is due by {self._due()} (net 30).",
            ],
        )
        status = await self.follow_invoice(share.days_until_due)
        self.conclude(status, self._facts.get("invoice_closed_reason"))
        # The partnership hears the last stage before this workflow ends.
        await asyncio.gather(*self._telling)
        return RevenueShareInvoiceResult(
            partner_id=share.partner_id,
            month=share.month,
            invoice_id=share.invoice.id,
            status=status,
        )

    # --- the follower's emails and progress ---------------------------------------------------

    async def invoice_email(self, kind: str, step: str, **extra: Any) -> None:
        """The partner hears of its invoice (the due reminder, the overdue notices copied to
        finance, the payment); finance and the account manager hear of a void or
        uncollectible one."""
        share = self._require_share()
        if kind == "due_reminder":
            await self._email_partner(
                step,
                f"Your Rocket.Chat revenue share invoice for {share.month} is due soon",
                [f"A friendly reminder: payment is due by {self._due()}."],
            )
        elif kind == "overdue_notice":
            days = extra.get("days_overdue", 0)
            await self._email_partner(
                step,
                f"Overdue: your Rocket.Chat revenue share invoice for {share.month}",
                [
                    (
                        f"Our records show that the invoice was due on {self._due()} and is now "
                        f"{days} day{'s' if days != 1 else ''} overdue. Please arrange payment "
                        "as soon as possible."
                    ),
                    (
                        "Unpaid revenue shares count against the quarterly compliance review of "
                        "the partner program. If you have already paid, thank you: reply with "
                        "the payment reference."
                    ),
                ],
                cc=["role:finance", "role:account_manager"],
            )
        elif kind == "paid":
            await self._email_partner(
                step,
                f"Payment received: Rocket.Chat revenue share {share.month}",
                ["Thank you: the invoice is paid in full and nothing more is needed from you."],
            )
        else:
            status = extra.get("status", "closed")
            await self.email(
                step,
                ["role:finance", "role:account_manager"],
                "rocketchat_notice",
                self._context(
                    f"Revenue share invoice {status}: {share.company}, {share.month}",
                    [f"The invoice was closed as {status}: {extra.get('reason') or ''}"],
                ),
            )

    def invoice_published(self) -> None:
        """The partnership mirrors the share's stage (its quarterly review counts it)."""
        share = self._require_share()
        invoice = self.require_invoice()
        self._seq += 1
        progress = ShareInvoice(
            month=share.month,
            workflow_id=workflow.info().workflow_id,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount_cents=invoice.amount_due_cents,
            due_at=invoice.due_at,
            stage=self.invoice_stage(),
            seq=self._seq,
        )
        self._telling.append(
            asyncio.ensure_future(self._tell_partnership(share.partnership_workflow_id, progress))
        )

    async def _tell_partnership(self, workflow_id: str, progress: ShareInvoice) -> None:
        """Best effort: a partnership that has ended no longer needs it."""
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(
                "revenue_share_progress", progress
            )
        except Exception as exc:  # noqa: BLE001
            workflow.logger.info("partnership %s not told of the share: %s", workflow_id, exc)

    # --- helpers ----------------------------------------------------------------------------

    async def _email_partner(
        self, step: str, headline: str, paragraphs: list[str], cc: list[str] | None = None
    ) -> None:
        share = self._require_share()
        await self.email(
            step,
            [str(share.contact_email)],
            "rocketchat_notice",
            self._context(headline, paragraphs),
            cc=cc or ["role:finance"],
        )

    def _context(self, headline: str, paragraphs: list[str]) -> dict[str, Any]:
        share = self._require_share()
        invoice = self.require_invoice()
        facts = [
            ("Invoice", invoice.number or invoice.id),
            ("Month", share.month),
            ("Amount due", money(invoice.amount_due_cents)),
            ("Due date", self._due()),
            *(("Line", line) for line in share.lines),
        ]
        if invoice.hosted_url:
            facts.append(("Pay online", invoice.hosted_url))
        return {
            "headline": headline,
            "company": share.company,
            "contact_name": share.contact_name,
            "paragraphs": paragraphs,
            "facts": facts,
        }

    def _due(self) -> str:
        due: datetime | None = self.require_invoice().due_at
        return f"{due:%B %d, %Y}" if due else "30 days after the invoice date"

    def _require_share(self) -> RevenueShareInvoiceInput:
        assert self._share is not None
        return self._share
