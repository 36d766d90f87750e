"""The renewal rules: the renewal order of a term, reminder times, who is reminded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.renewals import (
    RenewalDecision,
    reminder_times,
    renewal_order,
    renewal_order_id,
    reseller_left,
    sold_directly,
)
from tests.factories import order_input, partner_record

EXPIRES = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)


def test_the_renewal_order_starts_at_the_old_expiry_with_the_decided_seats() -> None:
    order = order_input(order_id="ORD-7")
    decision = RenewalDecision(decided_by="jonas@nordlicht.example", seats=80)
    renewal = renewal_order(
        order, decision, subscription_id="ORD-7", term=2, starts_at=EXPIRES, direct=False
    )
    assert renewal.order_id == "ORD-7-R2" and renewal.license_starts_at == EXPIRES
    assert renewal.seats == 80 and renewal.total_cents == 80 * 10_000
    assert renewal.subscription is not None and renewal.subscription.term == 2
    assert renewal.reseller == order.reseller and renewal.purchase_order.number == "PO-ORD-7-R2"
    assert not sold_directly(renewal)

    direct = renewal_order(
        order, decision, subscription_id="ORD-7", term=2, starts_at=EXPIRES, direct=True, attempt=2
    )
    assert direct.order_id == "ORD-7-R2-2"
    assert direct.reseller.company == order.end_customer.legal_name
    assert direct.reseller.contact == order.end_customer.contact and sold_directly(direct)


def test_long_subscription_ids_still_make_valid_order_ids() -> None:
    assert len(renewal_order_id("X" * 64, 12, 3)) == 64


def test_reminders_and_who_has_left() -> None:
    assert reminder_times(EXPIRES, [30, 90, 60]) == [
        (90, EXPIRES - timedelta(days=90)),
        (60, EXPIRES - timedelta(days=60)),
        (30, EXPIRES - timedelta(days=30)),
    ]
    assert reseller_left(partner_record("P-1", status="removed"))
    assert not reseller_left(partner_record("P-1", status="suspended"))
    assert not reseller_left(None)
