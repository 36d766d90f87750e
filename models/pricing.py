"""Reseller pricing for Mattermost deal registrations: pure, integer cents.

The discount is taken per seat (rounded half up to the cent), so the net unit price the
order is invoiced at times the seats is exactly the quote's net price, and the referral fee
(the discount off list price, seed: "a referral fee equal to the discount off the list
price") is exactly the discount of the quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Quote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seats: int
    list_unit_cents: int
    discount_percent: int
    discount_unit_cents: int
    net_unit_cents: int
    list_cents: int
    discount_cents: int
    net_cents: int


class DiscountBounds(BaseModel):
    """The reseller discount a reviewer may agree at a VAR approval (the program's settings
    `PARTNERFLOW_MATTERMOST_DISCOUNT_MIN_PERCENT` and `..._MAX_PERCENT`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_percent: int = Field(ge=0, le=100)
    max_percent: int = Field(ge=0, le=100)


# Every VAR agreement signed before reviewers agreed each partner's discount stated "a
# discount of 20%"; those partners' records hold no rate (no `discount_percent` attribute,
# which every approval since records): the rate they signed is their agreed one.
SIGNED_BEFORE_AGREED_DISCOUNTS_PERCENT = 20


def agreed_discount_percent(
    partner_type: str, recorded_percent: int, attributes: Mapping[str, Any]
) -> int:
    """The reseller discount a partner agreed: its record's, or for a Value-Added Reseller
    approved before discounts were agreed one by one the 20% its signed agreement states."""
    if "discount_percent" in attributes or partner_type != "value_added_reseller":
        return recorded_percent
    return recorded_percent or SIGNED_BEFORE_AGREED_DISCOUNTS_PERCENT


def list_price_problem(
    sku: str, list_unit_cents: int, price_list: Mapping[str, int]
) -> tuple[str, str] | None:
    """(field, why) when a registered deal's list price is not the program's price list
    (`PARTNERFLOW_MATTERMOST_PRICE_LIST`); the quotation, the discount and the order follow
    the registration's price, so it is checked where the deal enters."""
    listed = price_list.get(sku)
    if listed is None:
        known = ", ".join(sorted(price_list)) or "none"
        return "sku", f"{sku} is not on the Mattermost price list (SKUs: {known})"
    if listed != list_unit_cents:
        return (
            "list_unit_price_cents",
            f"the list price of {sku} is {listed} cents per seat per year, not "
            f"{list_unit_cents} cents",
        )
    return None


def agreed_discount_problem(percent: int | None, bounds: DiscountBounds) -> str | None:
    """Why `percent` cannot be the agreed reseller discount; None when it can."""
    span = f"between {bounds.min_percent}% and {bounds.max_percent}%"
    if percent is None:
        return f"an approval agrees the reseller discount: discount_percent, {span}"
    if not bounds.min_percent <= percent <= bounds.max_percent:
        return f"discount of {percent}% is outside the program's bounds: {span}"
    return None


def discount_cents(amount_cents: int, percent: int) -> int:
    """`percent` of `amount_cents`, rounded half up to the cent."""
    if amount_cents < 0 or not 0 <= percent <= 100:
        raise ValueError("amount must be >= 0 and percent between 0 and 100")
    return (amount_cents * percent + 50) // 100


def quote(list_unit_cents: int, seats: int, percent: int) -> Quote:
    """List, discount and net price of `seats` seats at `list_unit_cents` each."""
    if list_unit_cents <= 0 or seats <= 0:
        raise ValueError("list price and seats must be positive")
    unit_discount = discount_cents(list_unit_cents, percent)
    return Quote(
        seats=seats,
        list_unit_cents=list_unit_cents,
        discount_percent=percent,
        discount_unit_cents=unit_discount,
        net_unit_cents=list_unit_cents - unit_discount,
        list_cents=list_unit_cents * seats,
        discount_cents=unit_discount * seats,
        net_cents=(list_unit_cents - unit_discount) * seats,
    )


def net_price_cents(list_unit_cents: int, seats: int, percent: int) -> int:
    return quote(list_unit_cents, seats, percent).net_cents


def referral_fee_cents(list_unit_cents: int, seats: int, percent: int) -> int:
    """The referral fee owed when an approved deal's customer buys online: the discount
    the partner would have had off the list price."""
    return quote(list_unit_cents, seats, percent).discount_cents


class PurchaseFee(BaseModel):
    """The referral fee of an online purchase and the purchase it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seats: int
    list_unit_cents: int
    term_months: int
    discount_percent: int
    list_cents: int
    fee_cents: int


def purchase_list_cents(list_unit_cents: int, seats: int, term_months: int) -> int:
    """What a customer pays buying online at list price: the list price is per seat per
    year, and the product sells whole years (`term_months` a positive multiple of 12)."""
    if list_unit_cents <= 0 or seats <= 0:
        raise ValueError("list price and seats must be positive")
    if term_months < 12 or term_months % 12:
        raise ValueError(f"term of {term_months} months is not a whole number of years")
    return list_unit_cents * seats * (term_months // 12)


def purchase_referral_fee(
    list_unit_cents: int, seats: int, term_months: int, percent: int
) -> PurchaseFee:
    """The referral fee owed for an online purchase: the agreement's discount `percent` off
    the purchase's list price (list per seat per year × seats × years). The discount is
    taken per seat and year, rounded half up to the cent, as in `quote`, so a purchase of
    exactly the registered seats for one year owes the registration's quoted discount."""
    years = term_months // 12
    list_cents = purchase_list_cents(list_unit_cents, seats, term_months)
    fee = discount_cents(list_unit_cents, percent) * seats * years
    return PurchaseFee(
        seats=seats,
        list_unit_cents=list_unit_cents,
        term_months=term_months,
        discount_percent=percent,
        list_cents=list_cents,
        fee_cents=fee,
    )
