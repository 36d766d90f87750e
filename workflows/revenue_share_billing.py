"""The revenue share to the bank, as the Rocket.Chat partnership does it (issue 14); the
partnership (`workflows/rocketchat_partnership.py`) takes it behind the patch
`revenue-share-to-the-bank`.

- **Referrals** (update `record_referral`): Rocket.Chat records each client it refers to the
  partner (client, project, date, who). A Technology Provider's 30/70 split is computed from
  these, not from the partner's report (`models/revenue_share.py`).
- **Special split** (update `set_special_split`): an operator sets a referred project's own
  split (percentages adding up to 100, who approved); recorded and used from the next report.
- **Each month's share** is invoiced through the billing port (net 30) and followed by a
  `RocketChatRevenueShare` of its own (the invoice follower orders use; started by the
  activity `start_revenue_share_follower`, as it outlives the quarter's run and the
  partnership); it reports each stage back (`revenue_share_progress`), shown in the facts
  as `revenue_shares`.
- **The quarterly review** counts what is past due and unpaid, shares and yearly fees
  (`unpaid_dues`), against `fees_paid`, each reason named.
- **Billing events** (`invoice_event`) for the partnership's own invoices: a paid yearly fee
  is recorded as paid; other events are noted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import InvoiceEvent, InvoiceInfo, InvoiceLine, InvoiceRequest
    from models.revenue_share import RevenueShare, revenue_share, unpaid_dues
    from models.rocketchat import PARTNER_TYPE_LABELS, RocketChatPartnershipInput, SalesReport
    from models.rocketchat_billing import (
        Referral,
        RevenueShareInvoiceInput,
        ShareInvoice,
        SpecialSplit,
        project_key,
        revenue_share_workflow_id,
    )

from workflows.calls import RECORD, SLOW, call
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow

SHARE_PATCH = "revenue-share-to-the-bank"

RECORD_REFERRAL = HumanTask(
    "record_referral",
    "record_referral",
    "account_manager",
    (
        "Record a client Rocket.Chat referred to the partner (a Technology Provider's referred "
        "projects are split 30/70 only when recorded here)"
    ),
    Referral,
    {
        "client": "Clinic Hospital",
        "project": "Clinic chat",
        "referred_on": "2026-11-02",
        "recorded_by": "sales@rocket.chat",
    },
)
SPECIAL_SPLIT = HumanTask(
    "set_special_split",
    "set_special_split",
    "account_manager",
    "Set the revenue split agreed for one referred project (instead of 30/70)",
    SpecialSplit,
    {
        "project": "Clinic chat",
        "rocketchat_percent": 20,
        "partner_percent": 80,
        "approved_by": "sales@rocket.chat",
        "reason": "Large public-sector project",
    },
)
SHARE_KINDS = ("referral", "split", "fee_paid_event")


class RevenueShareBilling(ProcessWorkflow):
    """The partnership's revenue share to the bank (see the module's docstring)."""

    _inbox: list[tuple[str, BaseModel]]
    _share_patched: bool = False

    def __init__(self) -> None:
        super().__init__()
        self._billing_event_ids: set[str] = set()  # the billing events taken, by id

    def _state(self) -> RocketChatPartnershipInput:
        raise NotImplementedError

    # --- handlers -----------------------------------------------------------------------

    @workflow.signal
    def record_referral(self, payload: Any) -> None:
        """Account manager: a client Rocket.Chat referred to the partner: `{"client": "Clinic
        Hospital", "project": "Clinic chat", "referred_on": "2026-11-02",
        "recorded_by": "sales@rocket.chat"}`"""
        referral = self.parse(RECORD_REFERRAL.task, payload, Referral)
        if referral is None:
            return
        if referral.referred_on > workflow.now().date():
            self.note(
                RECORD_REFERRAL.task,
                referral.recorded_by,
                "rejected",
                field="referred_on",
                reason="a referral cannot be dated in the future",
            )
            return
        if project_key(referral.project) in {project_key(p) for p in self._referred()}:
            self.note(
                RECORD_REFERRAL.task,
                referral.recorded_by,
                "rejected",
                field="project",
                reason=f"the referral of project {referral.project} is already recorded",
            )
            return
        self._inbox.append(("referral", referral))

    @workflow.signal
    def set_special_split(self, payload: Any) -> None:
        """Account manager: a referred project's own split, approved: `{"project": "Clinic
        chat", "rocketchat_percent": 20, "partner_percent": 80, "approved_by":
        "sales@rocket.chat", "reason": "..."}` (the percentages add up to 100)."""
        split = self.parse(SPECIAL_SPLIT.task, payload, SpecialSplit)
        if split is None:
            return
        known = self._referred()
        if project_key(split.project) not in {project_key(p) for p in known}:
            self.note(
                SPECIAL_SPLIT.task,
                split.approved_by,
                "rejected",
                field="project",
                reason=(
                    f"no referral of project {split.project} is recorded (recorded: "
                    f"{', '.join(known) or 'none'}): record the referral first"
                ),
            )
            return
        self._inbox.append(("split", split))

    def _referred(self) -> list[str]:
        """The projects Rocket.Chat referred (recorded, or about to be)."""
        queued = [r for kind, r in self._inbox if kind == "referral" and isinstance(r, Referral)]
        return [r.project for r in [*self._state().referrals, *queued]]

    @workflow.signal
    def revenue_share_progress(self, payload: Any) -> None:
        """From a month's `RocketChatRevenueShare`: its invoice's stage (open, overdue, paid,
        void, uncollectible)."""
        progress = self.parse("revenue_share_progress", payload, ShareInvoice)
        if progress is None:
            return
        shares = self._state().share_invoices
        known = shares.get(progress.month)
        if known is not None and known.seq >= progress.seq > 0:
            return  # an older report of the same invoice
        shares[progress.month] = progress
        if known is None or known.stage != progress.stage:
            self.note(
                "revenue_share",
                "billing",
                progress.stage,
                month=progress.month,
                invoice=progress.invoice_number or progress.invoice_id,
            )
        self.share_facts()

    @workflow.signal
    def invoice_event(self, payload: Any) -> None:
        """A billing-provider event for one of the partnership's own invoices (the Stripe
        webhook): a paid yearly fee is recorded as paid; anything else is noted.
        `{"event_id": "evt_1", "type": "invoice.paid", "invoice_id": "in_1", "status": "paid"}`"""
        event = self.parse("invoice_event", payload, InvoiceEvent)
        if event is None:
            return
        # Stripe delivers an event again until it is acknowledged: the same event is taken
        # once, however the deliveries interleave with the fee's payment being recorded.
        if event.event_id in self._billing_event_ids:
            return
        self._billing_event_ids.add(event.event_id)
        fee = next(
            (f for f in self._state().fee_invoices if f.invoice_id == event.invoice_id), None
        )
        if fee is not None and event.status == "paid":
            if not fee.paid:  # a repeat after the fee was recorded changes nothing
                self._inbox.append(("fee_paid_event", event))
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

    # --- the inbox -----------------------------------------------------------------------

    async def handle_share_item(self, kind: str, item: Any) -> None:
        """A referral, a special split or a fee paid in the billing system, recorded."""
        s = self._state()
        if kind == "referral":
            s.referrals.append(item)
            await self.decide(
                f"referral:{project_key(item.project)}",
                item.recorded_by,
                "recorded",
                client=item.client,
                project=item.project,
                referred_on=item.referred_on.isoformat(),
                note=item.note,
            )
        elif kind == "split":
            s.special_splits.append(item)
            await self.decide(
                f"special_split:{project_key(item.project)}:{len(s.special_splits)}",
                item.approved_by,
                "approved",
                project=item.project,
                rocketchat_percent=item.rocketchat_percent,
                partner_percent=item.partner_percent,
                reason=item.reason,
            )
        elif kind == "fee_paid_event":
            fee = next(f for f in s.fee_invoices if f.invoice_id == item.invoice_id)
            if fee.paid:
                return
            fee.paid = True
            await self.decide(f"program_fee:{fee.year}", "billing", "paid", event_id=item.event_id)
            self.close_task("record_fee_payment")
            self._facts["fees"] = [f.model_dump(mode="json") for f in s.fee_invoices]
        self._facts["referrals"] = [r.model_dump(mode="json") for r in s.referrals]
        self._facts["special_splits"] = [x.model_dump(mode="json") for x in s.special_splits]

    # --- the share ----------------------------------------------------------------------

    def share_of(self, report: SalesReport) -> RevenueShare:
        """The month's share, a Technology Provider's projects split by Rocket.Chat's own
        referrals and the special splits."""
        s = self._state()
        return revenue_share(s.application.partner_type, report, s.referrals, s.special_splits)

    def share_invoice_request(
        self, month: str, share: RevenueShare, workflow_id: str, **metadata: str
    ) -> InvoiceRequest:
        """The invoice of a month's share: what is owed to Rocket.Chat, line by line, net 30;
        billing events go to `workflow_id`."""
        app = self._state().application
        return InvoiceRequest(
            idempotency_key=f"rocketchat:{app.partner_id}:revenue-share:{month}",
            workflow_id=workflow_id,
            customer_name=app.company,
            customer_email=app.contact.email,
            customer_country=app.country,
            lines=[
                InvoiceLine(
                    description=line.description,
                    quantity=1,
                    unit_amount_cents=line.rocketchat_cents,
                )
                for line in share.lines
                if line.rocketchat_cents > 0
            ],
            days_until_due=30,
            description=(
                f"Rocket.Chat revenue share, {month} ({PARTNER_TYPE_LABELS[app.partner_type]})"
            ),
            metadata={
                "partner_id": app.partner_id,
                "program": "rocketchat",
                "report_month": month,
                **metadata,
            },
            issued_at=workflow.now(),
        )

    async def invoice_share(self, report: SalesReport, share: RevenueShare) -> str:
        """Invoice the month's share (net 30, through the billing port) and start the
        workflow that follows it to the bank; the invoice's id."""
        s = self._state()
        app = s.application
        follower_id = revenue_share_workflow_id(app.partner_id, report.month)
        invoice = await call(
            "create_invoice",
            self.share_invoice_request(
                report.month,
                share,
                follower_id,
                partnership_workflow_id=workflow.info().workflow_id,
            ),
            options=SLOW,
            result_type=InvoiceInfo,
            summary="create, finalize and send the revenue-share invoice",
        )
        s.share_invoices[report.month] = ShareInvoice(
            month=report.month,
            workflow_id=follower_id,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            amount_cents=invoice.amount_due_cents,
            due_at=invoice.due_at or workflow.now() + timedelta(days=30),
            stage="open",
        )
        self.share_facts()
        await call(
            "start_revenue_share_follower",
            RevenueShareInvoiceInput(
                partner_id=app.partner_id,
                partnership_workflow_id=workflow.info().workflow_id,
                company=app.company,
                contact_name=app.contact.name,
                contact_email=app.contact.email,
                partner_type=app.partner_type,
                month=report.month,
                lines=[line.description for line in share.lines],
                invoice=invoice,
            ),
            options=RECORD,
            result_type=str,
            summary=f"follow the revenue share {report.month} to the bank",
        )
        return invoice.id

    def unpaid(self) -> list[str]:
        """What counts against `fees_paid` at a review now (shares and fees past due)."""
        s = self._state()
        return unpaid_dues(s.share_invoices.values(), s.fee_invoices, workflow.now())

    def unpaid_shares(self) -> list[str]:
        """The revenue shares past due now, each in words (the review's findings)."""
        return unpaid_dues(self._state().share_invoices.values(), [], workflow.now())

    def share_facts(self) -> None:
        shares = self._state().share_invoices
        self._facts["revenue_shares"] = [
            shares[m].model_dump(mode="json", exclude={"seq"}) for m in sorted(shares)
        ]
