"""RocketChatPartnership (`rc-partnership-{partner_id}`): the partner's life after onboarding.

One run covers one quarter (three months from the signature); at its end the quarterly
review is computed and the workflow continues as new with its state (goals baseline,
reports, reviews, fees, term), so each run's history stays small.

- **Monthly sales report** (signal `submit_sales_report`, form `monthly-sales-report`) for each
  month, due on the 10th of the next month: reminder on the 7th, escalation and "missed" on
  the 10th. The revenue share is computed (models/revenue_share.py) and what is owed to
  Rocket.Chat is invoiced net 30 (idempotency key per report month).
- **Quarterly review** at each quarter's end: goal attainment from the reports, compliance
  (term, support contract, Rocket.Chat on the website, reports all submitted, share
  statistics on, projects naming Rocket.Chat as a reference, fees paid; each failure a
  finding with its reason, models/rocketchat_compliance.py); the reviewer decides
  compliant / warning / removal; two failed reviews in a row propose removal; removal ends
  the partnership, delists and notifies. A Temporal Schedule can also request a review
  (`request_review`).
- **Goals**: each review compares the quarter's reports (those due in the quarter) with each
  goal's quarter target, and every fourth review the year's reports with the year target
  (reported, target, percent, met: in the review task, the decision email and the facts
  `attainment`); a goal missed with every requirement met proposes `warning`. After the
  decision the account manager sets the next quarter's goals with the partner
  (`set_quarter_goals`); unset, the previous goals stay.
- **Revenue share to the bank** (patch `revenue-share-to-the-bank`,
  workflows/revenue_share_billing.py): each share is followed by its own
  `RocketChatRevenueShare`; referrals and special splits are recorded by updates; unpaid shares
  and fees fail `fees_paid` at the review, with the reasons.
- **Yearly fee** invoiced at each anniversary (finance records the payment); **renewal** task
  60 days before the term ends; renewal extends the term, termination (or no decision by
  the end of the term) ends the partnership.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import PartnerLeft
    from models.contracts import (
        InvoiceAction,
        InvoiceInfo,
    )
    from models.directory import UnpublishRequest
    from models.forms import money
    from models.revenue_share import revenue_share
    from models.rocketchat import (
        GOALS_DECISION_DAYS,
        RENEWAL_NOTICE_DAYS,
        REPORT_REMINDER_DAY,
        REVIEW_DECISION_DAYS,
        YEARLY_PROGRAM_FEE_CENTS,
        ComplianceUpdate,
        FeeInvoice,
        FeePayment,
        GoalAttainment,
        QuarterGoalsSet,
        QuarterReview,
        RenewalDecision,
        ReportSummary,
        ReviewDecision,
        ReviewRequest,
        RocketChatPartnershipInput,
        RocketChatPartnershipResult,
        SalesReport,
        SalesReportRecord,
        WebCheckResult,
        add_months,
        compliance_failures,
        evaluate_goals,
        goal_attainment,
        goal_line,
        months_due_in,
        propose_outcome,
        quarter_bounds,
        report_due_at,
        report_months,
        website_request,
    )
    from models.rocketchat_compliance import (
        ComplianceEvidence,
        evaluate_compliance,
        findings_text,
    )
    from models.tasks import HistoryEntry

from workflows.calls import EXTERNAL, RECORD, SLOW, call
from workflows.deadlines import wait_until
from workflows.human_tasks import HumanTask
from workflows.revenue_share_billing import (
    RECORD_REFERRAL,
    SHARE_KINDS,
    SHARE_PATCH,
    SPECIAL_SPLIT,
    RevenueShareBilling,
)
from workflows.rocketchat_partners import program_fee_invoice, rocketchat_partner
from workflows.rocketchat_summary import DELIST_PATCH, delist_from_site, revoke_portal
from workflows.search_attributes import PARTNER_ID, PROGRAM

CARRIED_HISTORY = 30  # decisions kept across continue-as-new for operators
# the partner's opportunities-portal access revoked as the partnership ends
PORTAL_REVOKE_PATCH = "rc-year-portal-revoke"
# the partner is told its agreement was renewed, with the new term's end
RENEWAL_NOTICE_PATCH = "rc-year-renewal-notice"
GOALS_PATCH = "rc-quarter-goals"  # goals evaluated at reviews; the next quarter's goals task
# Reviews evaluate the compliance facts with reasons (models/rocketchat_compliance.py): the
# reports' projects name Rocket.Chat as a reference; findings in the task, decision and email.
COMPLIANCE_PATCH = "rc-compliance-findings"

SALES_REPORT = HumanTask(
    "monthly_sales_report",
    "submit_sales_report",
    "partner",
    (
        "The partner submits its monthly sales report (sales closed, prospective sales, hosting "
        "revenue, referred projects, premium offers, share statistics)"
    ),
    SalesReport,
    {},
    partner_task=(
        "Please send your monthly sales report: sales closed, prospective sales, hosting "
        "revenue, referred projects, premium offers sold, whether 'share the statistics' "
        "is on in your projects, and your projects with whether each names Rocket.Chat as a "
        "reference."
    ),
)
QUARTERLY_REVIEW = HumanTask(
    "quarterly_review",
    "decide_review",
    "reviewer",
    (
        "Decide the quarterly review: compliant, warning or removal (goal attainment and "
        "compliance are in the workflow's facts)"
    ),
    ReviewDecision,
    {"reviewer": "partners@rocket.chat", "quarter": 1, "outcome": "compliant"},
)
FEE_PAYMENT = HumanTask(
    "record_fee_payment",
    "record_fee_payment",
    "finance",
    "Record the partner's payment of the yearly program fee when it arrives",
    FeePayment,
    {
        "recorded_by": "finance@rocket.chat",
        "year": 1,
        "amount_cents": YEARLY_PROGRAM_FEE_CENTS,
        "reference": "WIRE-1",
    },
)
SET_GOALS = HumanTask(
    "set_quarter_goals",
    "set_quarter_goals",
    "account_manager",
    (
        "After the quarterly review, agree the next quarter's goals (quarter and year targets) "
        "with the partner"
    ),
    QuarterGoalsSet,
    {
        "agreed_by": "sales@rocket.chat",
        "quarter": 2,
        "goals": [{"metric": "deals_closed", "quarter_target": 3, "year_target": 12}],
    },
)
RENEWAL = HumanTask(
    "decide_renewal",
    "decide_renewal",
    "account_manager",
    "The partner agreement's term ends soon: renew it (at least 12 months) or let it end",
    RenewalDecision,
    {"decided_by": "sales@rocket.chat", "decision": "renew", "term_months": 12},
)


@workflow.defn
class RocketChatPartnership(RevenueShareBilling):
    """A Rocket.Chat partnership, one quarter per run."""

    process = "RocketChatPartnership"
    human_tasks = (
        *RevenueShareBilling.human_tasks,
        SALES_REPORT,
        QUARTERLY_REVIEW,
        FEE_PAYMENT,
        RENEWAL,
        SET_GOALS,
        RECORD_REFERRAL,
        SPECIAL_SPLIT,
    )

    def __init__(self) -> None:
        super().__init__()
        self._s: RocketChatPartnershipInput | None = None
        self._inbox: list[tuple[str, BaseModel]] = []
        self._goals_patched = False
        self._renewal_notice = False
        self._compliance_patched = False

    # --- handlers -------------------------------------------------------------------------------

    @workflow.signal
    def submit_sales_report(self, payload: Any) -> None:
        """The partner's report for one ended month (also form `monthly-sales-report`):
        `{"month": "2026-11", "submitted_by": "ana@partner.example", "deals_closed": 2,
        "sales_closed_cents": 1500000, "prospective_sales": 3, "hosting_revenue_cents": 0,
        "referred_projects": [{"name": "Clinic chat", "amount_cents": 800000}],
        "premium_offers": [{"product": "enterprise_license",
        "description": "Enterprise, 100 users", "quantity": 1, "list_price_cents": 400000}],
        "certified_staff": 2, "share_statistics": true,
        "projects": [{"name": "Clinic chat", "rocketchat_reference": true}]}` (`projects`
        optional: each project of the month and whether it names Rocket.Chat as a reference)"""
        report = self.parse(SALES_REPORT.task, payload, SalesReport)
        if report is None:
            return
        if report.month not in self._open_months() or any(
            m == report.month for m, _ in self._queued_reports()
        ):
            self.note(
                SALES_REPORT.task,
                report.submitted_by,
                "rejected",
                field="month",
                reason=(
                    f"no report for {report.month} is expected (open: "
                    f"{', '.join(self._open_months()) or 'none'})"
                ),
            )
            return
        self._inbox.append(("report", report))

    @workflow.signal
    def decide_review(self, payload: Any) -> None:
        """Reviewer: `{"reviewer": "partners@rocket.chat", "quarter": 1, "outcome": "compliant"}`,
        or
        `"warning"` / `"removal"` with `"notes"`. The pending task's example proposes the
        outcome."""
        decision = self.accept(QUARTERLY_REVIEW, payload, ReviewDecision)
        if decision is None:
            return
        pending = self._state().pending_review
        if pending is None or decision.quarter != pending.quarter:
            self.note(
                QUARTERLY_REVIEW.task,
                decision.reviewer,
                "rejected",
                field="quarter",
                reason=f"quarter {decision.quarter} is not under review",
            )
            return
        self._inbox.append(("review", decision))

    @workflow.signal
    def record_fee_payment(self, payload: Any) -> None:
        """Finance: `{"recorded_by": "finance@rocket.chat", "year": 1, "amount_cents": 120000,
        "reference": "WIRE-1"}`"""
        payment = self.accept(FEE_PAYMENT, payload, FeePayment)
        if payment is None:
            return
        fee = next(
            (f for f in self._state().fee_invoices if f.year == payment.year and not f.paid), None
        )
        if fee is None or payment.amount_cents != fee.amount_cents:
            self.note(
                FEE_PAYMENT.task,
                payment.recorded_by,
                "rejected",
                field="amount_cents",
                reason=f"no unpaid fee of {payment.amount_cents} cents for year {payment.year}",
            )
            return
        self._inbox.append(("fee", payment))

    @workflow.signal
    def decide_renewal(self, payload: Any) -> None:
        """Account manager: `{"decided_by": "sales@rocket.chat", "decision": "renew",
        "term_months": 12}` or
        `{"decided_by": "...", "decision": "terminate", "reason": "..."}`."""
        if decision := self.accept(RENEWAL, payload, RenewalDecision):
            self._inbox.append(("renewal", decision))

    @workflow.signal
    def set_quarter_goals(self, payload: Any) -> None:
        """Account manager, after a quarterly review: `{"agreed_by": "sales@rocket.chat",
        "quarter": 2, "goals": [{"metric": "deals_closed", "quarter_target": 3,
        "year_target": 12}]}` (the quarter the open task names)."""
        goals = self.accept(SET_GOALS, payload, QuarterGoalsSet)
        if goals is None:
            return
        if goals.quarter != self._state().goals_for_quarter:
            self.note(
                SET_GOALS.task,
                goals.agreed_by,
                "rejected",
                field="quarter",
                reason=f"the goals to set are for quarter {self._state().goals_for_quarter}",
            )
            return
        self._inbox.append(("goals", goals))

    @workflow.signal
    def update_compliance(self, payload: Any) -> None:
        """Partner manager records a compliance fact: `{"updated_by": "partners@rocket.chat",
        "support_contract_active": false, "note": "..."}`"""
        update = self.parse("update_compliance", payload, ComplianceUpdate)
        if update is None:
            return
        self._inbox.append(("compliance", update))

    @workflow.signal
    def request_review(self, payload: Any = None) -> None:
        """Start the quarterly review now (sent by the quarterly Schedule): `{"requested_by":
        "schedule"}`"""
        request = self.parse("request_review", payload or {}, ReviewRequest)
        if request is None:
            return
        self._inbox.append(("request_review", request))

    @workflow.signal
    def partner_offboarded(self, payload: Any) -> None:
        """The partner's entity offboarded the partner (sent by `Partner` on the effective
        date): the partnership ends as a removal does. `{"reason": "…",
        "decided_by": "partners@rocket.chat"}`"""
        if left := self.parse("partner_offboarded", payload, PartnerLeft):
            self._inbox.append(("offboarded", left))

    # --- the run ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, state: RocketChatPartnershipInput) -> RocketChatPartnershipResult:
        # Asked first, before any local activity of this workflow task (docs/determinism.md).
        self._goals_patched = workflow.patched(GOALS_PATCH)
        self._compliance_patched = workflow.patched(COMPLIANCE_PATCH)
        self._share_patched = workflow.patched(SHARE_PATCH)
        self._renewal_notice = workflow.patched(RENEWAL_NOTICE_PATCH)
        self._s = state
        app = state.application
        self._history = [HistoryEntry.model_validate(h) for h in state.history_carried]
        workflow.upsert_search_attributes(
            [PROGRAM.value_set("rocketchat"), PARTNER_ID.value_set(app.partner_id)]
        )
        q_start, q_end = quarter_bounds(state.signed_at, state.quarter)
        self._refresh_facts(q_start, q_end)
        if self._share_patched:
            self.share_facts()
        self.set_stage(f"quarter_{state.quarter}")
        self._open_report_task()
        for fee in state.fee_invoices:
            if not fee.paid:
                self._open_fee_task(fee)
        if state.pending_review is not None:
            self._open_review_task(state.pending_review)
        if state.renewal_opened:
            self.open_task(RENEWAL, state.term_end - timedelta(days=14))
        if state.goals_for_quarter is not None:
            self._open_goals_task(state.goals_for_quarter, state.goals_due_at)

        while True:
            now = workflow.now()
            events = self._events(now, q_end)
            at, kind, arg = events[0]
            with self.waiting(lambda: bool(self._inbox)):
                woke = await wait_until(
                    lambda: bool(self._inbox), at, f"{kind} {arg or ''}".strip()
                )
            if woke and self._inbox:
                outcome = await self._handle(*self._inbox.pop(0))
            elif not woke:
                outcome = await self._on_event(kind, arg)
            else:
                continue
            if outcome is not None:
                return outcome
            if kind == "quarter_end" and not woke:
                break
        return await self._continue(q_end)

    # --- the calendar ------------------------------------------------------------------------

    def _events(self, now: datetime, q_end: datetime) -> list[tuple[datetime, str, str]]:
        """What happens next in this quarter, earliest first (one timer per due date)."""
        s = self._state()
        events: list[tuple[datetime, str, str]] = [(q_end, "quarter_end", "")]
        for month in report_months(s.signed_at, s.term_end):
            due = report_due_at(month)
            opens = due.replace(day=1)
            reminder = due.replace(day=REPORT_REMINDER_DAY)
            reported = month in s.reports
            for at, kind in (
                (opens, "report_open"),
                (reminder, "report_reminder"),
                (due, "report_due"),
            ):
                if now < at < q_end and not (reported and kind != "report_open"):
                    events.append((at, kind, month))
        year = 1  # the fee of year N is invoiced at the (N-1)th anniversary (year 1: on signature)
        while (anniversary := add_months(s.signed_at, 12 * (year - 1))) < s.term_end:
            if anniversary < q_end and not any(f.year == year for f in s.fee_invoices):
                events.append((max(anniversary, now), "fee", str(year)))
            year += 1
        renewal_at = s.term_end - timedelta(days=RENEWAL_NOTICE_DAYS)
        if not s.renewal_opened and renewal_at < q_end:
            events.append((max(renewal_at, now), "renewal_open", ""))
        if s.term_end <= q_end:
            events.append((s.term_end, "term_end", ""))
        if s.pending_review is not None:
            due = s.pending_review.period_end + timedelta(days=REVIEW_DECISION_DAYS)
            task = self._tasks.get(QUARTERLY_REVIEW.task)
            if now < due < q_end and task is not None and not task.escalated:
                events.append((due, "review_escalation", ""))
        for spec in (RENEWAL, FEE_PAYMENT, SET_GOALS):
            task = self._tasks.get(spec.task)
            if (
                task is not None
                and task.due_at is not None
                and not task.escalated
                and now < task.due_at < q_end
            ):
                events.append((task.due_at, "task_due", spec.task))
        order = {"term_end": 0, "quarter_end": 1}
        return sorted(events, key=lambda e: (e[0], order.get(e[1], 2)))

    async def _on_event(self, kind: str, arg: str) -> RocketChatPartnershipResult | None:
        s = self._state()
        if kind == "report_open":
            self._open_report_task()
            await self._email_partner(
                f"report:{arg}:request",
                "Your monthly sales report is due",
                [
                    (
                        f"Please submit your sales report for {arg} (sales closed, prospective "
                        "sales, hosting revenue, referred projects, premium offers sold, and "
                        "whether 'share the statistics' is ON in your projects) by "
                        f"{report_due_at(arg):%B %d, %Y}."
                    ),
                    *(
                        [
                            "Please list the month's projects and, for each, whether it names "
                            "Rocket.Chat as a reference (a program requirement)."
                        ]
                        if self._compliance_patched
                        else []
                    ),
                ],
            )
        elif kind == "report_reminder":
            self.bump_task(
                SALES_REPORT.task,
                reminders_sent=(self._tasks[SALES_REPORT.task].reminders_sent + 1)
                if SALES_REPORT.task in self._tasks
                else 1,
            )
            await self.email(
                f"report:{arg}:reminder",
                [str(s.application.contact.email)],
                "partner_task_reminder",
                self.task_context(SALES_REPORT),
            )
        elif kind == "report_due":
            if arg not in s.reports and arg not in s.missed_months:
                s.missed_months.append(arg)
                self._facts["missed_reports"] = list(s.missed_months)
                self.note(SALES_REPORT.task, "system", "missed", month=arg)
                self.bump_task(SALES_REPORT.task, escalated=True)
                await self.email(
                    f"report:{arg}:escalation",
                    [str(s.application.contact.email), "role:account_manager"],
                    "partner_task_escalation",
                    self.task_context(SALES_REPORT),
                )
        elif kind == "fee":
            await self._invoice_fee(int(arg))
        elif kind == "renewal_open":
            s.renewal_opened = True
            self.open_task(RENEWAL, s.term_end - timedelta(days=14))
        elif kind == "review_escalation":
            assert s.pending_review is not None
            await self._escalate(QUARTERLY_REVIEW, f"quarterly_review:{s.pending_review.quarter}")
        elif kind == "task_due":
            spec = {t.task: t for t in (RENEWAL, FEE_PAYMENT, SET_GOALS)}[arg]
            await self._escalate(spec, f"{spec.task}:{workflow.now():%Y-%m-%d}")
        elif kind == "term_end":
            return await self._finish("terminated", "the term ended without renewal")
        elif kind == "quarter_end":
            reviewed = any(r.quarter == s.quarter for r in s.reviews)
            stale = s.pending_review
            if stale is not None and stale.quarter != s.quarter:
                # Never decided: it counts as a review with its failures, for the next proposal.
                s.reviews.append(
                    stale.model_copy(
                        update={"notes": "not decided before the next quarterly review"}
                    )
                )
                s.pending_review = None
                self.close_task(QUARTERLY_REVIEW.task)
                self.note(QUARTERLY_REVIEW.task, "system", "superseded", quarter=stale.quarter)
            if not reviewed and (s.pending_review is None or s.pending_review.quarter != s.quarter):
                await self._begin_review(s.quarter, "quarter_end")
        return None

    # --- inbox ----------------------------------------------------------------------------------

    async def _handle(self, kind: str, item: Any) -> RocketChatPartnershipResult | None:
        s = self._state()
        if kind in SHARE_KINDS:
            await self.handle_share_item(kind, item)
        elif kind == "report":
            await self._take_report(item)
        elif kind == "fee":
            await self._pay_fee(item)
        elif kind == "compliance":
            if item.support_contract_active is not None:
                s.support_contract_active = item.support_contract_active
            self.note(
                "update_compliance",
                item.updated_by,
                "updated",
                support_contract_active=item.support_contract_active,
                note=item.note,
            )
        elif kind == "renewal":
            self.close_task(RENEWAL.task)
            await self.decide(
                f"renewal:{s.term_end:%Y-%m-%d}",
                item.decided_by,
                item.decision,
                term_months=item.term_months,
                reason=item.reason,
            )
            if item.decision == "terminate":
                return await self._finish("terminated", item.reason or "not renewed")
            s.term_end = add_months(s.term_end, item.term_months)
            s.term_months += item.term_months
            s.renewal_opened = False
            self._facts["term_end"] = s.term_end.isoformat()
            if self._renewal_notice:
                await self._email_partner(
                    f"renewal:{s.term_end:%Y-%m-%d}",
                    "Your Rocket.Chat partner agreement is renewed",
                    [
                        (
                            f"Your Rocket.Chat Partner Agreement is renewed for "
                            f"{item.term_months} months, until {s.term_end:%B %d, %Y}. The "
                            "yearly partner program fee is invoiced at each anniversary."
                        )
                    ],
                )
        elif kind == "request_review":
            last = s.reviews[-1] if s.reviews else None
            recently = last is not None and workflow.now() - last.period_end < timedelta(days=30)
            if s.pending_review is not None or recently:
                self.note(
                    "request_review",
                    item.requested_by,
                    "ignored",
                    reason="a review is pending or was just done",
                )
            else:
                await self._begin_review(s.quarter, item.requested_by)
        elif kind == "review":
            return await self._decide_review(item)
        elif kind == "goals":
            await self._set_goals(item)
        elif kind == "offboarded":
            await self.decide("offboarded", item.decided_by, "removal", reason=item.reason)
            return await self._finish("removed", item.reason)
        return None

    async def _take_report(self, report: SalesReport) -> None:
        s = self._state()
        app = s.application
        workflow_id = workflow.info().workflow_id
        patched = self._share_patched
        share = self.share_of(report) if patched else revenue_share(app.partner_type, report)
        owed = share.owed_to_rocketchat_cents
        invoice_id = None
        if owed > 0 and patched:
            invoice_id = await self.invoice_share(report, share)
        elif owed > 0:
            invoice = await call(
                "create_invoice",
                self.share_invoice_request(report.month, share, workflow_id),
                options=SLOW,
                result_type=InvoiceInfo,
                summary="create, finalize and send the invoice",
            )
            invoice_id = invoice.id
        await call(
            "record_sales_report",
            SalesReportRecord(
                idempotency_key=f"rocketchat:{app.partner_id}:sales-report:{report.month}",
                partner_id=app.partner_id,
                workflow_id=workflow_id,
                month=report.month,
                partner_type=app.partner_type,
                report=report.model_dump(mode="json"),
                share=share.model_dump(mode="json"),
                owed_to_rocketchat_cents=owed,
                invoice_id=invoice_id,
                submitted_at=workflow.now(),
            ),
            options=RECORD,
            summary=f"record sales report {report.month}",
        )
        s.reports[report.month] = ReportSummary(
            month=report.month,
            submitted_at=workflow.now(),
            deals_closed=report.deals_closed,
            sales_closed_cents=report.sales_closed_cents,
            prospective_sales=report.prospective_sales,
            certified_staff=report.certified_staff,
            share_statistics=report.share_statistics,
            owed_to_rocketchat_cents=owed,
            invoice_id=invoice_id,
            projects=report.projects,
        )
        self.note(
            SALES_REPORT.task,
            report.submitted_by,
            "submitted",
            month=report.month,
            owed_to_rocketchat_cents=owed,
            invoice_id=invoice_id,
        )
        self._facts["last_report"] = {
            "month": report.month,
            "owed_to_rocketchat": money(owed),
            "invoice_id": invoice_id,
        }
        self._open_report_task()

    async def _pay_fee(self, payment: FeePayment) -> None:
        s = self._state()
        fee = next(f for f in s.fee_invoices if f.year == payment.year)
        await call(
            "apply_invoice_action",
            InvoiceAction(
                invoice_id=fee.invoice_id,
                idempotency_key=f"rocketchat:{s.application.partner_id}:program-fee:{fee.year}:pay",
                action="pay",
            ),
            options=EXTERNAL,
            result_type=InvoiceInfo,
            summary="invoice pay",
        )
        fee.paid = True
        await self.decide(
            f"program_fee:{fee.year}", payment.recorded_by, "paid", reference=payment.reference
        )
        self.close_task(FEE_PAYMENT.task)
        for other in s.fee_invoices:
            if not other.paid:
                self._open_fee_task(other)
        self._facts["fees"] = [f.model_dump(mode="json") for f in s.fee_invoices]

    async def _invoice_fee(self, year: int) -> None:
        s = self._state()
        app = s.application
        invoice = await call(
            "create_invoice",
            program_fee_invoice(
                app,
                year,
                f"Rocket.Chat Partner Program fee, year {year}",
                {"program": "rocketchat"},
            ),
            options=SLOW,
            result_type=InvoiceInfo,
            summary="create, finalize and send the invoice",
        )
        fee = FeeInvoice(
            year=year,
            invoice_id=invoice.id,
            amount_cents=invoice.amount_due_cents,
            due_at=invoice.due_at,
        )
        s.fee_invoices.append(fee)
        await self.decide(f"program_fee:{year}", "system", "invoiced", invoice_id=invoice.id)
        self._facts["fees"] = [f.model_dump(mode="json") for f in s.fee_invoices]
        if FEE_PAYMENT.task not in self._tasks:
            self._open_fee_task(fee)

    # --- reviews ----------------------------------------------------------------------------------

    async def _begin_review(self, quarter: int, trigger: str) -> None:
        s = self._state()
        start, end = quarter_bounds(s.signed_at, quarter)
        now = workflow.now()
        due_months = months_due_in(
            s.signed_at, s.term_end, start, min(end, now) + timedelta(seconds=1)
        )
        reports = [s.reports[m] for m in due_months if m in s.reports]
        app = s.application
        request = website_request(s.website_url or str(app.website), app.partner_type, app.services)
        check = await call(
            "check_partner_website",
            request,
            options=SLOW,
            result_type=WebCheckResult,
            summary=f"check {request.url} shows Rocket.Chat, the type and a service",
        )
        compliance = {
            "term_in_force": s.term_months >= 12 and now <= s.term_end,
            "support_contract_active": s.support_contract_active,
            "rocketchat_on_website": check.ok,
            "monthly_reports_submitted": all(m in s.reports for m in due_months),
            "share_statistics_on": all(
                s.reports[m].share_statistics for m in due_months if m in s.reports
            ),
            "fees_paid": all(f.paid for f in s.fee_invoices if f.due_at is None or f.due_at <= now),
        }
        unpaid = self.unpaid() if self._share_patched else []
        if self._share_patched:  # shares past due count too, each reason named
            compliance["fees_paid"] = not unpaid
        findings = []
        if self._compliance_patched:
            evaluation = evaluate_compliance(
                ComplianceEvidence(
                    now=now,
                    term_months=s.term_months,
                    term_end=s.term_end,
                    support_contract_active=s.support_contract_active,
                    support_contract_reference=s.support_contract_reference,
                    website=check,
                    due_months=due_months,
                    reports=s.reports,
                    fee_invoices=s.fee_invoices,
                    unpaid_shares=self.unpaid_shares() if self._share_patched else [],
                ),
                compliance,
            )
            compliance, findings = evaluation.compliance, evaluation.findings
        failures = compliance_failures(compliance)
        goals: list[GoalAttainment] = []
        if self._goals_patched:
            year_reports = None
            if quarter % 4 == 0:  # every fourth review also checks the year
                year_start = quarter_bounds(s.signed_at, quarter - 3)[0]
                year_months = months_due_in(
                    s.signed_at, s.term_end, year_start, min(end, now) + timedelta(seconds=1)
                )
                year_reports = [s.reports[m] for m in year_months if m in s.reports]
            goals = evaluate_goals(s.goals, reports, year_reports)
        review = QuarterReview(
            quarter=quarter,
            period_start=start,
            period_end=min(end, now),
            attainment=goal_attainment(s.goals, reports),
            compliance=compliance,
            failures=failures,
            proposed=propose_outcome(failures, s.reviews, goals),
            website_missing=check.missing,
            goals=goals,
            findings=findings,
            unpaid_dues=unpaid,
        )
        s.pending_review = review
        self.note(
            QUARTERLY_REVIEW.task,
            trigger,
            "computed",
            quarter=quarter,
            failures=failures,
            proposed=review.proposed,
            goals=[goal_line(g) for g in goals],
            website=check.reason,
            website_found=check.found,
            website_missing=check.missing,
            **({"findings": [f.reason for f in findings]} if findings else {}),
        )
        self._open_review_task(review)

    def _open_review_task(self, review: QuarterReview) -> None:
        failing = ", ".join(review.failures) or "none"
        example: dict[str, Any] = {
            "reviewer": "partners@rocket.chat",
            "quarter": review.quarter,
            "outcome": review.proposed,
        }
        missed = [goal_line(g) for g in review.goals if not g.met]
        if review.proposed != "compliant":
            example["notes"] = "; ".join(
                ([f"Requirements not met: {failing}"] if review.failures else [])
                + (
                    [f"Compliance findings: {findings_text(review.findings)}"]
                    if review.findings
                    else []
                )
                + ([f"Goals missed: {', '.join(missed)}"] if missed else [])
                + ([f"Unpaid: {', '.join(review.unpaid_dues)}"] if review.unpaid_dues else [])
            )
        self.open_task(
            QUARTERLY_REVIEW,
            review.period_end + timedelta(days=REVIEW_DECISION_DAYS),
            description=(
                f"Quarter {review.quarter} review: failing requirements: {failing}; proposed: "
                f"{review.proposed}"
                + (f"; findings: {findings_text(review.findings)}" if review.findings else "")
                + (
                    f"; goals: {', '.join(goal_line(g) for g in review.goals)}"
                    if review.goals
                    else ""
                )
                + (
                    f"; the website lacks: {', '.join(review.website_missing)}"
                    if review.website_missing
                    else ""
                )
                + (f"; unpaid: {', '.join(review.unpaid_dues)}" if review.unpaid_dues else "")
            ),
            example=example,
        )
        self._facts["review"] = review.model_dump(mode="json")

    async def _decide_review(self, decision: ReviewDecision) -> RocketChatPartnershipResult | None:
        s = self._state()
        review = s.pending_review
        assert review is not None
        review = review.model_copy(
            update={
                "outcome": decision.outcome,
                "reviewer": decision.reviewer,
                "notes": decision.notes,
            }
        )
        s.reviews.append(review)
        s.pending_review = None
        self.close_task(QUARTERLY_REVIEW.task)
        await self.decide(
            f"quarterly_review:{review.quarter}",
            decision.reviewer,
            decision.outcome,
            failures=review.failures,
            proposed=review.proposed,
            notes=decision.notes,
            **({"findings": [f.reason for f in review.findings]} if review.findings else {}),
        )
        self._facts["last_review"] = {
            "quarter": review.quarter,
            "outcome": decision.outcome,
            "failures": review.failures,
            "goals": [g.model_dump(mode="json") for g in review.goals],
            "findings": [f.model_dump(mode="json") for f in review.findings],
        }
        self._facts["attainment"] = self._attainment()
        self._facts.pop("review", None)
        if decision.outcome == "removal":
            return await self._finish(
                "removed", decision.notes or "removed after the quarterly review"
            )
        if self._goals_patched:
            await self._email_review(review, decision)
            self._open_goals_task(
                review.quarter + 1, workflow.now() + timedelta(days=GOALS_DECISION_DAYS)
            )
        elif decision.outcome == "warning":
            await self._email_partner(
                f"review:{review.quarter}:warning",
                "Warning after your quarterly partnership review",
                [
                    (
                        f"The review of quarter {review.quarter} found requirements of the "
                        "Rocket.Chat Partner Program that are not met: "
                        f"{', '.join(review.failures)}. {decision.notes or ''}"
                    ),
                    (
                        "If they are still not met at the next quarterly review, Rocket.Chat may "
                        "remove you from the program."
                    ),
                ],
            )
        return None

    async def _email_review(self, review: QuarterReview, decision: ReviewDecision) -> None:
        """The decision, with the goals' numbers (reported, target, percent) in its table."""
        facts = [
            (
                f"{g.period.capitalize()} goal: {g.metric.replace('_', ' ')}",
                f"{g.reported} of {g.target} ({g.percent}%), {'met' if g.met else 'missed'}",
            )
            for g in review.goals
        ]
        facts += [("Compliance finding", f.reason) for f in review.findings]
        if decision.outcome == "warning":
            found = []
            if review.findings:
                found.append(
                    "requirements of the Rocket.Chat Partner Program that are not met: "
                    + findings_text(review.findings)
                )
            elif review.failures:
                found.append(
                    "requirements of the Rocket.Chat Partner Program that are not met: "
                    f"{', '.join(review.failures)}"
                )
            if missed := [g for g in review.goals if not g.met]:
                found.append("goals missed: " + ", ".join(f"{g.period} {g.metric}" for g in missed))
            paragraphs = [
                (
                    f"The review of quarter {review.quarter} found "
                    f"{'; '.join(found) or 'issues'}. {decision.notes or ''}"
                ),
                (
                    "If they are still not met at the next quarterly review, Rocket.Chat may "
                    "remove you from the program."
                ),
            ]
            await self._email_partner(
                f"review:{review.quarter}:warning",
                "Warning after your quarterly partnership review",
                paragraphs,
                facts=facts,
            )
            return
        await self._email_partner(
            f"review:{review.quarter}:compliant",
            "Your quarterly partnership review",
            [
                (
                    f"The review of quarter {review.quarter} found the Rocket.Chat Partner "
                    "Program's requirements met. Your account manager will agree the next "
                    "quarter's goals with you."
                )
            ],
            facts=facts,
        )

    def _open_goals_task(self, quarter: int, due_at: datetime | None) -> None:
        s = self._state()
        s.goals_for_quarter, s.goals_due_at = quarter, due_at
        last = s.reviews[-1] if s.reviews else None
        numbers = ", ".join(goal_line(g) for g in last.goals) if last else ""
        self.open_task(
            SET_GOALS,
            due_at,
            description=(
                f"Agree the goals of quarter {quarter} with the partner"
                + (f" (quarter {last.quarter}: {numbers})" if last and numbers else "")
            ),
            example={
                "agreed_by": "sales@rocket.chat",
                "quarter": quarter,
                "goals": [g.model_dump(mode="json") for g in s.goals],
            },
        )

    async def _set_goals(self, goals: QuarterGoalsSet) -> None:
        s = self._state()
        s.goals = list(goals.goals)
        s.goals_for_quarter, s.goals_due_at = None, None
        self.close_task(SET_GOALS.task)
        await self.decide(
            f"quarter_goals:{goals.quarter}",
            goals.agreed_by,
            "set",
            goals=[g.model_dump(mode="json") for g in goals.goals],
        )
        self._facts["goals"] = [g.model_dump() for g in s.goals]

    def _attainment(self) -> list[dict[str, Any]]:
        """Goal attainment of the last reviews (four quarters), for `status`."""
        return [
            {"quarter": r.quarter, **g.model_dump(mode="json")}
            for r in self._state().reviews[-4:]
            for g in r.goals
        ]

    # --- end and continue -------------------------------------------------------------------------

    async def _finish(self, outcome: str, reason: str) -> RocketChatPartnershipResult:
        s = self._state()
        app = s.application
        self.close_all_tasks()
        status = "removed"
        current = await self.find_partner(app.partner_id, "rocketchat")
        attributes = {**(current.attributes if current else {}), "ended": outcome, "reason": reason}
        await self.record_partner(rocketchat_partner(app, status, attributes))
        delisted = await call(
            "unpublish_listing",
            UnpublishRequest(
                partner_id=app.partner_id,
                workflow_id=workflow.info().workflow_id,
                program="rocketchat",  # Mattermost's listing of the same slug stays
                reason=reason,
                at=workflow.now(),
            ),
            options=RECORD,
            result_type=bool,
            summary=f"remove directory listing {app.partner_id}",
        )
        if workflow.patched(DELIST_PATCH):  # asked as the listing's removal wakes the workflow
            delisted = await delist_from_site(app.partner_id, reason) or delisted
        revoked: dict[str, bool] = {}
        if workflow.patched(PORTAL_REVOKE_PATCH):  # asked as the last activity wakes it
            revoked["portal_revoked"] = await revoke_portal(app.partner_id, reason)
        await self.decide(
            "partnership", "system", outcome, reason=reason, delisted=delisted, **revoked
        )
        headline = (
            "You have been removed from the Rocket.Chat Partner Program"
            if outcome == "removed"
            else "Your Rocket.Chat partnership has ended"
        )
        await self._email_partner(
            f"partnership:{outcome}",
            headline,
            [
                f"{reason}.",
                (
                    "Your listing as a Rocket.Chat partner is withdrawn; please remove the "
                    "Rocket.Chat partner badge from your website."
                ),
            ],
            cc=["role:partner_manager"],
        )
        self._facts.update(outcome=outcome, reason=reason)
        self.set_stage(outcome)
        return RocketChatPartnershipResult(
            partner_id=app.partner_id, outcome=outcome, reason=reason, quarters=s.quarter
        )

    async def _continue(self, q_end: datetime) -> RocketChatPartnershipResult:
        while self._inbox:  # signals that arrived while the quarter closed
            if (outcome := await self._handle(*self._inbox.pop(0))) is not None:
                return outcome
        s = self._state()
        history = [h.model_dump(mode="json") for h in self._history[-CARRIED_HISTORY:]]
        state = s.model_copy(update={"quarter": s.quarter + 1, "history_carried": history})
        await self.finish_handlers()
        workflow.continue_as_new(state)

    # --- helpers ----------------------------------------------------------------------------------

    def _open_months(self) -> list[str]:
        """Months that have ended and are not reported yet (oldest first)."""
        s = self._state()
        now = workflow.now()
        return [
            m
            for m in report_months(s.signed_at, s.term_end)
            if report_due_at(m).replace(day=1) <= now and m not in s.reports
        ]

    def _queued_reports(self) -> list[tuple[str, Any]]:
        return [
            (item.month, item)
            for kind, item in self._inbox
            if kind == "report" and isinstance(item, SalesReport)
        ]

    def _open_report_task(self) -> None:
        months = self._open_months()
        self._facts["outstanding_reports"] = months
        if not months:
            self.close_task(SALES_REPORT.task)
            return
        s = self._state()
        month = months[0]
        example = {
            "month": month,
            "submitted_by": str(s.application.contact.email),
            "deals_closed": 0,
            "sales_closed_cents": 0,
            "prospective_sales": 0,
            "hosting_revenue_cents": 0,
            "referred_projects": [],
            "premium_offers": [],
            "certified_staff": 0,
            "share_statistics": True,
        }
        previous = self._tasks.get(SALES_REPORT.task)
        description = f"{SALES_REPORT.description}; outstanding: {', '.join(months)}"
        self.open_task(SALES_REPORT, report_due_at(month), description=description, example=example)
        if previous is not None and previous.example.get("month") == month:
            self.bump_task(
                SALES_REPORT.task,
                reminders_sent=previous.reminders_sent,
                escalated=previous.escalated,
            )
        elif month in s.missed_months:
            self.bump_task(SALES_REPORT.task, escalated=True)

    def _open_fee_task(self, fee: FeeInvoice) -> None:
        if FEE_PAYMENT.task in self._tasks:
            return
        self.open_task(
            FEE_PAYMENT,
            fee.due_at,
            description=f"{FEE_PAYMENT.description} (year {fee.year}, invoice {fee.invoice_id})",
            example={
                **FEE_PAYMENT.example,
                "year": fee.year,
                "amount_cents": fee.amount_cents,
                "reference": f"WIRE-{fee.invoice_id}",
            },
        )

    def _refresh_facts(self, q_start: datetime, q_end: datetime) -> None:
        s = self._state()
        self._facts = {
            "partner_id": s.application.partner_id,
            "company": s.application.company,
            "partner_type": s.application.partner_type,
            "quarter": s.quarter,
            "quarter_start": q_start.isoformat(),
            "quarter_end": q_end.isoformat(),
            "signed_at": s.signed_at.isoformat(),
            "term_end": s.term_end.isoformat(),
            "reports": sorted(s.reports),
            "missed_reports": list(s.missed_months),
            "fees": [f.model_dump(mode="json") for f in s.fee_invoices],
            "reviews": [
                {"quarter": r.quarter, "outcome": r.outcome, "failures": r.failures}
                for r in s.reviews[-4:]
            ],
            "goals": [g.model_dump() for g in s.goals],
            "attainment": self._attainment(),
        }

    async def _email_partner(
        self,
        step: str,
        headline: str,
        paragraphs: list[str],
        cc: list[str] | None = None,
        facts: list[tuple[str, str]] | None = None,
    ) -> None:
        app = self._state().application
        context = {
            "headline": headline,
            "company": app.company,
            "contact_name": app.contact.name,
            "paragraphs": paragraphs,
            "facts": facts or [],
        }
        await self.email(
            step,
            [str(app.contact.email)],
            "rocketchat_notice",
            context,
            cc=cc or ["role:account_manager"],
        )

    async def _escalate(self, spec: HumanTask, occurrence: str) -> None:
        """The task's deadline passed: email its owner role and operations (one email per
        occurrence: it names the quarter or the date, as runs share the workflow id)."""
        self.bump_task(spec.task, escalated=True)
        await self.clock.escalation_email(spec, step=occurrence)()
        self.note(spec.task, "system", "escalated", email_step=f"{occurrence}:escalation")

    def _state(self) -> RocketChatPartnershipInput:
        assert self._s is not None
        return self._s


@workflow.defn
class RocketChatReviewTrigger:
    """Started by the quarterly Temporal Schedule `rc-quarterly-review-{partner_id}`
    (`partnerflow schedules`): asks the partnership to run its quarterly review now."""

    @workflow.run
    async def run(self, partner_id: str) -> str:
        target = f"rc-partnership-{partner_id}"
        try:
            await workflow.get_external_workflow_handle(target).signal(
                "request_review", {"requested_by": "schedule"}
            )
        except Exception as exc:  # the partnership has ended or never started
            workflow.logger.warning("no running partnership %s: %s", target, exc)
            return f"no running partnership {target}"
        return f"review requested from {target}"
