"""The public `order` form checks the program before anything starts: each forged or
mispriced order is a 422 naming the rule (`type`) and the field, and no workflow starts; the
published example, with its prerequisites on record, starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from activities.deals import DealActivities
from activities.partners import PartnerActivities
from models.forms import FORMS
from models.settings import Settings
from starters.intake import submit_form
from starters.order_prerequisites import example_partner, example_registration, seed_order_example


class StartRecorder:
    """A stand-in Temporal client: records every start (none expected for a refusal)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start_workflow(self, workflow: str, arg: Any, *, id: str, **_: Any) -> Any:
        self.started.append(id)
        return SimpleNamespace(result_run_id="run-1")


def order(**changes: Any) -> dict[str, Any]:
    payload = FORMS["order"].fresh_example()
    payload.update(changes)
    return payload


def price(payload: dict[str, Any], cents: int) -> dict[str, Any]:
    payload["lines"][0]["unit_price_cents"] = cents
    return payload


def partner(settings: Settings, **changes: Any) -> None:
    record = example_partner(datetime.now(UTC)).model_copy(update=changes)
    PartnerActivities(settings).upsert_partner(record)


def registration(settings: Settings, **changes: Any) -> None:
    now = datetime.now(UTC)
    DealActivities(settings).record_deal(example_registration(now, 90, **changes))


async def submit(settings: Settings, payload: dict[str, Any]) -> tuple[Any, StartRecorder]:
    client = StartRecorder()
    result = await submit_form(client, settings, "order", payload)  # type: ignore[arg-type]
    return result, client


async def test_the_example_starts_with_its_prerequisites_on_record(settings: Settings) -> None:
    seed_order_example(settings)
    result, client = await submit(settings, order())
    assert result.status_code == 202, result.body
    assert client.started == [result.body["workflow_id"]]


def _trained_without(key: str) -> dict[str, Any]:
    attributes = dict(example_partner(datetime.now(UTC)).attributes)
    attributes.pop(key)
    return {"attributes": attributes}


@pytest.mark.parametrize(
    ("partner_changes", "registration_changes", "payload_changes", "rule", "field", "words"),
    [
        (None, {}, {}, "partner_known", "reseller.partner_id", "not in the partner records"),
        ({"status": "suspended"}, {}, {}, "partner_active", "reseller.partner_id", "suspended"),
        (
            {"program": "rocketchat", "partner_type": "value_added"},
            {},
            {},
            "partner_program",
            "reseller.partner_id",
            "rocketchat program",
        ),
        (
            {"partner_type": "system_integrator"},
            {},
            {},
            "partner_channel",
            "channel",
            "not a Value-Added Reseller",
        ),
        (
            _trained_without("training_completed_at"),
            {},
            {},
            "var_training",
            "reseller.partner_id",
            "training",
        ),
        (
            _trained_without("local_support"),
            {},
            {},
            "var_local_support",
            "reseller.partner_id",
            "local support",
        ),
        ({}, None, {}, "registration_known", "deal_number", "is not a deal registration"),
        ({}, {"status": "in_review"}, {}, "registration_approved", "deal_number", "in review"),
        (
            {},
            {"protected_until": datetime.now(UTC) - timedelta(days=1)},
            {},
            "registration_expired",
            "deal_number",
            "protection",
        ),
        (
            {},
            {"partner_id": "another-var"},
            {},
            "registration_partner",
            "deal_number",
            "another partner's",
        ),
        (
            {},
            {"end_customer_name": "Elbe Reederei GmbH"},
            {},
            "registration_customer",
            "end_customer.legal_name",
            "Elbe Reederei GmbH",
        ),
        (
            {},
            {},
            {"channel": "authorized_reseller"},
            "public_channel",
            "channel",
            "authorized resale",
        ),
        (
            {},
            {},
            {"deal_number": None},
            "discount_needs_registration",
            "lines.0.unit_price_cents",
            "9600 cents is below the list price 12000 cents",
        ),
    ],
)
async def test_a_forged_order_is_refused_naming_rule_and_field_and_nothing_starts(
    settings: Settings,
    partner_changes: dict[str, Any] | None,
    registration_changes: dict[str, Any] | None,
    payload_changes: dict[str, Any],
    rule: str,
    field: str,
    words: str,
) -> None:
    if partner_changes is not None:
        partner(settings, **partner_changes)
    if registration_changes is not None:
        registration(settings, **registration_changes)
    result, client = await submit(settings, order(**payload_changes))
    assert result.status_code == 422, result.body
    [error] = result.body["errors"]
    assert (error["type"], error["field"]) == (rule, field), error
    assert words in error["message"]
    assert f"{field} ({rule})" in result.body["detail"]
    assert client.started == []


async def test_a_price_that_differs_is_refused_naming_both_numbers(settings: Settings) -> None:
    seed_order_example(settings)
    result, client = await submit(settings, price(order(), 12000))
    assert result.status_code == 422 and client.started == []
    [error] = result.body["errors"]
    assert (error["type"], error["field"]) == ("price", "lines.0.unit_price_cents")
    assert "12000 cents differs from 9600 cents" in error["message"]
    assert "list price 12000 cents less the agreed 20% discount" in error["message"]


async def test_without_a_registration_the_order_is_at_list_price(settings: Settings) -> None:
    partner(settings)
    result, client = await submit(settings, price(order(deal_number=None), 12000))
    assert result.status_code == 202, result.body
    assert len(client.started) == 1
    result, client = await submit(settings, price(order(deal_number=None), 12500))
    assert result.status_code == 422 and client.started == []
    assert result.body["errors"][0]["type"] == "price"
    assert (
        "12500 cents differs from the list price 12000 cents"
        in (result.body["errors"][0]["message"])
    )


async def test_a_sku_off_the_price_list_is_refused(settings: Settings) -> None:
    seed_order_example(settings)
    payload = order()
    payload["lines"][0]["sku"] = "MM-GOLD-9Y"
    result, client = await submit(settings, payload)
    assert result.status_code == 422 and client.started == []
    error = result.body["errors"][0]
    assert (error["type"], error["field"]) == ("price_list", "lines.0.sku")
    assert "MM-ENT-1Y" in error["message"]


async def test_the_price_list_is_a_setting(settings: Settings) -> None:
    seed_order_example(settings)
    priced = settings.model_copy(update={"mattermost_price_list": {"MM-ENT-1Y": 15000}})
    result, client = await submit(priced, price(order(), 12000))  # 15000 less 20%
    assert result.status_code == 202, result.body
    assert len(client.started) == 1
