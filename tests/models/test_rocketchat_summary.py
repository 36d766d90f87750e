"""The program summary's rules: the program's discount per partner type, and the inputs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.rocketchat_summary import (
    DiscountAndPrices,
    MarketStrategy,
    discount_problem,
    standard_discount,
)
from models.rocketchat_summary import TestSessionsHeld as SessionsHeld
from models.rocketchat_summary import TestSessionsScheduled as SessionsScheduled


def _discount(percent: int, reason: str | None = None) -> DiscountAndPrices:
    return DiscountAndPrices(
        recorded_by="sales@rocket.chat",
        premium_discount_percent=percent,
        price_list_url="https://partner.example/prices",
        reason=reason,
    )


def test_the_programs_discount_and_another_one_needs_a_reason() -> None:
    assert standard_discount("technology_provider") == standard_discount("value_added") == 20
    assert standard_discount("hosting") == 0
    assert discount_problem("value_added", _discount(20)) is None
    assert discount_problem("hosting", _discount(0)) is None
    problem = discount_problem("hosting", _discount(20))
    assert problem is not None and "is 0%" in problem and "needs a reason" in problem
    assert discount_problem("hosting", _discount(20, "Special project")) is None
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        _discount(60, "too much")


def test_inputs_name_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="unknown ISO 3166-1 alpha-2 country codes"):
        MarketStrategy(submitted_by="a", target_segments=["x"], regions=["XX"], plan="p" * 30)
    strategy = MarketStrategy(
        submitted_by="a", target_segments=["x"], regions=["pt", "PT", "es"], plan="p" * 30
    )
    assert strategy.regions == ["PT", "ES"]
    with pytest.raises(ValidationError, match="same time"):
        SessionsScheduled.model_validate(
            {
                "recorded_by": "a",
                "sessions": [
                    {"at": "2027-01-11T15:00:00Z", "topic": "One"},
                    {"at": "2027-01-11T15:00:00Z", "topic": "Two"},
                ],
            }
        )
    with pytest.raises(ValidationError, match="attendees"):
        SessionsHeld(recorded_by="a", outcome="held")
