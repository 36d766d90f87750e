"""Reseller pricing in integer cents: discount, net price, referral fee."""

from __future__ import annotations

import pytest

from models.pricing import (
    DiscountBounds,
    agreed_discount_problem,
    discount_cents,
    net_price_cents,
    purchase_list_cents,
    purchase_referral_fee,
    quote,
    referral_fee_cents,
)


def test_the_agreed_discount_must_be_within_the_program_bounds() -> None:
    bounds = DiscountBounds(min_percent=10, max_percent=30)
    assert agreed_discount_problem(10, bounds) is None
    assert agreed_discount_problem(30, bounds) is None
    assert "outside the program's bounds: between 10% and 30%" in (
        agreed_discount_problem(31, bounds) or ""
    )
    assert "9%" in (agreed_discount_problem(9, bounds) or "")
    assert "discount_percent" in (agreed_discount_problem(None, bounds) or "")


def test_quote_is_consistent_per_seat() -> None:
    q = quote(12_000, 250, 20)
    assert (q.list_cents, q.discount_cents, q.net_cents) == (3_000_000, 600_000, 2_400_000)
    assert q.net_unit_cents == 9_600 and q.net_unit_cents * q.seats == q.net_cents
    assert q.list_cents == q.discount_cents + q.net_cents


def test_rounding_half_up_to_the_cent() -> None:
    assert discount_cents(999, 20) == 200  # 199.8 -> 200
    assert discount_cents(1_001, 25) == 250  # 250.25 -> 250
    assert discount_cents(1_002, 25) == 251  # 250.5 -> 251
    q = quote(999, 3, 20)
    assert q.discount_cents == 600 and q.net_cents == 2_397


def test_referral_fee_is_the_discount_off_list_price() -> None:
    assert referral_fee_cents(12_000, 250, 20) == 600_000
    assert referral_fee_cents(12_000, 250, 20) + net_price_cents(12_000, 250, 20) == 12_000 * 250
    assert referral_fee_cents(12_000, 10, 0) == 0


@pytest.mark.parametrize("args", [(0, 1, 20), (100, 0, 20), (100, 1, 101), (100, 1, -1)])
def test_invalid_inputs_are_refused(args: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        quote(*args)


def test_purchase_fee_is_the_discount_off_the_purchases_list_price() -> None:
    fee = purchase_referral_fee(12_000, 300, 12, 20)
    assert (fee.list_cents, fee.fee_cents) == (3_600_000, 720_000)
    # The registered purchase (250 seats, one year) owes exactly the quote's discount.
    assert (
        purchase_referral_fee(12_000, 250, 12, 20).fee_cents
        == quote(12_000, 250, 20).discount_cents
    )
    # List prices are per seat per year: a three-year term is three years of list price.
    three = purchase_referral_fee(12_000, 100, 36, 25)
    assert (three.list_cents, three.fee_cents) == (3_600_000, 900_000)


def test_purchase_fee_rounds_the_discount_per_seat_half_up() -> None:
    # 15% of 999 cents = 149.85 → 150 cents per seat and year; 7 seats × 2 years.
    fee = purchase_referral_fee(999, 7, 24, 15)
    assert fee.fee_cents == 150 * 7 * 2 and fee.list_cents == 999 * 7 * 2
    assert purchase_referral_fee(10, 3, 12, 25).fee_cents == 3 * 3  # 2.5 → 3 (half up)
    assert purchase_referral_fee(12_000, 10, 12, 0).fee_cents == 0


@pytest.mark.parametrize(
    ("unit", "seats", "term"), [(0, 1, 12), (100, 0, 12), (100, 1, 6), (100, 1, 18)]
)
def test_purchase_must_be_positive_whole_years(unit: int, seats: int, term: int) -> None:
    with pytest.raises(ValueError):
        purchase_list_cents(unit, seats, term)


def test_the_agreed_discount_of_a_partner_record() -> None:
    from models.pricing import agreed_discount_percent

    assert agreed_discount_percent("value_added_reseller", 25, {"discount_percent": 25}) == 25
    assert agreed_discount_percent("value_added_reseller", 0, {"discount_percent": 0}) == 0
    # approved before discounts were agreed one by one: the 20% of the agreement it signed
    assert agreed_discount_percent("value_added_reseller", 0, {}) == 20
    assert agreed_discount_percent("system_integrator", 0, {}) == 0


def test_a_registered_deal_is_priced_from_the_price_list() -> None:
    from models.pricing import list_price_problem

    prices = {"MM-ENT-1Y": 12_000}
    assert list_price_problem("MM-ENT-1Y", 12_000, prices) is None
    field, why = list_price_problem("MM-ENT-1Y", 10_000, prices) or ("", "")
    assert field == "list_unit_price_cents" and "12000" in why and "10000" in why
    field, why = list_price_problem("MM-PRO-1Y", 12_000, prices) or ("", "")
    assert field == "sku" and "MM-ENT-1Y" in why
