"""Mattermost subscription renewals: the contracts of `SubscriptionRenewal` and its pure
rules (no I/O).

The FAQ (seed 000): Mattermost knows every end customer "so that Mattermost can provide
ongoing service and renewals if the reseller relationship ends". A subscription is named by
its first order's id; each term is licensed by one order (the first order is term 1). A
term's `SubscriptionRenewal` (`renewal-{subscription_id}-{term}`) reminds 90, 60 and 30 days
before the term expires, takes the renewal decision, and runs the renewal order through
`OrderFulfillment`, whose license starts exactly at this term's expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from models.contracts import (
    Contract,
    OrderFulfillmentInput,
    PartnerRecord,
    PurchaseOrder,
    Reseller,
    SubscriptionTerm,
)

# A partner record in one of these statuses means the reseller relationship ended: the
# renewal goes to the end customer directly.
RESELLER_LEFT = frozenset({"removed", "ended"})
REMINDER_DAYS = (90, 60, 30)
SubscriptionStatus = Literal["active", "renewed", "lapsed"]


class SubscriptionRenewalInput(Contract):
    """One term of a subscription, as the order that licensed it started its renewal."""

    subscription_id: str = Field(min_length=1, max_length=64)
    term: int = Field(default=1, ge=1, le=100)
    order: OrderFulfillmentInput = Field(description="The order that licensed this term")
    license_id: str = Field(min_length=1, max_length=64)
    starts_at: datetime
    expires_at: datetime
    reminder_days: list[int] = Field(default_factory=lambda: list(REMINDER_DAYS))
    # None: the settings' PARTNERFLOW_RENEWAL_GRACE_DAYS, read once as the renewal starts.
    grace_days: int | None = Field(default=None, ge=0, le=365)


class RenewalDecision(Contract):
    """`renew`: the partner (or Mattermost, for a customer buying directly) renews the
    subscription for another term."""

    decided_by: str = Field(min_length=3, max_length=320, description="Who decided (email)")
    seats: int = Field(gt=0, le=1_000_000, description="Users licensed for the new term")
    purchase_order_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The renewal's purchase order (default: PO-<renewal order id>)",
    )
    note: str | None = Field(default=None, max_length=500)


class RenewalPolicy(Contract):
    """What the settings say about renewals, read once per term (then in its history)."""

    grace_days: int = Field(ge=0)


class SubscriptionRecord(Contract):
    """`record_subscription`: one term's row in the subscriptions table (upserted by
    subscription and term; an older write never replaces a newer one)."""

    subscription_id: str
    term: int
    workflow_id: str
    order_id: str
    license_id: str
    end_customer_name: str
    end_customer_email: str
    reseller_company: str
    partner_id: str | None = None
    starts_at: datetime
    expires_at: datetime
    value_cents: int
    currency: str
    status: SubscriptionStatus
    renewal_order_id: str | None = None
    at: datetime


class SubscriptionRenewalResult(Contract):
    subscription_id: str
    term: int
    outcome: Literal["renewed", "lapsed"]
    renewal_order_id: str | None = None
    license_id: str | None = None


def renewal_workflow_id(subscription_id: str, term: int) -> str:
    """`renewal-{subscription_id}-{term}`: the renewal of this term (one per term)."""
    return f"renewal-{subscription_id}-{term}"


def renewal_order_id(subscription_id: str, term: int, attempt: int = 1) -> str:
    """The order that licenses `term` of the subscription: `{subscription_id}-R{term}`, then
    `-R{term}-{attempt}` should a renewal order end without a license and be placed again
    (an order id is at most 64 characters: a long subscription id is shortened)."""
    suffix = f"-R{term}" if attempt == 1 else f"-R{term}-{attempt}"
    return subscription_id[: 64 - len(suffix)] + suffix


def reseller_left(record: PartnerRecord | None) -> bool:
    """The reseller relationship ended (its partner record is removed or ended); a reseller
    without a record is still the one to ask."""
    return record is not None and record.status in RESELLER_LEFT


def sold_directly(order: OrderFulfillmentInput) -> bool:
    """A renewal Mattermost sold to the end customer itself (`renewal_order(direct=True)`):
    the invoiced party is the end customer, with no partner id."""
    customer = order.end_customer
    return (
        order.reseller.partner_id is None
        and order.reseller.company == customer.legal_name
        and order.reseller.contact.email == customer.contact.email
    )


def reminder_times(expires_at: datetime, days: list[int]) -> list[tuple[int, datetime]]:
    """(days before expiry, when) of each reminder, earliest first."""
    return sorted(
        ((d, expires_at - timedelta(days=d)) for d in set(days) if d > 0), key=lambda p: p[1]
    )


def renewal_order(
    previous: OrderFulfillmentInput,
    decision: RenewalDecision,
    *,
    subscription_id: str,
    term: int,
    starts_at: datetime,
    direct: bool,
    attempt: int = 1,
) -> OrderFulfillmentInput:
    """The order of the new term: the previous term's order with the decided seats (on its
    first line), licensed from `starts_at` (the previous expiry) for the same term length.
    `direct`: the reseller has left, so Mattermost sells to (and invoices) the end customer
    itself, as the party the order's reseller fields name."""
    order_id = renewal_order_id(subscription_id, term, attempt)
    first, *rest = previous.lines
    lines = [first.model_copy(update={"seats": decision.seats}), *rest]
    reseller = previous.reseller
    if direct:
        customer = previous.end_customer
        reseller = Reseller(
            company=customer.legal_name, contact=customer.contact, address=customer.address
        )
    return previous.model_copy(
        update={
            "order_id": order_id,
            "reseller": reseller,
            "purchase_order": PurchaseOrder(
                number=decision.purchase_order_number or f"PO-{order_id}", issued_by="reseller"
            ),
            "lines": lines,
            "license_starts_at": starts_at,
            "subscription": SubscriptionTerm(subscription_id=subscription_id, term=term),
        }
    )
