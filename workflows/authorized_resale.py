"""AuthorizedResale (`resale-{request_id}`): the one-time resale of Mattermost Enterprise.

Contact form (with the end customer's name) → embargo check of the end customer and of the
reseller (the party invoiced: located by its address, else its partner record; a request
whose reseller cannot be located is refused) → a partner manager reaches
out (two business days; reminder, escalation) → internal resale approval (with the
purchase-order details for the customer) → the one-time click-sign authorized reseller
agreement, signed by the reseller → the reseller's purchase order with the customer's name,
address and contact → `OrderFulfillment` (child) to a paid invoice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import OrderFulfillmentInput, OrderLine, PurchaseOrder
    from models.deals import (
        AuthorizedResaleInput,
        ReachOut,
        ResaleDecision,
        ResalePurchaseOrder,
        SalesOutcome,
        normalize_company,
    )
    from models.orders import review_order_terms, unscreenable_reseller

from workflows.deadlines import Deadline, business_deadline
from workflows.human_tasks import HumanTask
from workflows.process import SCREEN_RESELLER_PATCH, ProcessWorkflow
from workflows.sales import CALENDAR, SalesWorkflow
from workflows.search_attributes import PROGRAM
from workflows.signatures import sign_task

REACH_OUT = HumanTask(
    task="reach_out",
    handler="record_outreach",
    assignee="partner_manager",
    description="Reach out to the reseller about the one-time resale (within two business days)",
    model=ReachOut,
    example={
        "contacted_by": "partner-manager@mattermost.com",
        "notes": "Call held; the customer must buy through the reseller",
    },
)
DECIDE = HumanTask(
    task="approve_resale",
    handler="decide_resale",
    assignee="sales_manager",
    description=(
        "Approve the one-time resale with the purchase-order details for the customer, or reject "
        "it (reason required)"
    ),
    model=ResaleDecision,
    example={
        "approver": "sales-manager@mattermost.com",
        "decision": "approve",
        "lines": [
            {
                "sku": "MM-ENT-1Y",
                "description": "Mattermost Enterprise, 1 year",
                "seats": 100,
                "unit_price_cents": 12000,
            }
        ],
    },
)
SIGN = sign_task(
    "sign_reseller_agreement",
    "partner",
    (
        "The reseller signs the one-time authorized reseller agreement (signed link emailed to "
        "the reseller's contact)"
    ),
)
PURCHASE_ORDER = HumanTask(
    task="submit_purchase_order",
    handler="submit_purchase_order",
    assignee="partner",
    description=(
        "Send the purchase order to partners@mattermost.com with the customer's name, address and "
        "contact information"
    ),
    model=ResalePurchaseOrder,
    example={},
)


@workflow.defn
class AuthorizedResale(SalesWorkflow):
    """One-time authorized resale: outreach → approval → click-signed agreement → PO → order."""

    process = "AuthorizedResale"
    human_tasks = (*ProcessWorkflow.human_tasks, REACH_OUT, DECIDE, SIGN, PURCHASE_ORDER)

    def __init__(self) -> None:
        super().__init__()
        self._request: AuthorizedResaleInput | None = None
        self._outreach: ReachOut | None = None
        self._decision: ResaleDecision | None = None
        self._po: ResalePurchaseOrder | None = None

    @workflow.signal
    def record_outreach(self, payload: Any) -> None:
        """The partner manager reached out to the reseller:
        `{"contacted_by": "partner-manager@mattermost.com", "notes": "Call held"}`"""
        outreach = self.accept(REACH_OUT, payload, ReachOut)
        if outreach is not None and self._outreach is None:
            self._outreach = outreach

    @workflow.signal
    def decide_resale(self, payload: Any) -> None:
        """Internal resale approval: `{"approver": "...", "decision": "approve",
        "lines": [{"sku": "MM-ENT-1Y",
        "description": "Mattermost Enterprise, 1 year", "seats": 100,
        "unit_price_cents": 12000}]}` or
        `{"approver": "...", "decision": "reject", "reason": "..."}`."""
        decision = self.accept(DECIDE, payload, ResaleDecision)
        if decision is not None and self._decision is None:
            self._decision = decision

    @workflow.signal
    def submit_purchase_order(self, payload: Any) -> None:
        """The reseller's purchase order, with the customer's name, address and contact:
        `{"number": "PO-1", "submitted_by": "mari@example.com", "issued_by": "reseller",
        "end_customer": {"legal_name": "...", "address": {...}, "contact": {...}}}`"""
        po = self.accept(PURCHASE_ORDER, payload, ResalePurchaseOrder)
        if po is None or self._po is not None:
            return
        request = self._require()
        problems = []
        if normalize_company(po.end_customer.legal_name) != normalize_company(
            request.end_customer_name
        ):
            problems.append(
                f"the end customer {po.end_customer.legal_name} is not the customer of this "
                f"resale ({request.end_customer_name})"
            )
        problems += review_order_terms(self._order_for(po))
        if problems:
            self.note(PURCHASE_ORDER.task, po.submitted_by, "rejected", reason="; ".join(problems))
            return
        self._po = po

    @workflow.run
    async def run(self, request: AuthorizedResaleInput) -> SalesOutcome:
        self._request = request
        self.clock.interruption = None  # nothing interrupts a resale request
        self._facts = {
            "request_id": request.request_id,
            "reseller_company": request.reseller.company,
            "reseller_contact": request.reseller.contact.model_dump(mode="json"),
            "end_customer_name": request.end_customer_name,
            "end_customer_country": request.end_customer_country,
            "message": request.message,
        }
        workflow.upsert_search_attributes([PROGRAM.value_set("mattermost")])
        self.set_stage("screening")
        # Asked before the first local activity (see docs/determinism.md): the reseller is
        # screened after the end customer.
        screens_reseller = workflow.patched(SCREEN_RESELLER_PATCH)
        if refusal := await self.screen(
            request.end_customer_name, request.end_customer_country, step="screening:intake"
        ):
            await self._tell("refused", "refused", reason=refusal)
            return self._end("embargoed", refusal)
        if screens_reseller:
            if (located := await self.locate_reseller(request.reseller)) is None:
                reason = unscreenable_reseller(request.reseller)
                await self.decide("screening:intake:reseller", "system", "refused", reason=reason)
                await self._tell("refused", "refused", reason=reason)
                return self._end("refused", reason)
            if refusal := await self.screen(
                request.reseller.company,
                *located,
                step="screening:intake:reseller",
                role="reseller",
            ):
                await self._tell("refused", "refused", reason=refusal)
                return self._end("embargoed", refusal)
        await self._tell("received", "request received")

        due = await business_deadline(workflow.now(), request.outreach_business_days, CALENDAR)
        self.open_task(REACH_OUT, due)
        self.set_stage("outreach")
        await self.wait_for(
            REACH_OUT,
            lambda: self._outreach is not None,
            Deadline(reminders=[await business_deadline(workflow.now(), 1, CALENDAR)], due_at=due),
        )
        self.close_task(REACH_OUT.task)
        assert self._outreach is not None
        await self.decide(
            REACH_OUT.task, self._outreach.contacted_by, "reached_out", notes=self._outreach.notes
        )

        due = await business_deadline(workflow.now(), request.approval_business_days, CALENDAR)
        self.open_task(DECIDE, due)
        self.set_stage("approval")
        await self.wait_for(
            DECIDE,
            lambda: self._decision is not None,
            Deadline(reminders=[due - timedelta(hours=4)], due_at=due),
        )
        self.close_task(DECIDE.task)
        decision = self._decision
        assert decision is not None
        await self.decide(
            DECIDE.task,
            decision.approver,
            decision.decision,
            reason=decision.reason,
            lines=[line.model_dump() for line in decision.lines],
        )
        if decision.decision == "reject":
            await self._tell("rejected", "not approved", reason=decision.reason)
            return self._end("rejected", decision.reason)
        self._facts["lines"] = [line.model_dump() for line in decision.lines]

        self.set_stage("awaiting_agreement_signature")
        context = {
            "agreement_number": f"AR-{request.request_id}",
            "reseller": request.reseller.model_dump(mode="json"),
            "end_customer": {
                "legal_name": request.end_customer_name,
                "country": request.end_customer_country,
                "address": None,
                "contact": None,
            },
            "lines": [line.model_dump() for line in decision.lines],
        }
        contact = request.reseller.contact
        signed = await self.collect_signature(
            SIGN,
            kind="authorized_reseller_agreement",
            template="authorized_reseller_agreement",
            context=context,
            signer_name=contact.name,
            signer_email=str(contact.email),
            company=request.reseller.company,
        )
        if signed is None:
            reason = "the authorized reseller agreement was not signed before the link expired"
            await self._tell(
                "agreement_expired",
                "agreement expired",
                reason=reason,
                description="The signature link of the authorized reseller agreement expired.",
            )
            return self._end("agreement_expired", reason)
        self._facts["agreement"] = {
            "agreement_id": signed.agreement_id,
            "signed_by": signed.signer_name,
            "title": signed.signer_title,
            "signed_at": signed.signed_at.isoformat(),
        }
        await self.decide(
            SIGN.task,
            signed.signer_email,
            "signed",
            agreement_id=signed.agreement_id,
            sha256=signed.sha256,
        )
        await self._tell("agreement_signed", "agreement signed")

        due = await business_deadline(
            workflow.now(), request.purchase_order_business_days, CALENDAR
        )
        example = {
            "number": f"PO-{request.request_id}",
            "submitted_by": str(contact.email),
            "issued_by": "reseller",
            "end_customer": {
                "legal_name": request.end_customer_name,
                "address": {"line1": "…", "city": "…", "country": request.end_customer_country},
                "contact": {"name": "…", "email": "it@customer.example"},
            },
        }
        self.open_task(PURCHASE_ORDER, due, example=example)
        self.set_stage("awaiting_purchase_order")
        await self.wait_for(
            PURCHASE_ORDER,
            lambda: self._po is not None,
            Deadline(
                reminders=[due - timedelta(days=2)],
                due_at=due,
                remind=self._reseller_reminder,
                escalate=self._reseller_escalation,
            ),
        )
        self.close_task(PURCHASE_ORDER.task)
        po = self._po
        assert po is not None
        await self.decide(PURCHASE_ORDER.task, po.submitted_by, "accepted", number=po.number)
        await self._tell("ordered", "purchase order received", purchase_order=po.number)
        result = await self.run_order(
            self._order_for(po), partner_id=request.reseller.partner_id, deal_number=None
        )
        return self._end(
            result.outcome,
            result.reason,
            order_id=f"RS-{request.request_id}",
            order_outcome=result.outcome,
            invoice_number=result.invoice_number,
        )

    def _order_for(self, po: ResalePurchaseOrder) -> OrderFulfillmentInput:
        request = self._require()
        decision = self._decision
        lines = decision.lines if decision else []
        return OrderFulfillmentInput(
            order_id=f"RS-{request.request_id}",
            channel="authorized_reseller",
            reseller=request.reseller,
            end_customer=po.end_customer,
            purchase_order=PurchaseOrder(
                number=po.number, issued_by=po.issued_by, custom_terms=po.custom_terms
            ),
            lines=[
                OrderLine(
                    sku=line.sku,
                    description=line.description,
                    seats=line.seats,
                    unit_price_cents=line.unit_price_cents,
                )
                for line in lines
            ],
        )

    async def _reseller_reminder(self, number: int) -> None:
        task = self._tasks.get(PURCHASE_ORDER.task)
        await self._tell(
            f"purchase_order:reminder:{number}",
            "reminder",
            description=f"Reminder: {PURCHASE_ORDER.description}",
            due_at=task.due_at.isoformat() if task and task.due_at else None,
        )

    async def _reseller_escalation(self) -> None:
        task = self._tasks.get(PURCHASE_ORDER.task)
        await self._tell(
            "purchase_order:escalation",
            "overdue",
            cc=["role:partner_manager"],
            description=f"Overdue: {PURCHASE_ORDER.description}",
            due_at=task.due_at.isoformat() if task and task.due_at else None,
        )

    async def _tell(
        self, step: str, headline: str, *, cc: list[str] | None = None, **extra: Any
    ) -> None:
        request = self._require()
        context = {
            "request_id": request.request_id,
            "reseller_company": request.reseller.company,
            "contact_name": request.reseller.contact.name,
            "end_customer_name": request.end_customer_name,
            "event": step.split(":", 1)[0],
            "headline": headline,
            "reason": "",
            "description": "",
            "due_at": None,
            "purchase_order": "",
            **extra,
        }
        await self.email(
            f"resale:{step}",
            [str(request.reseller.contact.email)],
            "resale_update",
            context,
            cc=cc or [],
        )

    def _end(self, outcome: str, reason: str | None, **extra: Any) -> SalesOutcome:
        self.conclude(outcome, reason)
        return SalesOutcome(
            workflow_id=workflow.info().workflow_id, outcome=outcome, reason=reason, **extra
        )

    def _require(self) -> AuthorizedResaleInput:
        assert self._request is not None
        return self._request
