"""`POST /webhooks/forms/{form}` and the form registry: every status code of the contract.

Starting a workflow needs no worker, so these tests only start workflows on the
time-skipping server (each with an execution timeout) and describe them.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

import httpx
import jsonschema
import pytest
from temporalio.service import RPCError, RPCStatusCode

from models.forms import FORMS, OrderForm
from models.settings import Settings
from starters.intake import (
    SignatureError,
    sign,
    sign_v1,
    submission_sha256,
    verify_signature,
)
from starters.order_prerequisites import seed_order_example
from starters.web import deps
from starters.web.app import MAX_BODY_BYTES, create_app
from workflows.search_attributes import PARTNER_ID, PROGRAM, STAGE

SECRET = "test-webhook-secret"  # the `settings` fixture's PARTNERFLOW_WEBHOOK_SECRET
HEADER = "X-Partnerflow-Signature"


@pytest.fixture
async def http(settings: Settings, time_skipping_env) -> AsyncIterator[httpx.AsyncClient]:
    seed_order_example(settings)  # the order example's active VAR and approved registration
    app = create_app(
        settings, time_skipping_env.client, workflow_execution_timeout=timedelta(minutes=10)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def post(
    http: httpx.AsyncClient,
    payload: Any,
    *,
    form: str = "order",
    secret: str = SECRET,
    t: int | None = None,
    signature: str | None = "sign",
    content_type: str = "application/json",
) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": content_type}
    if signature == "sign":
        signature = sign(secret, raw, int(time.time()) if t is None else t, form)
    if signature is not None:
        headers[HEADER] = signature
    return await http.post(f"/webhooks/forms/{form}", content=raw, headers=headers)


def order() -> dict[str, Any]:
    return FORMS["order"].fresh_example()


# --- signatures ------------------------------------------------------------------------------


def test_verify_signature_accepts_any_of_several_v2_values() -> None:
    body = b'{"a": 1}'
    good = sign(SECRET, body, 1_000, "order").split("v2=")[1]
    verify_signature(SECRET, f"t=1000,v2={'0' * 64},v2={good}", body, 1_100.0, 300, form="order")
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature(SECRET, f"t=1000,v2={good}", body + b" ", 1_000.0, 300, form="order")
    with pytest.raises(SignatureError, match="stale"):
        verify_signature(SECRET, f"t=1000,v2={good}", body, 1_301.0, 300, form="order")
    with pytest.raises(SignatureError, match="stale"):
        verify_signature(SECRET, f"t=1000,v2={good}", body, 699.0, 300, form="order")
    for header in ["t=abc,v2=00", "v2=00", "t=1000", "garbage"]:
        with pytest.raises(SignatureError, match="malformed"):
            verify_signature(SECRET, header, body, 1_000.0, 300, form="order")


def test_a_body_signed_for_one_form_is_refused_by_another() -> None:
    body = b'{"partner_id": "nordlicht"}'
    header = sign(SECRET, body, 1_000, "directory-listing")
    verify_signature(SECRET, header, body, 1_000.0, 300, form="directory-listing")
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature(SECRET, header, body, 1_000.0, 300, form="monthly-sales-report")


def test_v1_signatures_only_during_the_transition(settings: Settings) -> None:
    body = b"{}"
    old = sign_v1(SECRET, body, 1_000)
    verify_signature(SECRET, old, body, 1_000.0, 300, form="order", accept_v1=True)
    with pytest.raises(SignatureError, match="no longer accepted"):
        verify_signature(SECRET, old, body, 1_000.0, 300, form="order")
    until = settings.webhook_v1_until
    assert until is not None
    last_day = datetime.combine(until, time_of_day(23, 59), UTC).timestamp()
    assert settings.accepts_v1_signatures(last_day)
    assert not settings.accepts_v1_signatures(last_day + 120)
    assert not settings.model_copy(update={"webhook_v1_until": None}).accepts_v1_signatures(0)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "missing"),
        ("malformed", "malformed"),
        ("wrong_secret", "mismatch"),
        ("stale", "stale"),
        ("future", "stale"),
    ],
)
async def test_401_bad_signature_starts_nothing(
    http: httpx.AsyncClient, time_skipping_env, kind: str, reason: str
) -> None:
    payload = order()
    now = int(time.time())
    options: dict[str, Any] = {
        "missing": {"signature": None},
        "malformed": {"signature": "v1=deadbeef"},
        "wrong_secret": {"secret": "not-the-secret"},
        "stale": {"t": now - 301},
        "future": {"t": now + 301},
    }[kind]
    response = await post(http, payload, **options)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    with pytest.raises(RPCError) as exc:
        await time_skipping_env.client.get_workflow_handle(
            f"order-{payload['order_id']}"
        ).describe()
    assert exc.value.status == RPCStatusCode.NOT_FOUND


# --- 202 / 200 / 409 -------------------------------------------------------------------------


async def test_202_starts_workflow_then_200_duplicate_then_409_conflict(
    http: httpx.AsyncClient, time_skipping_env
) -> None:
    payload = order()
    workflow_id = f"order-{payload['order_id']}"

    started = await post(http, payload)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["workflow_id"] == workflow_id and body["run_id"]

    description = await time_skipping_env.client.get_workflow_handle(workflow_id).describe()
    assert description.workflow_type == "OrderFulfillment"
    attributes = description.typed_search_attributes
    assert attributes.get(PROGRAM) == "mattermost"
    assert attributes.get(PARTNER_ID) == "nordlicht-it"
    assert attributes.get(STAGE) == "received"
    memo = await description.memo()
    assert memo == {
        "form": "order",
        "submission_sha256": submission_sha256(OrderForm.model_validate(payload)),
    }
    summary = await description.static_summary()
    assert payload["order_id"] in summary and "50 seats" in summary
    assert "Hanse Logistik AG" in (await description.static_details())

    # the same submission, even re-serialised with other key order and whitespace
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    again = await post(http, reordered)
    assert again.status_code == 200, again.text
    assert again.json() == {"workflow_id": workflow_id, "run_id": body["run_id"], "duplicate": True}

    changed = copy.deepcopy(payload)
    changed["lines"][0]["seats"] = 51
    conflict = await post(http, changed)
    assert conflict.status_code == 409
    assert "conflict" in conflict.json()["detail"] and workflow_id in conflict.json()["detail"]


# --- 404 / 413 / 415 / 422 ---------------------------------------------------------------------


async def test_404_unknown_form(http: httpx.AsyncClient) -> None:
    response = await post(http, order(), form="no-such-form")
    assert response.status_code == 404
    assert "order" in response.json()["forms"]
    assert (await http.get("/webhooks/forms/no-such-form/schema")).status_code == 404


async def test_413_body_too_large(http: httpx.AsyncClient) -> None:
    payload = order()
    payload["purchase_order"]["custom_terms"] = "x" * MAX_BODY_BYTES
    response = await post(http, payload)
    assert response.status_code == 413


async def test_415_not_json(http: httpx.AsyncClient) -> None:
    response = await post(http, order(), content_type="text/plain")
    assert response.status_code == 415


async def test_422_names_each_bad_field(http: httpx.AsyncClient) -> None:
    payload = order()
    payload["end_customer"]["address"]["country"] = "XX"
    payload["lines"][0]["seats"] = 0
    del payload["purchase_order"]["issued_by"]
    response = await post(http, payload)
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {
        "end_customer.address.country",
        "lines.0.seats",
        "purchase_order.issued_by",
    }
    assert "end_customer.address.country" in response.json()["detail"]
    assert all(error["message"] and error["type"] for error in response.json()["errors"])


async def test_422_a_mispriced_order_names_rule_and_field_and_starts_nothing(
    http: httpx.AsyncClient, time_skipping_env
) -> None:
    payload = order()
    payload["lines"][0]["unit_price_cents"] = 9000
    response = await post(http, payload)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["type"]) == ("lines.0.unit_price_cents", "price")
    assert "9000 cents differs from 9600 cents" in error["message"]
    with pytest.raises(RPCError) as missing:
        await time_skipping_env.client.get_workflow_handle(
            f"order-{payload['order_id']}"
        ).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_422_invalid_json_names_the_body(http: httpx.AsyncClient) -> None:
    response = await post(http, b'{"order_id": ')
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    not_an_object = await post(http, [1, 2])
    assert not_an_object.status_code == 422
    assert not_an_object.json()["errors"][0]["field"] == "body"


# --- the self-describing contract -----------------------------------------------------------


async def test_forms_publish_a_valid_example_that_starts_the_workflow(
    http: httpx.AsyncClient,
) -> None:
    forms = (await http.get("/webhooks/forms")).json()
    entry = next(item for item in forms if item["form"] == "order")
    assert entry["workflow_type"] == "OrderFulfillment" and entry["title"]

    schema_response = await http.get(entry["schema_url"])
    assert schema_response.status_code == 200
    schema = schema_response.json()
    assert schema["examples"]
    for example in schema["examples"]:
        OrderForm.model_validate(example)
        jsonschema.validate(example, schema)
        assert example["lines"][0]["sku"] == "MM-ENT-1Y"
        assert example["purchase_order"]["issued_by"] == "reseller"
        assert example["reseller"]["address"]["country"] in {"DE", "NL"}

    fresh = copy.deepcopy(schema["examples"][0])
    fresh["order_id"] = FORMS["order"].fresh_example()["order_id"]
    response = await post(http, fresh)
    assert response.status_code == 202, response.text
    assert response.json()["workflow_id"] == f"order-{fresh['order_id']}"


# --- Temporal unreachable / lazy connect --------------------------------------------------------


def _fake_connect(monkeypatch: pytest.MonkeyPatch, connect) -> None:
    """The web service connects to Temporal with `connect` (instead of `workers.client`'s)."""
    monkeypatch.setattr(deps, "connect", connect)


async def test_503_when_temporal_is_unreachable(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def connect(_settings: Settings):
        raise RuntimeError("Failed client connect: connection refused")

    _fake_connect(monkeypatch, connect)
    seed_order_example(settings)
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        response = await post(client, order())
    assert response.status_code == 503
    assert "nothing was started" in response.json()["detail"]


async def test_connects_lazily_when_no_client_is_given(
    settings: Settings, time_skipping_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def connect(_settings: Settings):
        return time_skipping_env.client

    _fake_connect(monkeypatch, connect)
    seed_order_example(settings)
    app = create_app(settings, workflow_execution_timeout=timedelta(minutes=10))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await post(client, order())
        assert response.status_code == 202, response.text
        assert (await client.get("/healthz")).json()["temporal"] == "connected"
