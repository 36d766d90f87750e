"""The resale order form: a reseller's purchase order for a named end customer, which
starts OrderFulfillment."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import ConfigDict, Field

from models.contracts import (
    Contract,
    EndCustomer,
    OrderFulfillmentInput,
    OrderLine,
    PurchaseOrder,
    Reseller,
)
from models.forms.spec import FormSpec, money

# The example's prerequisites (`starters/order_prerequisites.py` seeds them): the partner
# `nordlicht-it`, an active Mattermost Value-Added Reseller with the training completed, local
# support confirmed and an agreed discount of 20%; and its approved, still protected deal
# registration DR-2026-000123 for Hanse Logistik AG. 9600 = the list price of MM-ENT-1Y
# (12000 cents, the default price list) less 20%.
EXAMPLE_DISCOUNT_PERCENT = 20
EXAMPLE_DEAL_NUMBER = "DR-2026-000123"
ORDER_EXAMPLE: dict[str, Any] = {
    "order_id": "ORD-2026-000123",
    "channel": "value_added_reseller",
    "deal_number": EXAMPLE_DEAL_NUMBER,
    "reseller": {
        "company": "Nordlicht IT-Systemhaus GmbH",
        "partner_id": "nordlicht-it",
        "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@example.com"},
        "address": {
            "line1": "Friedrichstraße 123",
            "city": "Berlin",
            "postal_code": "10117",
            "country": "DE",
        },
    },
    "end_customer": {
        "legal_name": "Hanse Logistik AG",
        "address": {
            "line1": "Am Sandtorkai 50",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        "contact": {"name": "Jonas Weber", "email": "jonas.weber@example.org"},
    },
    "purchase_order": {"number": "PO-NL-2026-0042", "issued_by": "reseller"},
    "lines": [
        {
            "sku": "MM-ENT-1Y",
            "description": "Mattermost Enterprise, 1 year",
            "seats": 50,
            "unit_price_cents": 9600,
        }
    ],
}


class OrderForm(Contract):
    """A resale order: reseller, named end customer, the reseller's purchase order, lines."""

    model_config = ConfigDict(
        title="OrderForm",
        json_schema_extra={
            "examples": [ORDER_EXAMPLE],
            "description": (
                "A Value-Added Reseller's order. The example needs, on record: the partner "
                "nordlicht-it, an active Mattermost Value-Added Reseller with the online "
                "training completed, local support confirmed and an agreed discount of 20%, "
                f"and its approved, unexpired deal registration {EXAMPLE_DEAL_NUMBER} for Hanse "
                "Logistik AG (`partnerflow seed-example order` records them on a dev stack)."
            ),
        },
    )

    order_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Business key: the workflow id is `order-{order_id}`",
    )
    channel: Literal["value_added_reseller", "authorized_reseller"] = Field(
        default="value_added_reseller",
        description=(
            "value_added_reseller; authorized_reseller orders are refused here (they start "
            "from an approved, signed authorized resale)"
        ),
    )
    deal_number: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "The partner's approved, unexpired deal registration for this end customer, e.g. "
            "DR-2026-000123: the reseller discount applies only with it"
        ),
    )
    reseller: Reseller
    end_customer: EndCustomer
    purchase_order: PurchaseOrder
    lines: list[OrderLine] = Field(min_length=1)


def _order_input(form: OrderForm) -> OrderFulfillmentInput:
    return OrderFulfillmentInput.model_validate(form.model_dump())


def _order_search_attributes(form: OrderForm) -> dict[str, str]:
    attributes = {"Program": "mattermost"}
    if form.reseller.partner_id:
        attributes["PartnerId"] = form.reseller.partner_id
    return attributes


def _order_summary(form: OrderForm) -> str:
    order = _order_input(form)
    return (
        f"Order {form.order_id}: {form.reseller.company} → {form.end_customer.legal_name}, "
        f"{order.seats} seats, {money(order.total_cents, order.currency)}"
    )


def _order_details(form: OrderForm) -> str:
    order = _order_input(form)
    customer = form.end_customer
    rows = "\n".join(
        f"| {line.sku} | {line.description} | {line.seats} | "
        f"{money(line.unit_price_cents)} | {money(line.amount_cents)} |"
        for line in form.lines
    )
    deal = f" (deal {form.deal_number})" if form.deal_number else ""
    return (
        f"**Order {form.order_id}**, {form.channel.replace('_', ' ')}{deal}\n\n"
        f"- **Reseller:** {form.reseller.company} — {form.reseller.contact.name} "
        f"<{form.reseller.contact.email}>\n"
        f"- **End customer:** {customer.legal_name}, {customer.address.city} "
        f"({customer.address.country}) — {customer.contact.name} <{customer.contact.email}>\n"
        f"- **Purchase order:** {form.purchase_order.number} "
        f"(issued by {form.purchase_order.issued_by.replace('_', ' ')})\n\n"
        "| SKU | Description | Seats | Unit price | Amount |\n"
        "|---|---|---:|---:|---:|\n"
        f"{rows}\n\n"
        f"**Total:** {money(order.total_cents, order.currency)}"
    )


def _fresh_order(example: dict[str, Any]) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:12].upper()
    example["order_id"] = f"ORD-{suffix}"
    example["purchase_order"]["number"] = f"PO-{suffix}"
    return example


ORDER_FORM = FormSpec(
    name="order",
    workflow_type="OrderFulfillment",
    title="Mattermost resale order",
    description=(
        "A reseller's purchase order for Mattermost Enterprise on behalf of a named end "
        "customer: starts OrderFulfillment (terms review, the end customer's acceptance of "
        "the subscription terms, license, invoice). Only `value_added_reseller` orders of an "
        "active Mattermost Value-Added Reseller (partner record: training completed, local "
        "support confirmed); `authorized_reseller` orders start from an approved, signed "
        "authorized resale. Each unit price is the price list's "
        "(PARTNERFLOW_MATTERMOST_PRICE_LIST) less the partner's agreed discount when "
        "`deal_number` is its approved, unexpired registration for this end customer, else "
        "the list price. Any other order is refused (422, each error naming the field and "
        "the rule in `type`) and nothing starts. The example needs the partner nordlicht-it "
        "(active VAR, trained, local support, 20% agreed) and its approved registration "
        "DR-2026-000123 for Hanse Logistik AG on record."
    ),
    model=OrderForm,
    build_workflow_id=lambda form: f"order-{form.order_id}",
    build_input=_order_input,
    build_search_attributes=_order_search_attributes,
    build_summary=_order_summary,
    build_details=_order_details,
    refresh_example=_fresh_order,
)
