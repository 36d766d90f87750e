"""Forms that advance a running process (`directory-listing`, `deal-information`,
`deal-purchased-online`, `monthly-sales-report`): each must prove who sends it (a signed
`proof_token` for that very workflow, from the email that asks for the input or, for
`deal-purchased-online`, made with the internal secret), else 403 and nothing is signalled;
a repeated delivery answers 200 with the same workflow id and the workflow receives the
input once, also after a restart of the web service and after a stop between claim and
signal. On the dev server (the intake describes the workflow)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.email.render import render_email
from activities.form_deliveries import claim_delivery, find_delivery
from models.forms import FORMS
from models.links import make_token, read_token
from models.settings import Settings
from starters.intake import SIGNATURE_HEADER, _signal_once, delivery_id, sign, submit_form
from starters.web.app import create_app
from tests.activities.test_email import make_request
from tests.eventually import eventually
from tests.starters.test_directory_pages import listing_input, start_listing
from tests.workflows.harness import Harness, workflow_harness

SECRET = "test-webhook-secret"  # the `settings` fixture's PARTNERFLOW_WEBHOOK_SECRET
ADVANCE_FORMS = [name for name, spec in FORMS.items() if spec.signal is not None]


def test_every_advance_form_asks_for_proof() -> None:
    assert sorted(ADVANCE_FORMS) == [
        "deal-information",
        "deal-purchased-online",
        "directory-listing",
        "monthly-sales-report",
        "subscription-renewal",
    ]
    for name in ADVANCE_FORMS:
        spec = FORMS[name]
        schema = spec.json_schema()
        assert "proof_token" in schema["properties"] and "proof_token" in schema["required"]
        assert "403" in schema["properties"]["proof_token"]["description"], name
        for example in schema["examples"]:
            assert "proof_token" in example, name
            jsonschema.validate(example, schema)
        assert "proof_token" in spec.description, name
    assert FORMS["deal-purchased-online"].proof_secret == "internal_secret"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seats": None}, "seats"),
        ({"list_unit_price_cents": 0}, "list_unit_price_cents"),
        ({"term_months": 18}, "term_months"),
        ({"amount_paid_cents": 2_999_999}, "amount_paid_cents"),
    ],
)
async def test_purchased_online_form_names_the_bad_purchase_field(
    settings: Settings, changes: dict[str, Any], field: str
) -> None:
    example = FORMS["deal-purchased-online"].examples()[0]
    payload = {k: v for k, v in {**example, **changes}.items() if v is not None}
    result = await submit_form(None, settings, "deal-purchased-online", payload)  # type: ignore[arg-type]
    assert result.status_code == 422, result.body
    assert [error["field"] for error in result.body["errors"]] == [field]


async def post(web: httpx.AsyncClient, form: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(SECRET, body, int(time.time()), form),
    }
    return await web.post(f"/webhooks/forms/{form}", content=body, headers=headers)


def web_client(settings: Settings, temporal: Any) -> httpx.AsyncClient:
    """A new instance of the web service (what a restart gives), on the same records."""
    app = create_app(settings, temporal)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def signals(handle: WorkflowHandle, name: str) -> int:
    """How many `name` signals the workflow's history holds."""
    count = 0
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_signaled_event_attributes"):
            count += event.workflow_execution_signaled_event_attributes.signal_name == name
    return count


async def listing_token(h: Harness, workflow_id: str) -> str:
    """The proof a partner has: the token of the listing link in the email that asks."""

    def requested() -> list[Any]:
        return [m for m in h.emails(workflow_id) if m.step == "listing:request"]

    mails = await eventually(requested, what="the listing request email")
    text = mails[0].text_body
    link = re.search(r"/listing/([A-Za-z0-9._-]+)", text)
    assert link is not None, text
    printed = re.search(r'"proof_token": "([A-Za-z0-9._-]+)"', text)  # for the webhook form
    assert printed is not None and printed.group(1).split(".")[0][:20] == link.group(1)[:20]
    return link.group(1)


async def running_listing(h: Harness) -> tuple[WorkflowHandle, dict[str, Any]]:
    data = listing_input()
    handle = await start_listing(h, data)
    token = await listing_token(h, handle.id)
    example = FORMS["directory-listing"].examples()[0]
    return handle, {**example, "partner_id": data.partner_id, "proof_token": token}


async def test_duplicate_advance_form_is_taken_once_also_after_a_restart(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        handle, listing = await running_listing(h)
        async with web_client(h.settings, h.client) as web:
            first = await post(web, "directory-listing", listing)
            assert first.status_code == 202, first.text
            again = await post(web, "directory-listing", listing)
            assert again.status_code == 200, again.text
            assert again.json()["workflow_id"] == first.json()["workflow_id"] == handle.id
            assert again.json()["duplicate"] is True
        # A restart of the web service: a new app, the same records database.
        async with web_client(h.settings, h.client) as restarted:
            after = await post(restarted, "directory-listing", listing)
            assert after.status_code == 200 and after.json()["workflow_id"] == handle.id
        await h.task(handle, "review_listing")  # the listing was taken
        assert await signals(handle, "submit_listing") == 1

        # Two deliveries at the same time: one claims, the other signals under the same
        # request id (or finds it delivered); the workflow gets one signal.
        other, other_listing = await running_listing(h)
        async with web_client(h.settings, h.client) as web:
            both = await asyncio.gather(
                post(web, "directory-listing", other_listing),
                post(web, "directory-listing", other_listing),
            )
        assert sorted(r.status_code for r in both) == [200, 202], [r.text for r in both]
        assert {r.json()["workflow_id"] for r in both} == {other.id}
        await h.task(other, "review_listing")
        assert await signals(other, "submit_listing") == 1
        status = await handle.query("status")
        assert status["stage"] == "listing_review", status["stage"]
        rejected = [e for e in status["history"] if e.get("event") == "rejected"]
        assert rejected == [], rejected  # no second listing reached the workflow


async def test_a_stop_between_claim_and_signal_neither_loses_nor_doubles_the_input(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        # Stopped after the claim, before the signal: the next delivery signals.
        handle, listing = await running_listing(h)
        spec = FORMS["directory-listing"]
        delivery = delivery_id(spec, listing)
        claim_delivery(h.settings, delivery, spec.name, handle.id, "submit_listing")
        async with web_client(h.settings, h.client) as web:
            retried = await post(web, "directory-listing", listing)
        assert retried.status_code == 200 and retried.json()["workflow_id"] == handle.id
        await h.task(handle, "review_listing")
        assert await signals(handle, "submit_listing") == 1
        found = find_delivery(h.settings, delivery)
        assert found is not None and found.delivered

        # Stopped after the signal, before marking it delivered: the retry signals again
        # under the same request id, which Temporal drops.
        other, other_listing = await running_listing(h)
        delivery = delivery_id(spec, other_listing)
        claim_delivery(h.settings, delivery, spec.name, other.id, "submit_listing")
        prepared = {k: v for k, v in other_listing.items() if k != "proof_token"}
        arg = (await h.task(other, "submit_listing"))["example"]
        arg = {**arg, **{k: prepared[k] for k in ("name", "description", "city", "website")}}
        await _signal_once(
            h.client, other.id, "submit_listing", arg, request_id=_request_id(delivery)
        )
        async with web_client(h.settings, h.client) as web:
            retried = await post(web, "directory-listing", other_listing)
        assert retried.status_code == 200 and retried.json()["workflow_id"] == other.id
        await h.task(other, "review_listing")
        assert await signals(other, "submit_listing") == 1


def _request_id(delivery: str) -> str:
    return str(uuid.UUID(delivery[:32]))


async def test_forged_directory_listing_is_403_and_nothing_is_signalled(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        handle, listing = await running_listing(h)
        secret = h.settings.secret("link_secret")
        later = datetime.now(UTC) + timedelta(days=1)
        other = make_token(secret, "directory-someone-else", "directory_listing", later)
        forged = make_token("not-our-secret", handle.id, "directory_listing", later)
        expired = make_token(
            secret, handle.id, "directory_listing", datetime.now(UTC) - timedelta(seconds=1)
        )
        wrong_purpose = make_token(secret, handle.id, "sign_agreement", later)
        without = {k: v for k, v in listing.items() if k != "proof_token"}
        async with web_client(h.settings, h.client) as web:
            for body, says in [
                (without, "missing proof_token"),
                ({**listing, "proof_token": ""}, "missing proof_token"),
                ({**listing, "proof_token": "garbage"}, "proof_token is not valid"),
                ({**listing, "proof_token": forged}, "proof_token is not valid"),
                ({**listing, "proof_token": wrong_purpose}, "proof_token is not valid"),
                ({**listing, "proof_token": expired}, "proof_token has expired"),
                ({**listing, "proof_token": other}, "proof_token is for another process"),
            ]:
                response = await post(web, "directory-listing", body)
                assert response.status_code == 403, (body.get("proof_token"), response.text)
                assert says in response.json()["detail"], response.text
                assert f"for {handle.id}" in response.json()["detail"], response.text
                assert response.json()["errors"][0]["field"] == "proof_token"
        assert await signals(handle, "submit_listing") == 0
        assert (await handle.query("status"))["stage"] == "awaiting_listing"


class Untouchable:
    """A Temporal client stand-in that fails the test on any use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a refused form used Temporal ({name})")


@pytest.mark.parametrize("form", ADVANCE_FORMS)
async def test_advance_forms_without_proof_never_reach_temporal(
    form: str, settings: Settings
) -> None:
    spec = FORMS[form]
    example = spec.examples()[0]
    workflow_id = spec.workflow_id(spec.model.model_validate(example))
    partner_token = make_token(
        settings.secret("link_secret"),
        workflow_id,
        spec.proof_purpose,
        datetime.now(UTC) + timedelta(days=1),
    )
    tokens: list[str | None] = [None, "<the proof token>"]
    if spec.proof_secret == "internal_secret":
        tokens.append(partner_token)  # the right proof for a partner form, not for this one
    async with web_client(settings, Untouchable()) as web:
        for token in tokens:
            response = await post(web, form, {**example, "proof_token": token})
            assert response.status_code == 403, response.text
            assert response.json()["errors"][0]["field"] == "proof_token"
    if spec.proof_secret == "internal_secret":
        # A partner's token (the link secret) never passes as an internal sender's.
        assert "internal senders only" in response.json()["detail"]


@pytest.mark.parametrize(
    ("workflow_id", "step", "form"),
    [
        ("rc-partnership-porto-chat", "report:2026-11:request", "monthly-sales-report"),
        ("rc-partnership-porto-chat", "report:2026-11:reminder", "monthly-sales-report"),
        ("deal-DR-2026-000123", "deal:information_requested:1", "deal-information"),
        ("deal-DR-2026-000123", "deal:provide_deal_information:1:reminder:1", "deal-information"),
        ("directory-nordlicht-it", "listing:request", "directory-listing"),
        ("directory-nordlicht-it", "listing:1:reminder:2", "directory-listing"),
        ("directory-nordlicht-it", "listing:2:changes", "directory-listing"),
        ("directory-nordlicht-it", "listing:published:1", None),
        ("deal-DR-2026-000123", "deal:approved", None),
        ("rc-partnership-porto-chat", "fee:1:issued", None),
    ],
)
def test_the_emails_that_ask_for_an_advance_form_carry_its_proof(
    settings: Settings, workflow_id: str, step: str, form: str | None
) -> None:
    rendered = render_email(
        settings,
        make_request(
            "rocketchat_notice", f"{workflow_id}:{step}", workflow_id=workflow_id, step=step
        ),
    )
    found = re.search(r'"proof_token": "([A-Za-z0-9._-]+)"', rendered.text)
    if form is None:
        assert found is None and "proof_token" not in rendered.html
        return
    assert found is not None and f"/webhooks/forms/{form}" in rendered.text
    assert found.group(1) in rendered.html
    spec = FORMS[form]
    claims = read_token(settings.secret("link_secret"), found.group(1), spec.proof_purpose)
    assert claims.workflow_id == workflow_id
    assert claims.expires_at > datetime.now(UTC) + timedelta(days=30)
