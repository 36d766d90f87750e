"""The task forms without Temporal: every declared task's form round-trips its example to
an input its model accepts; each schema shape maps to its input; posted text is parsed to
typed JSON or a field's problem (never an exception); the server-set fields ignore the post;
and the form routes refuse a forged, oversized or unreadable post before reaching Temporal."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, EmailStr, Field, HttpUrl

from activities.database import migrate
from models.settings import Settings
from starters.task_forms import FormField, parse_form, problems_by_field, refill, task_form
from starters.web.app import create_app
from starters.web.operators import hash_password
from tests.starters.conftest import OPERATOR, OPERATOR_PASSWORD, sign_in
from workers.main import WORKFLOWS
from workflows.human_tasks import HumanTask
from workflows.human_updates import ACTOR_FIELDS

END_CUSTOMER = {
    "legal_name": "Acme GmbH",
    "address": {"line1": "Hafenstr. 1", "city": "Hamburg", "country": "DE"},
    "contact": {"name": "Jo Acme", "email": "jo@acme.example"},
}
# Tasks whose declared example is empty (the workflow writes one from its state when it
# opens the task): a complete input of each model, for the round trip.
FILLED: dict[str, dict[str, Any]] = {
    "ListingSubmission": {
        "name": "Nordlicht IT",
        "description": " ".join(["Nordlicht IT runs Mattermost for public agencies."] * 6),
        "city": "Hamburg",
        "state": None,
        "country": "DE",
        "website": "https://nordlicht-it.example",
        "partner_id": "nordlicht-it",
        "logo": {"logo_id": "0" * 32, "content_type": "image/png", "width": 400, "height": 120},
    },
    "Quotation": {
        "quote_number": "Q-2026-1",
        "prepared_by": "sales-manager@mattermost.com",
        "seats": 100,
        "list_unit_price_cents": 10000,
        "discount_percent": 20,
        "net_price_cents": 800000,
        "license_contact_email": "it@acme.example",
    },
    "DealPurchaseOrder": {
        "number": "PO-1",
        "submitted_by": "lena@nordlicht-it.example",
        "amount_cents": 800000,
        "bill_to": "Nordlicht IT GmbH",
        "issued_by": "reseller",
        "end_customer": END_CUSTOMER,
    },
    "ResalePurchaseOrder": {
        "number": "PO-2",
        "submitted_by": "lena@nordlicht-it.example",
        "end_customer": END_CUSTOMER,
    },
    "ReferralFeePaid": {
        "recorded_by": "finance@mattermost.com",
        "amount_cents": 240000,
        "reference": "WIRE-RF-1",
    },
    "SalesReport": {
        "month": "2026-02",
        "submitted_by": "ops@hostpartner.example",
        "deals_closed": 2,
        "sales_closed_cents": 1_000_000,
        "prospective_sales": 1,
        "hosting_revenue_cents": 1_000_001,
        "referred_projects": [{"name": "City portal", "amount_cents": 50000}],
        "premium_offers": [
            {
                "product": "support_plan",
                "description": "Gold support",
                "quantity": 1,
                "list_price_cents": 100000,
            }
        ],
        "share_statistics": True,
    },
}


def declared_tasks() -> list[Any]:
    return [
        pytest.param(spec, id=f"{cls.__name__}.{spec.task}")
        for cls in WORKFLOWS
        for spec in getattr(cls, "human_tasks", ())
    ]


def browser_post(fields: list[FormField]) -> dict[str, str]:
    """What a browser posts for the form as drawn: every input's value, a checkbox only
    when ticked, nothing for the read-only fields."""
    posted = {}
    for field in fields:
        if field.widget == "fixed" or (field.widget == "checkbox" and not field.checked):
            continue
        posted[field.name] = field.value
    return posted


@pytest.mark.parametrize("spec", declared_tasks())
def test_every_declared_tasks_form_round_trips_its_example(spec: HumanTask) -> None:
    example = spec.example or FILLED.get(spec.model.__name__)
    assert example, f"{spec.task}: no example to fill the form with; add one to FILLED"
    schema = spec.model.model_json_schema()
    fields = task_form(schema, example, operator="anna")
    assert [f.name for f in fields] == list(schema["properties"])

    payload, problems = parse_form(fields, browser_post(fields))

    assert problems == {}
    spec.model.model_validate(payload)
    actor = next((f for f in ACTOR_FIELDS if f in schema["properties"] and f != "email"), None)
    if actor is not None:
        assert payload[actor] == "anna"
    for name, value in example.items():
        if name != actor and name in payload:
            assert payload[name] == value or str(payload[name]) == str(value), name


class Tier(StrEnum):
    GOLD = "gold"
    SILVER = "silver"


class Address(BaseModel):
    city: str


class Shapes(BaseModel):
    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    tier: Tier = Tier.GOLD
    seats: int = Field(gt=0, le=500, description="How many seats")
    ratio: float = 0.5
    notify: bool = True
    agreed: Literal[True]
    on: date
    at: datetime
    email: EmailStr
    site: HttpUrl | None = None
    note: str | None = Field(default=None, max_length=2000)
    tags: list[str] = []
    address: Address
    extra: dict[str, int] | None = None
    either: str | int = "x"
    maybe_tier: Tier | None = None


SHAPES_EXAMPLE = {
    "reviewer": "someone@example.com",
    "decision": "reject",
    "seats": 12,
    "agreed": True,
    "on": "2026-12-01",
    "at": "2026-12-01T15:00:00Z",
    "email": "jo@example.com",
    "tags": ["a", "b"],
    "address": {"city": "Berlin"},
}


SHAPES_SCHEMA = Shapes.model_json_schema()


def shapes_form() -> dict[str, FormField]:
    fields = task_form(SHAPES_SCHEMA, SHAPES_EXAMPLE, operator="anna")
    return {f.name: f for f in fields}


def test_each_schema_shape_maps_to_its_input() -> None:
    form = shapes_form()
    widgets = {name: f.widget for name, f in form.items()}
    assert widgets == {
        "reviewer": "fixed", "decision": "select", "tier": "select", "seats": "number",
        "ratio": "number", "notify": "checkbox", "agreed": "checkbox", "on": "date",
        "at": "text", "email": "email", "site": "url", "note": "textarea", "tags": "json",
        "address": "json", "extra": "json", "either": "json", "maybe_tier": "select",
    }  # fmt: skip
    assert form["reviewer"].value == "anna"  # the actor, not the example's
    assert form["decision"].options == (("approve", "approve"), ("reject", "reject"))
    assert (form["decision"].value, form["decision"].required) == ("reject", True)
    assert form["tier"].options == (("gold", "gold"), ("silver", "silver"))  # via $defs
    assert (form["tier"].value, form["tier"].required) == ("gold", False)  # the default
    assert form["maybe_tier"].nullable and not form["maybe_tier"].required
    seats = form["seats"]
    assert (seats.value, seats.integer, seats.minimum, seats.maximum) == ("12", True, 1, 500)
    assert seats.help == "How many seats"
    assert not form["ratio"].integer and form["ratio"].value == "0.5"
    assert form["notify"].checked and form["agreed"].checked and form["agreed"].required
    assert "ISO 8601" in form["at"].help and form["at"].value == "2026-12-01T15:00:00Z"
    assert form["site"].nullable and form["site"].value == ""
    assert form["note"].max_length == 2000
    assert form["tags"].value == '[\n  "a",\n  "b"\n]' and "JSON array" in form["tags"].help
    assert form["address"].value == '{\n  "city": "Berlin"\n}'
    assert form["address"].required and not form["extra"].required
    assert [f.label for f in form.values()][:4] == ["Reviewer", "Decision", "Tier", "Seats"]


def test_posted_text_becomes_typed_json() -> None:
    fields = list(shapes_form().values())
    posted = {
        **browser_post(fields),
        "reviewer": "mallory",  # the server sets the actor, whatever is posted
        "seats": " 40 ",
        "ratio": "1e-1",
        "tags": '["x"]',
        "address": '{"city": "Hamburg"}',
        "extra": "",
        "note": "",
        "tier": "",
        "maybe_tier": "",
    }
    del posted["notify"]  # an unticked checkbox is not posted

    payload, problems = parse_form(fields, posted)

    assert problems == {}
    assert payload["reviewer"] == "anna"
    assert (payload["seats"], payload["ratio"], payload["notify"]) == (40, 0.1, False)
    assert payload["tags"] == ["x"] and payload["address"] == {"city": "Hamburg"}
    # empty and optional: null where the schema allows it, else left to the default
    assert payload["extra"] is None and payload["note"] is None and payload["maybe_tier"] is None
    assert "tier" not in payload
    model = Shapes.model_validate(payload)
    assert model.tier is Tier.GOLD and model.agreed is True


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("seats", "12.5", "enter a whole number"),
        ("seats", "twelve", "enter a whole number"),
        ("ratio", "nan", "enter a number"),
        ("ratio", "inf", "enter a number"),
        ("decision", "maybe", "choose one of the options"),
        ("address", '{"city": ', "not valid JSON: Expecting value (line 1)"),
    ],
)
def test_a_value_not_of_its_type_is_that_fields_problem(name: str, text: str, problem: str) -> None:
    fields = list(shapes_form().values())
    payload, problems = parse_form(fields, {**browser_post(fields), name: text})
    assert problems == {name: problem} and name not in payload
    shown = {f.name: f for f in refill(fields, {**browser_post(fields), name: text})}
    assert shown[name].value == text and shown["reviewer"].value == "anna"


@settings(max_examples=100, deadline=None)
@given(
    posted=st.dictionaries(
        st.sampled_from([*Shapes.model_fields, "_csrf", "other"]),
        st.text(max_size=40),
    ),
    example=st.dictionaries(
        st.sampled_from(list(Shapes.model_fields)),
        st.one_of(
            st.none(), st.booleans(), st.integers(), st.text(max_size=10), st.lists(st.integers())
        ),
    ),
)
def test_odd_posts_and_examples_never_raise(
    posted: dict[str, str], example: dict[str, Any]
) -> None:
    fields = task_form(Shapes.model_json_schema(), example, operator="anna")
    payload, problems = parse_form(fields, posted)
    assert payload["reviewer"] == "anna"
    assert set(problems) <= set(posted)


def test_the_validators_problems_are_shown_by_their_form_field() -> None:
    fields = list(shapes_form().values())
    problems = [
        {"field": "note", "message": "a rejection needs a reason"},
        {"field": "address.city", "message": "Field required"},
        {"field": "ghost", "message": "Extra inputs are not permitted"},
        {"field": "", "message": "nothing to decide: the task was already decided"},
        {"field": "note", "message": "too short"},
    ]
    assert problems_by_field(problems, fields) == {
        "note": "a rejection needs a reason; too short",
        "address": "city: Field required",
        "": "ghost: Extra inputs are not permitted; "
        "nothing to decide: the task was already decided",
    }


def test_email_names_the_signer_and_via_is_set_by_the_server() -> None:
    from models.contracts import TermsAcceptance

    fields = task_form(
        TermsAcceptance.model_json_schema(), {"email": "jo@acme.example"}, operator="anna"
    )
    form = {f.name: f for f in fields}
    assert form["email"].widget == "email" and form["email"].value == "jo@acme.example"
    assert (form["via"].widget, form["via"].value) == ("fixed", "operator")
    payload, _ = parse_form(fields, {"via": "page", "email": "jo@acme.example"})
    assert payload["via"] == "operator" and payload["email"] == "jo@acme.example"


# --- the routes refuse before they reach Temporal ----------------------------------------------


async def test_a_forged_oversized_or_unreadable_post_is_refused_before_temporal(
    tmp_path: Path,
) -> None:
    settings_ = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path,
        TEMPORAL_ADDRESS="127.0.0.1:1",  # nothing listens: reaching Temporal would be a 503
        PARTNERFLOW_SESSION_SECRET="forms-session-secret",
        PARTNERFLOW_OPERATORS=f"{OPERATOR}:{hash_password(OPERATOR_PASSWORD, iterations=1_000)}",
        _env_file=None,
    )
    migrate(settings_.resolved_database_url)  # sign-in keeps its session in the records
    app = create_app(settings_, None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        url = "/tasks/order-ORD-1/review_license"
        anonymous = await web.post(url, data={"decision": "approve"})
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        assert (await sign_in(web)).status_code == 303

        assert (await web.post(url, data={"decision": "approve"})).status_code == 403
        forged = await web.post(url, data={"_csrf": "0" * 64, "decision": "approve"})
        assert forged.status_code == 403 and "nothing was done" in forged.text
        big = await web.post(url, content=b"a=" + b"x" * 70_000)
        assert big.status_code == 413
        unreadable = await web.post(
            url,
            content=b"_csrf=\xff\xfe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert unreadable.status_code == 400
        many = "&".join(f"f{i}=1" for i in range(300))
        crowded = await web.post(
            url, content=many, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert crowded.status_code == 400
