"""Pure rules for a resale order posted from outside (the public `order` form): who may
order through which channel, when the reseller discount applies, and what each line costs.

Seed: the reseller discount is for Value-Added Resellers "who complete the online training
and establish local support processes", and only on a registered, approved deal ("complete a
deal registration form to qualify for a reseller discount"); a one-time authorized resale is
approved internally and signed before its purchase order (so its order is the child of the
`AuthorizedResale` process, never a public form).

Every refusal is `{"field", "message", "type"}` with `type` the rule's id (`RULES`); the
intake answers 422 with them and starts nothing (`starters/form_preparation.py` looks up the
partner record and the deal registration, these functions decide).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import Field

from models.contracts import Contract, OrderFulfillmentInput, PartnerRecord
from models.deals import VAR_TYPE, normalize_company
from models.pricing import agreed_discount_percent, quote

PROGRAM = "mattermost"
PUBLIC_CHANNELS = ("value_added_reseller",)
# Registration statuses in which an approved registration still holds its discount: approved,
# and quoted by the Sales Manager (`ordered` means the deal's own process placed the order).
APPROVED_DEAL_STATUSES = ("approved", "quoted")

RULES: Mapping[str, str] = {
    "public_channel": "authorized_reseller orders start only from an approved, signed resale",
    "partner_known": "the reseller must be a partner on record",
    "partner_program": "the reseller must be a partner of the Mattermost program",
    "partner_active": "the reseller must be an active partner",
    "partner_channel": "the partner's type must allow the order's channel",
    "var_training": "a Value-Added Reseller orders after completing the online training",
    "var_local_support": "a Value-Added Reseller orders once its local support is in place",
    "registration_known": "the deal number must be a registration on record",
    "registration_approved": "the discount needs an approved deal registration",
    "registration_expired": "the deal registration's protection must not have ended",
    "registration_partner": "the deal registration must be the reseller's own",
    "registration_customer": "the deal registration must be for the order's end customer",
    "registration_used": "a deal registration backs one discounted order",
    "price_list": "every SKU must be on the program's price list",
    "discount_needs_registration": "a discount off list price needs an approved registration",
    "price": "the unit price must be the list price less the agreed discount",
}


class RegisteredDeal(Contract):
    """A deal registration as the records have it (`deal_registrations`)."""

    deal_number: str
    partner_id: str
    end_customer_name: str
    status: str
    protected_until: datetime | None = None
    orders: int = Field(default=0, description="Orders already placed naming it")


def _problem(rule: str, field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": rule}


def partner_problems(
    order: OrderFulfillmentInput, partner: PartnerRecord | None
) -> list[dict[str, str]]:
    """Channel and partner: a public order is a Value-Added Reseller's, of an active
    Mattermost VAR who completed the training and has local support in place."""
    if order.channel not in PUBLIC_CHANNELS:
        return [
            _problem(
                "public_channel",
                "channel",
                f"{order.channel} orders are not taken on this form: a one-time authorized "
                "resale is requested with the authorized-resale form, and its order starts "
                "once the resale is approved and the reseller agreement signed",
            )
        ]
    partner_id = order.reseller.partner_id
    if not partner_id or partner is None:
        named = f"{partner_id!r} is not in the partner records" if partner_id else "no partner id"
        return [
            _problem(
                "partner_known",
                "reseller.partner_id",
                f"{named}: orders are taken from active Mattermost Value-Added Resellers only",
            )
        ]
    if partner.program != PROGRAM:
        return [
            _problem(
                "partner_program",
                "reseller.partner_id",
                f"{partner.company} is a partner of the {partner.program} program, not of the "
                "Mattermost program",
            )
        ]
    if partner.status != "active":
        return [
            _problem(
                "partner_active",
                "reseller.partner_id",
                f"{partner.company} is {partner.status}, not active: only active partners order",
            )
        ]
    if partner.partner_type != VAR_TYPE:
        kind = partner.partner_type.replace("_", " ")
        return [
            _problem(
                "partner_channel",
                "channel",
                f"{partner.company} is a {kind}, not a Value-Added Reseller: value added "
                "reseller orders are for Value-Added Resellers",
            )
        ]
    problems = []
    if not partner.attributes.get("training_completed_at"):
        problems.append(
            _problem(
                "var_training",
                "reseller.partner_id",
                f"{partner.company} has not completed the online training on record",
            )
        )
    if not partner.attributes.get("local_support"):
        problems.append(
            _problem(
                "var_local_support",
                "reseller.partner_id",
                f"{partner.company} has no confirmed local support process on record",
            )
        )
    return problems


def registration_problems(
    order: OrderFulfillmentInput, registration: RegisteredDeal | None, now: datetime
) -> list[dict[str, str]]:
    """The order's deal registration (when it names one): on record, approved, still
    protected at `now`, the reseller's own and for the order's end customer."""
    number = order.deal_number
    if number is None:
        return []
    if registration is None:
        return [
            _problem("registration_known", "deal_number", f"{number} is not a deal registration")
        ]
    if registration.status not in APPROVED_DEAL_STATUSES:
        return [
            _problem(
                "registration_approved",
                "deal_number",
                f"deal registration {number} is {registration.status.replace('_', ' ')}, "
                "not approved",
            )
        ]
    until = registration.protected_until
    if until is None or until <= now:
        ended = f"ended on {until.date().isoformat()}" if until else "has no end on record"
        return [
            _problem(
                "registration_expired",
                "deal_number",
                f"the protection of deal registration {number} {ended}",
            )
        ]
    if registration.orders:
        return [
            _problem(
                "registration_used",
                "deal_number",
                f"deal registration {number} already backs an order: one registration, one "
                "discounted order",
            )
        ]
    problems = []
    if registration.partner_id != order.reseller.partner_id:
        problems.append(
            _problem(
                "registration_partner",
                "deal_number",
                f"deal registration {number} is another partner's, not "
                f"{order.reseller.partner_id}'s",
            )
        )
    if normalize_company(registration.end_customer_name) != normalize_company(
        order.end_customer.legal_name
    ):
        problems.append(
            _problem(
                "registration_customer",
                "end_customer.legal_name",
                f"deal registration {number} is for {registration.end_customer_name}, not "
                f"{order.end_customer.legal_name}",
            )
        )
    return problems


def price_problems(
    order: OrderFulfillmentInput, price_list: Mapping[str, int], discount_percent: int | None
) -> list[dict[str, str]]:
    """Each line at its list price (`price_list`, cents per seat per year by SKU) less
    `discount_percent` (the agreement's, when the order has an approved registration; None
    without one). A price that differs is refused naming both numbers."""
    problems = []
    for index, line in enumerate(order.lines):
        list_cents = price_list.get(line.sku.strip().upper())
        if list_cents is None:
            problems.append(
                _problem(
                    "price_list",
                    f"lines.{index}.sku",
                    f"{line.sku} is not on the Mattermost price list "
                    f"({', '.join(sorted(price_list)) or 'empty'})",
                )
            )
            continue
        field = f"lines.{index}.unit_price_cents"
        if discount_percent is None:
            if line.unit_price_cents < list_cents:
                problems.append(
                    _problem(
                        "discount_needs_registration",
                        field,
                        f"unit price {line.unit_price_cents} cents is below the list price "
                        f"{list_cents} cents: a reseller discount needs an approved deal "
                        "registration (deal_number)",
                    )
                )
            elif line.unit_price_cents != list_cents:
                problems.append(
                    _problem(
                        "price",
                        field,
                        f"unit price {line.unit_price_cents} cents differs from the list price "
                        f"{list_cents} cents",
                    )
                )
            continue
        expected = quote(list_cents, line.seats, discount_percent).net_unit_cents
        if line.unit_price_cents != expected:
            problems.append(
                _problem(
                    "price",
                    field,
                    f"unit price {line.unit_price_cents} cents differs from {expected} cents: "
                    f"the list price {list_cents} cents less the agreed {discount_percent}% "
                    "discount",
                )
            )
    return problems


def order_problems(
    order: OrderFulfillmentInput,
    partner: PartnerRecord | None,
    registration: RegisteredDeal | None,
    price_list: Mapping[str, int],
    now: datetime,
) -> list[dict[str, str]]:
    """Everything that refuses a public order; empty when it may start. The partner comes
    first (nothing else is checked for an order that may not be placed at all), then the
    deal registration, then the prices."""
    problems = partner_problems(order, partner)
    if problems:
        return problems
    assert partner is not None
    problems = registration_problems(order, registration, now)
    if problems:
        return problems
    discount = (
        agreed_discount_percent(partner.partner_type, partner.discount_percent, partner.attributes)
        if order.deal_number
        else None
    )
    return price_problems(order, price_list, discount)
