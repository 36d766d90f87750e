"""Pure rules for Mattermost resale orders (seed: "Placing an order as a Mattermost
Authorized Reseller" and "Order Processing")."""

from __future__ import annotations

from typing import Any

from models.contracts import OrderFulfillmentInput, Reseller

TERMS_TITLE = "Enterprise Subscription Terms for Purchase by Resale"
TERMS_URL = "https://mattermost.com/enterprise-edition-terms/"


def review_order_terms(order: OrderFulfillmentInput) -> list[str]:
    """Reasons to refuse the order; empty when its terms are acceptable.

    "Mattermost does not accept customer purchase orders or custom terms for Reseller orders."
    """
    reasons: list[str] = []
    if order.purchase_order.issued_by == "end_customer":
        reasons.append(
            "Mattermost does not accept end-customer purchase orders on resale orders: "
            f"the purchase order must come from the reseller ({order.reseller.company})"
        )
    if order.purchase_order.custom_terms:
        reasons.append(
            "Mattermost does not accept custom terms on resale orders: the end customer agrees "
            f"to the {TERMS_TITLE}"
        )
    return reasons


def unscreenable_reseller(reseller: Reseller) -> str:
    """Why an order (or a resale request) stops when its reseller, the party invoiced, cannot
    be screened: neither an address nor a partner record says which country it is in."""
    record = (
        f"partner {reseller.partner_id} has no partner record with a country"
        if reseller.partner_id
        else "it has no partner id"
    )
    return (
        f"the reseller {reseller.company} (the party invoiced) cannot be screened against US "
        f"embargoes: the request gives no reseller address and {record}; send it again with "
        "the reseller's address"
    )


def order_facts(order: OrderFulfillmentInput) -> dict[str, Any]:
    """The key facts an operator, a page or a customer needs to see about the order."""
    return {
        "order_id": order.order_id,
        "channel": order.channel,
        "deal_number": order.deal_number,
        "purchase_order": order.purchase_order.number,
        "reseller_company": order.reseller.company,
        "reseller_contact": order.reseller.contact.model_dump(),
        "end_customer_name": order.end_customer.legal_name,
        "end_customer_country": order.end_customer.address.country,
        "end_customer_contact": order.end_customer.contact.model_dump(),
        "lines": [{**line.model_dump(), "amount_cents": line.amount_cents} for line in order.lines],
        "seats": order.seats,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "terms_title": TERMS_TITLE,
        "terms_url": TERMS_URL,
    }
