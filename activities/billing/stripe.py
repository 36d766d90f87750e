"""The Stripe adapter: the official `stripe.StripeClient`, no SDK retries (Temporal retries
activities).

Every effect carries an idempotency key derived from the request's key (`{key}:customer`,
`{key}:invoice`, `{key}:item:{n}`, `{key}:finalize`, `{key}:send`; actions use
`action.idempotency_key`), and every step first looks for what an earlier attempt already
made (a customer with the request's key, the invoice by its metadata, items by their line
number), so a retried activity, even after a crash mid-way or after Stripe's 24-hour key
window, never makes a second one. Each state change is mirrored into the `invoices` table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import stripe

from activities.billing.records import lines_json, upsert_mirror
from activities.billing.rules import reason_metadata, transition_needed
from activities.errors import BillingRateLimited, BillingRejected, BillingUnavailable
from models.contracts import InvoiceAction, InvoiceInfo, InvoiceRequest
from models.settings import Settings
from models.tables import InvoiceRow, utcnow


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
        self._mirror(invoice, extra_metadata=reason_metadata(action))
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
        result: dict[str, Any] = method(*args, **kwargs).to_dict()
        return result

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
        lines_json=lines_json(request) if request else _stripe_lines_json(invoice),
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
        raise BillingRateLimited(
            _message(exc), _details(exc), next_retry_delay=_retry_after(exc)
        ) from exc
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        raise BillingUnavailable(_message(exc), _details(exc)) from exc
    except stripe.StripeError as exc:
        status = exc.http_status or 0
        if status >= 500:
            raise BillingUnavailable(_message(exc), _details(exc)) from exc
        raise BillingRejected(_message(exc), _details(exc)) from exc


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
