"""Billing activities: create, read and settle invoices, in the local ledger or in Stripe.

Two backends behind one set of activities (`settings.billing_backend`):

- `local` (default): the `invoices` table *is* the ledger. Invoices are numbered
  `PF-<year>-<seq>` when finalized, under a database lock, and follow Stripe's status rules.
- `stripe`: the official `stripe.StripeClient`; every effect carries an idempotency key
  derived from the request's key (`{key}:customer`, `{key}:invoice`, `{key}:item:{n}`,
  `{key}:finalize`, `{key}:send`; actions use `action.idempotency_key`), and every step
  first looks for what an earlier attempt already made (a customer with the request's key,
  the invoice by its metadata, items by their line number), so a retried activity, even
  after a crash mid-way or after Stripe's 24-hour key window, never makes a second one.
  Each state change is mirrored into the `invoices` table so finance lists invoices
  without calling Stripe.

Errors: a permanent refusal is a non-retryable `ApplicationError` (`BillingRejected`,
`InvoiceStateError`, `InvoiceNotFound`); an outage is retryable (`BillingUnavailable`,
`BillingRateLimited`) and Temporal retries it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, get_args

import stripe
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database import session_scope
from models.contracts import InvoiceAction, InvoiceInfo, InvoiceRequest, InvoiceStage
from models.settings import Settings
from models.tables import InvoiceRow, utcnow

log = logging.getLogger(__name__)

# Stripe's rules: the statuses each action may start from, and where it leads.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "pay": frozenset({"open", "uncollectible"}),
    "void": frozenset({"open", "uncollectible"}),
    "mark_uncollectible": frozenset({"open"}),
}
TARGET_STATUS = {"pay": "paid", "void": "void", "mark_uncollectible": "uncollectible"}
_STAMP = {"pay": "paid_at", "void": "voided_at", "mark_uncollectible": "marked_uncollectible_at"}

NUMBER_PREFIX = "PF"
_NUMBERING_LOCK_ID = 0x5046_494E_564F  # pg_advisory_xact_lock key for local numbering
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


class BillingBackend(Protocol):
    """What the activities need from a billing system."""

    name: str

    def create(self, request: InvoiceRequest) -> InvoiceInfo: ...

    def get(self, invoice_id: str) -> InvoiceInfo: ...

    def act(self, action: InvoiceAction) -> InvoiceInfo: ...


class BillingActivities:
    """The billing activities, bound to one backend (from `settings.billing_backend` unless
    given). All are synchronous: run them in the worker's thread pool."""

    def __init__(self, settings: Settings, backend: BillingBackend | None = None) -> None:
        self.settings = settings
        self.backend = backend or backend_for(settings)

    @activity.defn(name="create_invoice")
    def create_invoice(self, request: InvoiceRequest) -> InvoiceInfo:
        """Create the customer's invoice (net `days_until_due`, sent for manual payment),
        finalize and send it: the result is `open`. The same request again returns the
        same invoice."""
        return self.backend.create(request)

    @activity.defn(name="get_invoice")
    def get_invoice(self, invoice_id: str) -> InvoiceInfo:
        """The invoice as the billing backend has it now (and refresh its mirror row)."""
        return self.backend.get(invoice_id)

    @activity.defn(name="apply_invoice_action")
    def apply_invoice_action(self, action: InvoiceAction) -> InvoiceInfo:
        """Pay (out of band), void or mark the invoice uncollectible. Already in the target
        state: returned unchanged. Not allowed from its status: `InvoiceStateError`."""
        return self.backend.act(action)


def backend_for(settings: Settings) -> BillingBackend:
    """The backend `settings.billing_backend` names."""
    if settings.billing_backend == "stripe":
        return StripeBilling(settings)
    return LocalBilling(settings)


# --- finance views ---------------------------------------------------------------------------


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


# --- shared helpers --------------------------------------------------------------------------


def transition_needed(invoice_id: str, status: str, action: str) -> bool:
    """False when the invoice already is where `action` leads (nothing to do), True when the
    action may run; raises a non-retryable `InvoiceStateError` when Stripe forbids it."""
    if status == TARGET_STATUS[action]:
        return False
    if status not in ALLOWED_FROM[action]:
        raise ApplicationError(
            f"cannot {action.replace('_', ' ')} invoice {invoice_id}: it is {status} "
            f"(allowed from {', '.join(sorted(ALLOWED_FROM[action]))})",
            {"invoice_id": invoice_id, "status": status, "action": action},
            type="InvoiceStateError",
            non_retryable=True,
        )
    return True


def info_from_row(row: InvoiceRow) -> InvoiceInfo:
    return InvoiceInfo(
        id=row.id,
        number=row.number,
        status=row.status,  # type: ignore[arg-type]
        amount_due_cents=row.amount_due_cents,
        amount_paid_cents=row.amount_paid_cents,
        currency=row.currency,
        due_at=row.due_at,
        hosted_url=row.hosted_url,
        backend=row.backend,
    )


def _lines_json(request: InvoiceRequest) -> str:
    return json.dumps(
        [
            {**line.model_dump(), "amount_cents": line.quantity * line.unit_amount_cents}
            for line in request.lines
        ]
    )


def _not_found(invoice_id: str) -> ApplicationError:
    return ApplicationError(
        f"no invoice {invoice_id}",
        {"invoice_id": invoice_id},
        type="InvoiceNotFound",
        non_retryable=True,
    )


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


def _reason_metadata(action: InvoiceAction) -> dict[str, str]:
    return {f"{action.action}_reason": action.reason} if action.reason else {}


# --- local ledger ----------------------------------------------------------------------------


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
        raise ApplicationError(f"invoice {action.invoice_id} keeps changing", type="InvoiceBusy")

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
            lines_json=_lines_json(request),
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
        if reason := _reason_metadata(action):
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
            raise _not_found(invoice_id)
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


# --- Stripe ----------------------------------------------------------------------------------


class StripeBilling:
    """Stripe through the official client; no SDK retries (Temporal retries activities)."""

    name = "stripe"

    def __init__(self, settings: Settings, client: stripe.StripeClient | None = None) -> None:
        if client is None:
            if settings.stripe_api_key is None:
                raise ValueError("BILLING_BACKEND=stripe needs STRIPE_API_KEY")
            client = stripe.StripeClient(
                settings.stripe_api_key.get_secret_value(),
                base_addresses={"api": settings.stripe_api_base},
                max_network_retries=0,
            )
        self._client = client
        self._url = settings.resolved_database_url

    def create(self, request: InvoiceRequest) -> InvoiceInfo:
        """Customer -> draft invoice -> items -> finalize -> send, resuming where an earlier
        attempt stopped."""
        key = request.idempotency_key
        with stripe_errors():
            customer = self._find_customer(request) or self._create_customer(request)
            invoice = self._find_invoice(customer["id"], key)
            if invoice is None:
                invoice = self._create_invoice(request, customer["id"])
                self._mirror(invoice, request)
            if invoice["status"] == "draft":
                self._add_items(request, invoice)
                invoice = self._call(
                    self._client.v1.invoices.finalize_invoice,
                    invoice["id"],
                    params={"auto_advance": False},
                    options={"idempotency_key": f"{key}:finalize"},
                )
                self._mirror(invoice, request)
            if invoice["status"] == "open":
                invoice = self._call(
                    self._client.v1.invoices.send_invoice,
                    invoice["id"],
                    options={"idempotency_key": f"{key}:send"},
                )
                self._mirror(invoice, request)
        return info_from_stripe(invoice)

    def get(self, invoice_id: str) -> InvoiceInfo:
        with stripe_errors():
            invoice = self._call(self._client.v1.invoices.retrieve, invoice_id)
        self._mirror(invoice)
        return info_from_stripe(invoice)

    def act(self, action: InvoiceAction) -> InvoiceInfo:
        with stripe_errors():
            invoice = self._call(self._client.v1.invoices.retrieve, action.invoice_id)
            if transition_needed(invoice["id"], invoice["status"], action.action):
                invoice = self._apply(action)
        self._mirror(invoice, extra_metadata=_reason_metadata(action))
        return info_from_stripe(invoice)

    # --- steps -----------------------------------------------------------------------------

    def _find_customer(self, request: InvoiceRequest) -> dict[str, Any] | None:
        """The customer an earlier attempt made (metadata idempotency_key), else the oldest
        customer with the email: stable across attempts, so one invoice per key."""
        listed = self._client.v1.customers.list(
            params={"email": str(request.customer_email), "limit": 100}
        )
        customers = [c.to_dict() for c in listed.auto_paging_iter()]
        for customer in customers:
            if (customer.get("metadata") or {}).get("idempotency_key") == request.idempotency_key:
                return customer
        return min(customers, key=lambda c: (c["created"], c["id"])) if customers else None

    def _create_customer(self, request: InvoiceRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": request.customer_name,
            "email": str(request.customer_email),
            "metadata": {
                "workflow_id": request.workflow_id,
                "idempotency_key": request.idempotency_key,
            },
        }
        if request.customer_country:
            params["address"] = {"country": request.customer_country}
        return self._call(
            self._client.v1.customers.create,
            params=params,
            options={"idempotency_key": f"{request.idempotency_key}:customer"},
        )

    def _find_invoice(self, customer_id: str, key: str) -> dict[str, Any] | None:
        listed = self._client.v1.invoices.list(params={"customer": customer_id, "limit": 100})
        for invoice in listed.auto_paging_iter():
            data = invoice.to_dict()
            if (data.get("metadata") or {}).get("idempotency_key") == key:
                return data
        return None

    def _create_invoice(self, request: InvoiceRequest, customer_id: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "customer": customer_id,
            "collection_method": "send_invoice",
            "days_until_due": request.days_until_due,
            "pending_invoice_items_behavior": "exclude",
            "auto_advance": False,
            "currency": request.currency,
            "metadata": {
                "workflow_id": request.workflow_id,
                "idempotency_key": request.idempotency_key,
                **request.metadata,
            },
        }
        if request.description:
            params["description"] = request.description
        return self._call(
            self._client.v1.invoices.create,
            params=params,
            options={"idempotency_key": f"{request.idempotency_key}:invoice"},
        )

    def _add_items(self, request: InvoiceRequest, invoice: dict[str, Any]) -> None:
        """One invoice item per line, skipping lines an earlier attempt already added."""
        listed = self._client.v1.invoice_items.list(params={"invoice": invoice["id"], "limit": 100})
        done = {(i.to_dict().get("metadata") or {}).get("line") for i in listed.auto_paging_iter()}
        for n, line in enumerate(request.lines, start=1):
            if str(n) in done:
                continue
            self._client.v1.invoice_items.create(
                params={
                    "customer": invoice["customer"],
                    "invoice": invoice["id"],
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_amount_decimal": Decimal(line.unit_amount_cents),
                    "currency": request.currency,
                    "metadata": {"idempotency_key": request.idempotency_key, "line": str(n)},
                },
                options={"idempotency_key": f"{request.idempotency_key}:item:{n}"},
            )

    def _apply(self, action: InvoiceAction) -> dict[str, Any]:
        invoices = self._client.v1.invoices
        options = {"idempotency_key": action.idempotency_key}
        if action.action == "pay":
            return self._call(
                invoices.pay, action.invoice_id, params={"paid_out_of_band": True}, options=options
            )
        if action.action == "void":
            return self._call(invoices.void_invoice, action.invoice_id, options=options)
        return self._call(invoices.mark_uncollectible, action.invoice_id, options=options)

    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return method(*args, **kwargs).to_dict()

    def _mirror(
        self,
        invoice: dict[str, Any],
        request: InvoiceRequest | None = None,
        extra_metadata: dict[str, str] | None = None,
    ) -> None:
        upsert_mirror(self._url, row_from_stripe(invoice, request), extra_metadata)


def info_from_stripe(invoice: dict[str, Any]) -> InvoiceInfo:
    """The workflow's view of a Stripe invoice."""
    return InvoiceInfo(
        id=invoice["id"],
        number=invoice.get("number"),
        status=invoice["status"],
        amount_due_cents=invoice["amount_due"],
        amount_paid_cents=invoice.get("amount_paid") or 0,
        currency=invoice["currency"],
        due_at=_from_epoch(invoice.get("due_date")),
        hosted_url=invoice.get("hosted_invoice_url"),
        backend="stripe",
    )


def row_from_stripe(invoice: dict[str, Any], request: InvoiceRequest | None = None) -> InvoiceRow:
    """The mirror row of a Stripe invoice (lines and key from the request when known)."""
    metadata = invoice.get("metadata") or {}
    transitions = invoice.get("status_transitions") or {}
    return InvoiceRow(
        id=invoice["id"],
        idempotency_key=request.idempotency_key
        if request
        else metadata.get("idempotency_key") or f"stripe:{invoice['id']}",
        workflow_id=request.workflow_id if request else metadata.get("workflow_id", ""),
        backend="stripe",
        number=invoice.get("number"),
        customer_name=invoice.get("customer_name") or (request.customer_name if request else ""),
        customer_email=invoice.get("customer_email")
        or (str(request.customer_email) if request else ""),
        status=invoice["status"],
        currency=invoice["currency"],
        amount_due_cents=invoice["amount_due"],
        amount_paid_cents=invoice.get("amount_paid") or 0,
        days_until_due=request.days_until_due if request else 30,
        due_at=_from_epoch(invoice.get("due_date")),
        description=invoice.get("description"),
        lines_json=_lines_json(request) if request else _stripe_lines_json(invoice),
        metadata_json=json.dumps(metadata),
        hosted_url=invoice.get("hosted_invoice_url"),
        created_at=_from_epoch(invoice.get("created")) or utcnow(),
        finalized_at=_from_epoch(transitions.get("finalized_at")),
        paid_at=_from_epoch(transitions.get("paid_at")),
        voided_at=_from_epoch(transitions.get("voided_at")),
        marked_uncollectible_at=_from_epoch(transitions.get("marked_uncollectible_at")),
    )


def _stripe_lines_json(invoice: dict[str, Any]) -> str:
    lines = (invoice.get("lines") or {}).get("data") or []
    return json.dumps(
        [
            {
                "description": line.get("description"),
                "quantity": line.get("quantity"),
                "unit_amount_cents": line["amount"] // line["quantity"]
                if line.get("quantity")
                else line["amount"],
                "amount_cents": line["amount"],
            }
            for line in lines
        ]
    )


def _from_epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe's exceptions as Temporal errors: 4xx refusals are permanent (non-retryable
    `BillingRejected`), rate limits, outages and 5xx are retryable."""
    try:
        yield
    except stripe.RateLimitError as exc:
        raise ApplicationError(
            _message(exc),
            _details(exc),
            type="BillingRateLimited",
            next_retry_delay=_retry_after(exc),
        ) from exc
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        raise ApplicationError(_message(exc), _details(exc), type="BillingUnavailable") from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if status >= 500:
            raise ApplicationError(_message(exc), _details(exc), type="BillingUnavailable") from exc
        raise ApplicationError(
            _message(exc), _details(exc), type="BillingRejected", non_retryable=True
        ) from exc


def _message(exc: stripe.StripeError) -> str:
    return f"Stripe: {exc.user_message or exc.__class__.__name__}"


def _details(exc: stripe.StripeError) -> dict[str, Any]:
    return {
        "error": exc.__class__.__name__,
        "http_status": exc.http_status,
        "code": exc.code,
        "request_id": exc.request_id,
    }


def _retry_after(exc: stripe.StripeError) -> timedelta | None:
    value = (exc.headers or {}).get("Retry-After") or (exc.headers or {}).get("retry-after")
    try:
        return timedelta(seconds=float(value)) if value else None
    except ValueError:
        return None
