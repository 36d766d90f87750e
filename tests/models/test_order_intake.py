"""The public order's rules as pure functions (no records, no Temporal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.contracts import OrderFulfillmentInput, PartnerRecord
from models.forms import ORDER_EXAMPLE
from models.order_intake import RULES, RegisteredDeal, order_problems
from tests.factories import partner_record

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
PRICES = {"MM-ENT-1Y": 12000}


def example_partner(at: datetime) -> PartnerRecord:
    trained = {"training_completed_at": "2026-11-30", "local_support": {"languages": ["de"]}}
    return partner_record("nordlicht-it", discount_percent=20, attributes=trained, at=at)


def deal(**changes: object) -> RegisteredDeal:
    data: dict[str, object] = {
        "deal_number": "DR-2026-000123",
        "partner_id": "nordlicht-it",
        "end_customer_name": "HANSE LOGISTIK",  # the same customer, compared normalized
        "status": "quoted",
        "protected_until": NOW + timedelta(days=1),
    }
    return RegisteredDeal.model_validate({**data, **changes})


def test_the_example_passes_every_rule() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)
    assert order_problems(order, example_partner(NOW), deal(), PRICES, NOW) == []


def test_protection_ends_at_its_instant() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)
    [problem] = order_problems(order, example_partner(NOW), deal(protected_until=NOW), PRICES, NOW)
    assert problem["type"] == "registration_expired"


def test_a_var_missing_training_and_support_hears_both() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)
    partner = example_partner(NOW).model_copy(update={"attributes": {}})
    problems = order_problems(order, partner, deal(), PRICES, NOW)
    assert [p["type"] for p in problems] == ["var_training", "var_local_support"]
    assert all(p["type"] in RULES for p in problems)


def test_a_var_approved_before_agreed_discounts_has_the_20_percent_it_signed() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)  # priced at 20% off
    partner = example_partner(NOW).model_copy(update={"discount_percent": 0})
    assert "discount_percent" not in partner.attributes  # no approval recorded a rate
    assert order_problems(order, partner, deal(), PRICES, NOW) == []


def test_an_agreed_discount_of_zero_means_list_price() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)
    partner = example_partner(NOW)
    partner = partner.model_copy(
        update={"discount_percent": 0, "attributes": {**partner.attributes, "discount_percent": 0}}
    )
    [problem] = order_problems(order, partner, deal(), PRICES, NOW)
    assert "9600 cents differs from 12000 cents" in problem["message"]


def test_a_registration_backs_one_discounted_order() -> None:
    order = OrderFulfillmentInput.model_validate(ORDER_EXAMPLE)
    [problem] = order_problems(order, example_partner(NOW), deal(orders=1), PRICES, NOW)
    assert (problem["type"], problem["field"]) == ("registration_used", "deal_number")
    assert problem["type"] in RULES
