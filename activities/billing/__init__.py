"""Billing: create, read and settle invoices, in the local ledger or in Stripe.

The port is `BillingBackend`; `BillingActivities` runs it as activities. Two adapters,
chosen by `settings.billing_backend`:

- `local` (default, `activities.billing.local`): the `invoices` table *is* the ledger.
- `stripe` (`activities.billing.stripe`): Stripe through its official client, every effect
  idempotent, each state change mirrored into the `invoices` table.

Errors: a permanent refusal is non-retryable (`BillingRejected`, `InvoiceStateError`,
`InvoiceNotFound`); an outage is retryable (`BillingUnavailable`, `BillingRateLimited`) and
Temporal retries it (`activities.errors`).
"""

from __future__ import annotations

from typing import Protocol

from temporalio import activity

from activities.billing.local import LocalBilling
from activities.billing.stripe import StripeBilling
from models.contracts import InvoiceAction, InvoiceInfo, InvoiceRequest
from models.settings import Settings


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
