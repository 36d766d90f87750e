"""Reseller pricing in integer cents: discount, net price, referral fee."""

from __future__ import annotations

import pytest

from models.pricing import (
    discount_cents,
    net_price_cents,
    quote,
    referral_fee_cents,
    reseller_discount_percent,
)


def test_default_discount_is_twenty_percent() -> None:
    assert reseller_discount_percent() == 20
    assert reseller_discount_percent(tier="unknown") == 20


def test_partner_percentage_wins_over_tier() -> None:
    assert reseller_discount_percent(0, "gold") == 25
    assert reseller_discount_percent(15, "gold") == 15
    assert reseller_discount_percent(0, "Platinum", tiers={"platinum": 35}) == 35
    with pytest.raises(ValueError):
        reseller_discount_percent(0, "x", tiers={}, default=120)


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
