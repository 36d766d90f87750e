"""The `invoices` table: the local ledger's rows and the mirror of Stripe's invoices, which
finance lists without calling the billing system."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import get_args

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.database import session_scope
from activities.errors import InvoiceNotFound
from models.contracts import InvoiceInfo, InvoiceRequest, InvoiceStage
from models.settings import Settings
from models.tables import InvoiceRow, utcnow

log = logging.getLogger(__name__)

# Row fields that change as an invoice moves; the rest is fixed when the row is created.
_STATE_FIELDS = (
    "status",
    "number",
    "amount_due_cents",
    "amount_paid_cents",
    "due_at",
    "hosted_url",
    "finalized_at",
    "paid_at",
    "voided_at",
    "marked_uncollectible_at",
)


def info_from_row(row: InvoiceRow) -> InvoiceInfo:
    """The workflow's view of a stored invoice."""
    return InvoiceInfo(
        id=row.id,
        number=row.number,
        status=row.status,
        amount_due_cents=row.amount_due_cents,
        amount_paid_cents=row.amount_paid_cents,
        currency=row.currency,
        due_at=row.due_at,
        hosted_url=row.hosted_url,
        backend=row.backend,
    )


def lines_json(request: InvoiceRequest) -> str:
    """The request's lines as stored, each with its amount."""
    return json.dumps(
        [
            {**line.model_dump(), "amount_cents": line.quantity * line.unit_amount_cents}
            for line in request.lines
        ]
    )


def not_found(invoice_id: str) -> InvoiceNotFound:
    """The permanent error for an invoice id no billing system knows."""
    return InvoiceNotFound(f"no invoice {invoice_id}", {"invoice_id": invoice_id})


def upsert_mirror(url: str, row: InvoiceRow, extra_metadata: dict[str, str] | None = None) -> None:
    """Insert `row`, or update the state fields of the row with its id (a retried write,
    or another attempt racing this one, converges on one row per invoice)."""
    try:
        with session_scope(url) as session:
            _upsert(session, row, extra_metadata or {})
    except IntegrityError:  # a racing attempt inserted it first: now it is an update
        with session_scope(url) as session:
            _upsert(session, row, extra_metadata or {})


def _upsert(session: Session, row: InvoiceRow, extra_metadata: dict[str, str]) -> None:
    existing = session.get(InvoiceRow, row.id)
    if existing is None:
        taken = session.exec(
            select(InvoiceRow).where(InvoiceRow.idempotency_key == row.idempotency_key)
        ).first()
        if taken is not None:  # a second invoice for one key: keep both, visibly
            log.warning("invoice %s repeats key %s of %s", row.id, row.idempotency_key, taken.id)
            row.idempotency_key = f"{row.idempotency_key}#{row.id}"[:255]
        metadata = {**json.loads(row.metadata_json), **extra_metadata}
        session.add(InvoiceRow(**{**row.model_dump(), "metadata_json": json.dumps(metadata)}))
        return
    for field in _STATE_FIELDS:
        setattr(existing, field, getattr(row, field))
    if extra_metadata:
        metadata = {**json.loads(existing.metadata_json), **extra_metadata}
        existing.metadata_json = json.dumps(metadata)
    existing.updated_at = utcnow()
    session.add(existing)


# --- finance views -----------------------------------------------------------------------------


def invoice_stage(row: InvoiceRow, now: datetime | None = None) -> str:
    """What finance sees: the status, or `overdue` for an open invoice past its due date."""
    now = now or datetime.now(UTC)
    if row.status == "open" and row.due_at is not None and row.due_at < now:
        return "overdue"
    return row.status


def list_invoices(
    settings: Settings, stage: str | None = None, *, now: datetime | None = None
) -> list[InvoiceRow]:
    """Invoices from the `invoices` table, newest first, optionally of one stage
    (`draft`, `open` (not yet due), `overdue` (open and past due), `paid`, `void`,
    `uncollectible`). No call to the billing backend."""
    if stage is not None and stage not in get_args(InvoiceStage):
        raise ValueError(f"unknown invoice stage {stage!r}; one of {get_args(InvoiceStage)}")
    now = now or datetime.now(UTC)
    statement = select(InvoiceRow).order_by(
        col(InvoiceRow.created_at).desc(), col(InvoiceRow.number).desc()
    )
    if stage is not None:
        status = "open" if stage == "overdue" else stage
        statement = statement.where(InvoiceRow.status == status)
    with session_scope(settings.resolved_database_url) as session:
        rows = list(session.exec(statement))
    return [row for row in rows if stage is None or invoice_stage(row, now) == stage]
