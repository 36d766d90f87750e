"""Records activities: idempotent writes of orders and audited decisions, plus read helpers.

Writes are single `INSERT ... ON CONFLICT` statements (SQLite and PostgreSQL), so a retried
or concurrently duplicated activity never makes a second row and never fails on the
unique key. The activities are synchronous: register them with an executor.
"""

from __future__ import annotations

import json

from sqlalchemy import Table, func
from sqlmodel import col, select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from models.contracts import DecisionRecord, OrderRecord
from models.settings import Settings
from models.tables import (
    DecisionRow,
    InvoiceRow,
    OrderRow,
    ReferralFeeRow,
    RocketChatSalesReportRow,
)


class RecordActivities:
    """Activities bound to one records database (`settings.resolved_database_url`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url

    @activity.defn(name="record_order")
    def record_order(self, record: OrderRecord) -> None:
        """Insert the order, or update its status, amount and currency by `order_id` (and
        its reseller's partner id, when it was not known).

        An update older than the stored one (`record.at` before `updated_at`) is ignored,
        so a late retry never moves an order back to an earlier status."""
        at = require_aware(record.at, "OrderRecord.at")
        engine = get_engine(self.url)
        table: Table = OrderRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"at"}) | {"created_at": at, "updated_at": at}
        stmt = upsert_statement(engine, table).values(**values)
        changed = ("status", "amount_cents", "currency", "updated_at")
        partner = table.c.reseller_partner_id  # kept once known (older workers send none)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.order_id],
            set_={name: stmt.excluded[name] for name in changed}
            | {partner.name: func.coalesce(stmt.excluded[partner.name], partner)},
            where=table.c.updated_at <= stmt.excluded.updated_at,
        )
        execute_write(engine, stmt)

    @activity.defn(name="record_decision")
    def record_decision(self, record: DecisionRecord) -> None:
        """Insert the decision once per `idempotency_key`; a repeat (even concurrent) is a
        no-op that keeps the first write."""
        at = require_aware(record.at, "DecisionRecord.at")
        engine = get_engine(self.url)
        table: Table = DecisionRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"detail", "at"}) | {
            "detail_json": json.dumps(record.detail, sort_keys=True, default=str),
            "at": at,
        }
        stmt = upsert_statement(engine, table).values(**values)
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
        execute_write(engine, stmt)


def list_decisions(settings: Settings, workflow_id: str) -> list[DecisionRecord]:
    """The decisions recorded for `workflow_id`, oldest first."""
    with session_scope(settings.resolved_database_url) as session:
        rows = session.exec(
            select(DecisionRow)
            .where(DecisionRow.workflow_id == workflow_id)
            .order_by(col(DecisionRow.at), col(DecisionRow.id))
        ).all()
        return [
            DecisionRecord(
                idempotency_key=row.idempotency_key,
                workflow_id=row.workflow_id,
                step=row.step,
                actor=row.actor,
                decision=row.decision,
                detail=json.loads(row.detail_json or "{}"),
                at=row.at,
            )
            for row in rows
        ]


def get_order(settings: Settings, order_id: str) -> OrderRecord | None:
    """The order as last recorded (`at` is its `updated_at`), or None."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(OrderRow, order_id)
        if row is None:
            return None
        data = row.model_dump(exclude={"created_at", "updated_at"})
        return OrderRecord(**data, at=row.updated_at)


# --- reads for the finance board and `partnerflow invoices` -----------------------------------


def invoice_currencies_and_customers(
    settings: Settings, numbers: list[str]
) -> dict[str, tuple[str, str]]:
    """Invoice number → (currency in capitals, customer name), for the numbers on record."""
    known: dict[str, tuple[str, str]] = {}
    with session_scope(settings.resolved_database_url) as session:
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            for row in session.exec(select(InvoiceRow).where(col(InvoiceRow.number).in_(chunk))):
                known[row.number or ""] = (row.currency.upper(), row.customer_name)
    return known


def list_referral_fee_rows(settings: Settings) -> list[ReferralFeeRow]:
    """Every referral fee Mattermost owes or paid partners, newest first."""
    with session_scope(settings.resolved_database_url) as session:
        newest_first = col(ReferralFeeRow.created_at).desc()
        return list(session.exec(select(ReferralFeeRow).order_by(newest_first)))


def list_sales_reports_with_invoices(
    settings: Settings, limit: int = 500
) -> list[tuple[RocketChatSalesReportRow, InvoiceRow | None]]:
    """Rocket.Chat monthly sales reports (newest month first, then by partner), each with
    the invoice that bills its revenue share (None when not invoiced)."""
    report = RocketChatSalesReportRow
    with session_scope(settings.resolved_database_url) as session:
        order = (col(report.month).desc(), col(report.partner_id))
        rows = list(session.exec(select(report).order_by(*order).limit(limit)))
        ids = [r.invoice_id for r in rows if r.invoice_id]
        invoices = (
            {i.id: i for i in session.exec(select(InvoiceRow).where(col(InvoiceRow.id).in_(ids)))}
            if ids
            else {}
        )
    return [(r, invoices.get(r.invoice_id or "")) for r in rows]
