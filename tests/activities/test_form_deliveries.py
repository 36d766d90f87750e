"""The records of advance-form deliveries, on SQLite and PostgreSQL: one claim per delivery
id, marked delivered once the workflow has the input; a claim is released only while it is
not delivered."""

from __future__ import annotations

from activities.form_deliveries import (
    claim_delivery,
    find_delivery,
    mark_delivered,
    release_delivery,
)
from models.settings import Settings
from tests.workflows.harness import uid


def test_one_claim_per_delivery_then_delivered(db_settings: Settings) -> None:
    delivery = uid() * 4
    first = claim_delivery(db_settings, delivery, "directory-listing", "directory-p", "s")
    assert first.new and not first.delivered
    again = claim_delivery(db_settings, delivery, "directory-listing", "directory-p", "s")
    assert not again.new and not again.delivered and again.workflow_id == "directory-p"
    mark_delivered(db_settings, delivery)
    release_delivery(db_settings, delivery)  # a delivered claim stays
    found = find_delivery(db_settings, delivery)
    assert found is not None and found.delivered
    later = claim_delivery(db_settings, delivery, "directory-listing", "directory-p", "s")
    assert not later.new and later.delivered


def test_a_released_claim_can_be_claimed_again(db_settings: Settings) -> None:
    delivery = uid() * 4
    claim_delivery(db_settings, delivery, "deal-information", "deal-DR-2026-000001", "s")
    release_delivery(db_settings, delivery)
    assert find_delivery(db_settings, delivery) is None
    assert claim_delivery(db_settings, delivery, "deal-information", "deal-x", "s").new
