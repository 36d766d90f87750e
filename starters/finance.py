"""Finance views shared by `partnerflow invoices` and the finance board (`/finance`).

Invoices come from visibility: the `InvoiceStage`, `InvoiceNumber`, `AmountDueCents` and
`InvoiceDueAt` search attributes. A deal or a one-time resale mirrors the invoice of its
child `OrderFulfillment`; an invoice is listed once, under the order that owns it.
Currency and customer come from the invoice records (`invoices` table) when they have the
invoice; the default is USD.

Referral-fee payables (`referral_fees`) and the Rocket.Chat revenue share
(`rocketchat_sales_reports`) come from the records database; each share's stage (open,
overdue, paid, void, uncollectible) is its follower's `InvoiceStage` (`RocketChatRevenueShare`,
in the invoices listed from visibility), else the invoice record's status.

Money is integer cents, printed exactly with `Decimal`. Aging of unpaid invoices
(`open` and `overdue`): days past due = the number of started days since the due date
(due 2 hours ago = 1 day), in the buckets current (not yet due), 1–30, 31–60, 61–90, >90.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from temporalio.client import Client

from activities.records import (
    invoice_currencies_and_customers,
    list_referral_fee_rows,
    list_sales_reports_with_invoices,
)
from models.settings import Settings
from workflows.search_attributes import (
    AMOUNT_DUE_CENTS,
    INVOICE_DUE_AT,
    INVOICE_NUMBER,
    INVOICE_STAGE,
)

INVOICE_STAGES = ("draft", "open", "overdue", "paid", "void", "uncollectible")
UNPAID_STAGES = ("open", "overdue")
OWNER_TYPE = "OrderFulfillment"
DEFAULT_CURRENCY = "USD"
AGING_BUCKETS: tuple[tuple[str, str], ...] = (
    ("current", "Current (not yet due)"),
    ("1-30", "1–30 days past due"),
    ("31-60", "31–60 days past due"),
    ("61-90", "61–90 days past due"),
    ("90+", "More than 90 days past due"),
)
CSV_HEADER = [
    "invoice_number", "stage", "currency", "amount_due", "amount_due_cents", "due_at",
    "days_past_due", "aging_bucket", "workflow_id", "workflow_type", "customer",
]  # fmt: skip


@dataclass(frozen=True)
class Invoice:
    workflow_id: str
    workflow_type: str
    invoice_number: str | None
    stage: str
    amount_due_cents: int
    due_at: datetime | None
    currency: str = DEFAULT_CURRENCY
    customer: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The shape of `partnerflow invoices --json`."""
        return {
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "invoice_number": self.invoice_number,
            "stage": self.stage,
            "amount_due_cents": self.amount_due_cents,
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }


# --- money ---------------------------------------------------------------------------------


def decimal_amount(cents: int) -> Decimal:
    """Exact: 123456 → Decimal('1234.56')."""
    return Decimal(cents).scaleb(-2)


def money(cents: int, currency: str = DEFAULT_CURRENCY) -> str:
    """`1,234.56 USD`, exact to the cent."""
    return f"{decimal_amount(cents):,.2f} {currency.upper()}"


# --- invoices: pure ------------------------------------------------------------------------


def dedupe_invoices(invoices: Iterable[Invoice]) -> list[Invoice]:
    """One entry per invoice: a parent's (deal, resale) mirror of an invoice is dropped when
    the child order that owns it is listed, and kept once otherwise. Orders are never
    merged with each other. First-seen order is kept."""
    items = list(invoices)
    owned = {i.invoice_number for i in items if i.workflow_type == OWNER_TYPE and i.invoice_number}
    mirrored: set[str] = set()
    result = []
    for invoice in items:
        number = invoice.invoice_number
        if invoice.workflow_type != OWNER_TYPE and number:
            if number in owned or number in mirrored:
                continue
            mirrored.add(number)
        result.append(invoice)
    return result


def days_past_due(due_at: datetime | None, now: datetime) -> int:
    """Started days since the due date (0 when not yet due or without a due date)."""
    if due_at is None or due_at >= now:
        return 0
    return math.ceil((now - due_at).total_seconds() / 86400)


def aging_bucket(due_at: datetime | None, now: datetime) -> str:
    days = days_past_due(due_at, now)
    if days == 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass
class Total:
    count: int = 0
    cents: int = 0

    def add(self, cents: int) -> None:
        self.count += 1
        self.cents += cents


@dataclass
class Board:
    """Invoices grouped by stage, with totals per stage and currency, and aging."""

    now: datetime
    invoices: list[Invoice]
    by_stage: dict[str, list[Invoice]] = field(default_factory=dict)
    stage_totals: dict[str, dict[str, Total]] = field(default_factory=dict)
    aging: dict[str, dict[str, Total]] = field(default_factory=dict)
    unpaid: dict[str, Total] = field(default_factory=dict)

    @property
    def currencies(self) -> list[str]:
        return sorted({i.currency for i in self.invoices}) or [DEFAULT_CURRENCY]


def stage_totals(invoices: Iterable[Invoice]) -> dict[str, dict[str, Total]]:
    """stage → currency → (count, cents), every stage present."""
    totals: dict[str, dict[str, Total]] = {stage: {} for stage in INVOICE_STAGES}
    for invoice in invoices:
        totals.setdefault(invoice.stage, {}).setdefault(invoice.currency, Total()).add(
            invoice.amount_due_cents
        )
    return totals


def aging(invoices: Iterable[Invoice], now: datetime) -> dict[str, dict[str, Total]]:
    """bucket → currency → (count, cents) of the unpaid (open and overdue) invoices."""
    buckets: dict[str, dict[str, Total]] = {key: {} for key, _ in AGING_BUCKETS}
    for invoice in invoices:
        if invoice.stage in UNPAID_STAGES:
            buckets[aging_bucket(invoice.due_at, now)].setdefault(invoice.currency, Total()).add(
                invoice.amount_due_cents
            )
    return buckets


def build_board(invoices: Iterable[Invoice], now: datetime) -> Board:
    items = sort_invoices(list(invoices))
    board = Board(now=now, invoices=items)
    board.by_stage = {stage: [i for i in items if i.stage == stage] for stage in INVOICE_STAGES}
    for invoice in items:
        if invoice.stage not in board.by_stage:  # a stage this board does not know: still shown
            board.by_stage.setdefault(invoice.stage, []).append(invoice)
    board.stage_totals = stage_totals(items)
    board.aging = aging(items, now)
    for invoice in items:
        if invoice.stage in UNPAID_STAGES:
            board.unpaid.setdefault(invoice.currency, Total()).add(invoice.amount_due_cents)
    return board


def sort_invoices(invoices: list[Invoice]) -> list[Invoice]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(invoices, key=lambda i: (i.due_at or far, i.invoice_number or "", i.workflow_id))


def _cell(value: str) -> str:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(invoices: Iterable[Invoice], now: datetime) -> list[list[str]]:
    """Header and one row per invoice; amounts exact (`6000.00` and `600000`)."""
    rows = [list(CSV_HEADER)]
    for i in invoices:
        unpaid = i.stage in UNPAID_STAGES
        days = str(days_past_due(i.due_at, now)) if unpaid else ""
        bucket = aging_bucket(i.due_at, now) if unpaid else ""
        rows.append([
            _cell(i.invoice_number or ""), i.stage, i.currency,
            str(decimal_amount(i.amount_due_cents)), str(i.amount_due_cents),
            i.due_at.astimezone(UTC).isoformat() if i.due_at else "", days, bucket,
            _cell(i.workflow_id), i.workflow_type, _cell(i.customer or ""),
        ])  # fmt: skip
    return rows


def to_csv(invoices: Iterable[Invoice], now: datetime) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(csv_rows(invoices, now))
    return out.getvalue()


# --- invoices: Temporal and records ----------------------------------------------------------


def stage_query(stage: str | None = None) -> str:
    stages = [stage] if stage else list(INVOICE_STAGES)
    return "InvoiceStage IN (" + ", ".join(f'"{s}"' for s in stages) + ")"


def invoice_from_execution(execution: Any) -> Invoice:
    attrs = execution.typed_search_attributes
    due = attrs.get(INVOICE_DUE_AT)
    return Invoice(
        workflow_id=execution.id,
        workflow_type=execution.workflow_type,
        invoice_number=attrs.get(INVOICE_NUMBER),
        stage=attrs.get(INVOICE_STAGE) or "",
        amount_due_cents=attrs.get(AMOUNT_DUE_CENTS) or 0,
        due_at=(due if due.tzinfo else due.replace(tzinfo=UTC)) if due else None,
    )


async def list_invoices(
    client: Client, stage: str | None = None, *, limit: int | None = None
) -> list[Invoice]:
    """Invoices by `InvoiceStage` from visibility, one entry per invoice."""
    if stage is not None and stage not in INVOICE_STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(INVOICE_STAGES)}")
    return dedupe_invoices(
        [
            invoice_from_execution(e)
            async for e in client.list_workflows(stage_query(stage), limit=limit)
        ]
    )


def with_records(settings: Settings, invoices: list[Invoice]) -> list[Invoice]:
    """Currency and customer from the invoice records, when they have the invoice."""
    numbers = [i.invoice_number for i in invoices if i.invoice_number]
    if not numbers:
        return invoices
    known = invoice_currencies_and_customers(settings, numbers)
    return [
        replace(i, currency=known[i.invoice_number][0], customer=known[i.invoice_number][1])
        if i.invoice_number in known
        else i
        for i in invoices
    ]


# --- referral fees and Rocket.Chat revenue share ----------------------------------------------


@dataclass(frozen=True)
class ReferralFee:
    deal_number: str
    workflow_id: str
    partner_id: str
    amount_cents: int
    currency: str
    note: str
    status: str  # payable | paid
    reference: str | None
    created_at: datetime | None
    paid_at: datetime | None


@dataclass(frozen=True)
class RevenueShareReport:
    partner_id: str
    workflow_id: str
    month: str
    partner_type: str
    owed_to_rocketchat_cents: int
    invoice_id: str | None
    invoice_number: str | None
    invoice_status: str | None
    submitted_at: datetime | None
    currency: str = DEFAULT_CURRENCY
    lines: tuple[str, ...] = ()
    stage: str | None = None  # the follower's stage (overdue included), else invoice_status


def with_share_stages(
    shares: Iterable[RevenueShareReport], invoices: Iterable[Invoice]
) -> list[RevenueShareReport]:
    """Each share with its invoice's stage as its follower shows it (an open invoice past
    its due date is `overdue`); a share whose invoice no follower lists keeps the invoice
    record's status."""
    stages = {i.invoice_number: i.stage for i in invoices if i.invoice_number}
    return [
        replace(s, stage=stages.get(s.invoice_number or "") or s.invoice_status) for s in shares
    ]


def totals_by(
    items: Iterable[Any], status_attr: str, amount_attr: str
) -> dict[str, dict[str, Total]]:
    """status → currency → (count, cents)."""
    totals: dict[str, dict[str, Total]] = {}
    for item in items:
        status = getattr(item, status_attr) or "not invoiced"
        totals.setdefault(status, {}).setdefault(item.currency, Total()).add(
            getattr(item, amount_attr)
        )
    return totals


def grand_total(items: Iterable[Any], amount_attr: str) -> dict[str, Total]:
    totals: dict[str, Total] = {}
    for item in items:
        totals.setdefault(item.currency, Total()).add(getattr(item, amount_attr))
    return totals


def list_referral_fees(settings: Settings) -> list[ReferralFee]:
    """Referral fees Mattermost owes partners: payable first, then paid, newest first."""
    fees = [
        ReferralFee(
            deal_number=r.deal_number,
            workflow_id=r.workflow_id,
            partner_id=r.partner_id,
            amount_cents=r.amount_cents,
            currency=r.currency.upper(),
            note=r.note,
            status=r.status,
            reference=r.reference,
            created_at=r.created_at,
            paid_at=r.paid_at,
        )  # fmt: skip
        for r in list_referral_fee_rows(settings)
    ]
    return sorted(fees, key=lambda f: f.status != "payable")


def list_revenue_share(settings: Settings, limit: int = 500) -> list[RevenueShareReport]:
    """Rocket.Chat revenue share from the monthly sales reports (newest month first), with
    the state of the invoice that bills it."""
    reports = []
    for r, invoice in list_sales_reports_with_invoices(settings, limit):
        try:
            lines = tuple(
                str(line.get("description", ""))
                for line in json.loads(r.share_json).get("lines", [])
            )
        except (ValueError, AttributeError):
            lines = ()
        reports.append(
            RevenueShareReport(
                partner_id=r.partner_id,
                workflow_id=r.workflow_id,
                month=r.month,
                partner_type=r.partner_type,
                owed_to_rocketchat_cents=r.owed_to_rocketchat_cents,
                invoice_id=r.invoice_id,
                invoice_number=invoice.number if invoice else None,
                invoice_status=invoice.status if invoice else None,
                submitted_at=r.submitted_at,
                currency=invoice.currency.upper() if invoice else DEFAULT_CURRENCY,
                lines=lines,
            )  # fmt: skip
        )
    return reports


# --- subscription renewals (the subscriptions table) -------------------------------------------


@dataclass(frozen=True)
class Renewal:
    """One subscription term as finance sees it: due for renewal, or lapsed."""

    subscription_id: str
    term: int
    workflow_id: str
    end_customer: str
    reseller: str
    partner_id: str | None
    expires_at: datetime
    value_cents: int
    currency: str
    status: str

    def days_left(self, now: datetime) -> int:
        """Whole days until the expiry (negative once expired: in the grace period)."""
        return math.floor((_aware(self.expires_at) - now).total_seconds() / 86400)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _renewal(row: Any) -> Renewal:
    return Renewal(
        subscription_id=row.subscription_id,
        term=row.term,
        workflow_id=row.workflow_id,
        end_customer=row.end_customer_name,
        reseller=row.reseller_company,
        partner_id=row.partner_id,
        expires_at=_aware(row.expires_at),
        value_cents=row.value_cents,
        currency=row.currency.upper(),
        status=row.status,
    )


def list_upcoming_renewals(
    settings: Settings, now: datetime, within_days: int = 90
) -> list[Renewal]:
    """Active subscriptions expiring in the next `within_days` days (and expired ones still
    in their grace period), soonest first, with their value and reseller."""
    from activities.subscriptions import upcoming_renewal_rows

    return [_renewal(r) for r in upcoming_renewal_rows(settings, now, within_days=within_days)]


def list_lapsed_subscriptions(settings: Settings) -> list[Renewal]:
    """Subscriptions nobody renewed by the end of the grace period, latest first."""
    from activities.subscriptions import lapsed_subscription_rows

    return [_renewal(r) for r in lapsed_subscription_rows(settings)]
