"""The local ledger: the `invoices` table is the billing system.

Invoices are numbered `PF-<year>-<seq>` when finalized, under a database lock, and follow
Stripe's status rules.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.billing.records import info_from_row, lines_json, not_found
from activities.billing.rules import TARGET_STATUS, reason_metadata, transition_needed
from activities.database import session_scope
from activities.errors import InvoiceBusy
from models.contracts import InvoiceAction, InvoiceInfo, InvoiceRequest
from models.settings import Settings
from models.tables import InvoiceRow, utcnow

NUMBER_PREFIX = "PF"
_NUMBERING_LOCK_ID = 0x5046_494E_564F  # pg_advisory_xact_lock key for local numbering
_STAMP = {"pay": "paid_at", "void": "voided_at", "mark_uncollectible": "marked_uncollectible_at"}


class LocalBilling:
    """The `invoices` table as the ledger: no external system, Stripe's status rules."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._url = settings.resolved_database_url

    def create(self, request: InvoiceRequest) -> InvoiceInfo:
        """Draft (once per idempotency key), then finalize+send in one step: `open`."""
        row = self._by_key(request.idempotency_key) or self._insert_draft(request)
        if row.status == "draft":
            row = self._finalize(row.id)
        return info_from_row(row)

    def get(self, invoice_id: str) -> InvoiceInfo:
        return info_from_row(self._row(invoice_id))

    def act(self, action: InvoiceAction) -> InvoiceInfo:
        """Apply the action with a compare-and-set on the status, so two racing actions
        cannot both win."""
        for _ in range(5):
            row = self._row(action.invoice_id)
            if not transition_needed(row.id, row.status, action.action):
                return info_from_row(row)
            if self._transition(row, action):
                return info_from_row(self._row(row.id))
        raise InvoiceBusy(f"invoice {action.invoice_id} keeps changing")

    # --- steps -----------------------------------------------------------------------------

    def _insert_draft(self, request: InvoiceRequest) -> InvoiceRow:
        issued = _aware(request.issued_at or datetime.now(UTC))
        row = InvoiceRow(
            id=local_invoice_id(request.idempotency_key),
            idempotency_key=request.idempotency_key,
            workflow_id=request.workflow_id,
            backend=self.name,
            customer_name=request.customer_name,
            customer_email=str(request.customer_email),
            status="draft",
            currency=request.currency,
            amount_due_cents=sum(line.quantity * line.unit_amount_cents for line in request.lines),
            days_until_due=request.days_until_due,
            due_at=issued + timedelta(days=request.days_until_due),
            description=request.description,
            lines_json=lines_json(request),
            metadata_json=json.dumps(request.metadata),
            created_at=issued,
        )
        try:
            with session_scope(self._url) as session:
                session.add(row)
        except IntegrityError:  # another attempt inserted it first
            pass
        found = self._by_key(request.idempotency_key)
        assert found is not None, "the draft row was just written"
        return found

    def _finalize(self, invoice_id: str) -> InvoiceRow:
        """draft -> open with the next number of the invoice's year. The numbering lock makes
        concurrent finalizations take turns, so no two invoices share a number."""
        with session_scope(self._url) as session:
            _lock_numbering(session)
            row = session.get(InvoiceRow, invoice_id)
            assert row is not None, "finalize follows the draft insert"
            if row.status == "draft":
                row.number = _next_number(session, row.created_at.year)
                row.status = "open"
                row.finalized_at = row.created_at  # the ledger dates the invoice by issued_at
                row.updated_at = utcnow()
                session.add(row)
        return row

    def _transition(self, row: InvoiceRow, action: InvoiceAction) -> bool:
        now = utcnow()
        values: dict[str, Any] = {
            "status": TARGET_STATUS[action.action],
            _STAMP[action.action]: now,
            "updated_at": now,
        }
        if action.action == "pay":
            values["amount_paid_cents"] = row.amount_due_cents
        if reason := reason_metadata(action):
            values["metadata_json"] = json.dumps({**json.loads(row.metadata_json), **reason})
        statement = (
            update(InvoiceRow)
            .where(col(InvoiceRow.id) == row.id, col(InvoiceRow.status) == row.status)
            .values(**values)
        )
        with session_scope(self._url) as session:
            result = session.exec(statement)
        return result.rowcount == 1

    # --- reads -----------------------------------------------------------------------------

    def _row(self, invoice_id: str) -> InvoiceRow:
        with session_scope(self._url) as session:
            row = session.get(InvoiceRow, invoice_id)
        if row is None:
            raise not_found(invoice_id)
        return row

    def _by_key(self, key: str) -> InvoiceRow | None:
        with session_scope(self._url) as session:
            statement = select(InvoiceRow).where(InvoiceRow.idempotency_key == key)
            return session.exec(statement).first()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_invoice_id(idempotency_key: str) -> str:
    """`in_local_<16 hex>`: the same key always names the same invoice."""
    return "in_local_" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:16]


def _lock_numbering(session: Session) -> None:
    """Serialize number allocation: SQLite takes the write lock up front (BEGIN IMMEDIATE),
    PostgreSQL a transaction-scoped advisory lock."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({_NUMBERING_LOCK_ID})")


def _next_number(session: Session, year: int) -> str:
    prefix = f"{NUMBER_PREFIX}-{year}-"
    statement = (
        select(InvoiceRow.number)
        .where(col(InvoiceRow.number).like(f"{prefix}%"))
        .order_by(func.length(InvoiceRow.number).desc(), col(InvoiceRow.number).desc())
        .limit(1)
    )
    last = session.exec(statement).first()
    sequence = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{sequence:04d}"
