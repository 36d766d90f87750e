"""Seed FAQ: "Mattermost, Inc. must be informed of all end customers with whom it conducts
business." Every commercial form names the end customer (an order and a deal registration
with the customer's contact; an authorized resale request by name, its purchase order with
the rest): one without it is a 422 naming the field, and nothing starts."""

from __future__ import annotations

from typing import Any

import pytest

from models.forms import FORMS
from models.settings import Settings
from starters.intake import submit_form
from starters.order_prerequisites import seed_order_example
from tests.starters.test_order_intake import StartRecorder


def _without(payload: dict[str, Any], path: str) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    node.pop(last)
    return payload


@pytest.mark.parametrize(
    ("form", "missing"),
    [
        ("order", "end_customer"),
        ("order", "end_customer.contact"),
        ("deal-registration", "end_customer"),
        ("deal-registration", "end_customer.contact"),
        ("authorized-resale", "end_customer_name"),  # its purchase order names the rest
    ],
)
async def test_a_commercial_form_without_the_end_customer_is_refused(
    settings: Settings, form: str, missing: str
) -> None:
    seed_order_example(settings)  # the order example's partner and registration on record
    payload = FORMS[form].fresh_example()
    complete = await submit_form(StartRecorder(), settings, form, payload)  # type: ignore[arg-type]
    assert complete.status_code == 202, complete.body  # the example itself starts
    client = StartRecorder()
    payload = _without(FORMS[form].fresh_example(), missing)
    result = await submit_form(client, settings, form, payload)  # type: ignore[arg-type]
    assert result.status_code == 422, result.body
    assert [e["field"] for e in result.body["errors"]] == [missing]
    assert client.started == []
