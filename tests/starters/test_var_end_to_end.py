"""A Value-Added Reseller from its application to a paid order through a registered deal,
only through the published surfaces (issue 13): the signed `var-application` and
`deal-registration` form webhooks, the emailed sign and accept links and their pages, and
`partnerflow act` with the examples that `pending_tasks` publishes. No partner record and no
registration is seeded: the application's own tasks make the partner (records table and the
`Partner` entity `partner-mattermost-{id}`), the deal's own tasks approve it. A forged `order`
form for that partner (a price off the agreed discount, a discount without the registration,
the registration once ordered) is refused 422 naming the rule and the field, and nothing
starts. Runs on the real dev server with a real worker (`workers.main.build_worker`)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.deals import get_registration
from activities.partners import get_partner
from models.settings import Settings
from starters.web.app import create_app
from tests.eventually import eventually
from tests.starters.test_end_to_end import cli_run, outbox_message, pending, text_body, visible
from tests.starters.test_sales_end_to_end import (
    act,
    example_of,
    offset_deal_numbers,
    post_form,
    running,  # noqa: F401  (fixture)
    sign_by_page,
    stack_settings,  # noqa: F401  (fixture)
)
from workflows.search_attributes import DEAL_NUMBER, INVOICE_STAGE, PARTNER_ID, PROGRAM

AGREED = 25  # the reviewer's agreed discount: not the examples' 20%, within the bounds 10–30
SKU = "MM-ENT-1Y"


async def entity_facts(client: Client, partner_id: str) -> dict[str, Any]:
    status = await client.get_workflow_handle(f"partner-mattermost-{partner_id}").query("status")
    facts: dict[str, Any] = status["facts"]
    return facts


async def entity_shows(client: Client, partner_id: str, what: str, check: Any) -> dict[str, Any]:
    """The entity's facts once `check(facts)` holds (it hears the records by signal)."""

    async def probe() -> dict[str, Any] | None:
        facts = await entity_facts(client, partner_id)
        return facts if check(facts) else None

    return await eventually(probe, what=f"partner-mattermost-{partner_id}: {what}")


async def may(client: Client, partner_id: str, action: str) -> dict[str, Any]:
    handle = client.get_workflow_handle(f"partner-mattermost-{partner_id}")
    answer: dict[str, Any] = await handle.query("may", action)
    return answer


async def nothing_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError, match="not found"):
        await client.get_workflow_handle(workflow_id).describe()


async def accept_by_page(web: httpx.AsyncClient, settings: Settings, email: str) -> None:
    """The end customer follows the emailed accept link and accepts the terms on the page."""
    message = await outbox_message(settings, "acceptance:request")
    assert message["To"] == email
    link = re.search(r"https?://\S+/accept/\S+", text_body(message))
    assert link, text_body(message)
    path = "/accept/" + link.group(0).split("/accept/", 1)[1]
    assert (await web.get(path)).status_code == 200
    accepted = await web.post(
        path, data={"name": "Jonas Weber", "title": "CTO", "email": email, "agreed": "on"}
    )
    assert accepted.status_code == 303, accepted.text


async def test_var_from_application_to_paid_order_through_a_registered_deal(
    running: Client,  # noqa: F811
    stack_settings: Settings,  # noqa: F811
) -> None:
    client, settings = running, stack_settings
    offset_deal_numbers(settings)
    suffix = uuid.uuid4().hex[:8]
    partner_id = f"nordlicht-{suffix}"
    app = create_app(settings, client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        # --- the application, from the contact form to an active VAR -------------------------
        application = {
            **await example_of(web, "var-application"),
            "application_id": f"VAR-E2E-{suffix}",
            "partner_id": partner_id,
        }
        contact = application["contact"]
        posted = await post_form(web, "var-application", application)
        assert posted.status_code == 202, posted.text
        var_id = posted.json()["workflow_id"]
        assert var_id == f"var-application-{application['application_id']}"

        early = {**await example_of(web, "deal-registration"), "partner_id": partner_id}
        refused = await post_form(web, "deal-registration", early)
        assert refused.status_code == 422 and "partner_id" in refused.text  # not a partner yet

        review = await pending(client, var_id, "review_application")
        code, output = await cli_run(
            "act",
            var_id,
            review["handler"],
            "--input",
            json.dumps({**review["example"], "discount_percent": 45}),
        )
        assert code == 2 and "discount_percent" in output and "between 10% and 30%" in output
        await act(var_id, review, {**review["example"], "discount_percent": AGREED})
        onboarding = await entity_shows(
            client, partner_id, "onboarding", lambda f: f["status"] == "onboarding"
        )
        assert onboarding["program"] == "mattermost" and onboarding["may"]["register_deal"] is False

        await pending(client, var_id, "sign_var_agreement")
        request = text_body(await outbox_message(settings, "sign_var_agreement:request"))
        sign_link = re.search(r"/sign/\S+", request)
        assert sign_link, request
        agreement_page = (await web.get(sign_link.group(0))).text
        assert f"{AGREED}%" in agreement_page and "20%" not in agreement_page  # no invented rate
        await sign_by_page(
            web, settings, "sign_var_agreement:request", contact["name"], contact["email"]
        )
        assign = await pending(client, var_id, "assign_sales_manager")
        sales_manager = assign["example"]["sales_manager"]["email"]
        await act(var_id, assign)
        await act(var_id, await pending(client, var_id, "confirm_training"))
        await act(var_id, await pending(client, var_id, "confirm_local_support"))
        applied = await client.get_workflow_handle(var_id).result()
        assert (applied["outcome"], applied["partner_id"]) == ("active", partner_id)

        record = get_partner(settings, "mattermost", partner_id)
        assert record is not None
        assert (record.partner_type, record.status, record.discount_percent) == (
            "value_added_reseller",
            "active",
            AGREED,
        )
        assert record.attributes["sales_manager"]["email"] == sales_manager
        assert record.attributes["training_completed_at"] and record.attributes["local_support"]
        facts = await entity_shows(
            client, partner_id, "active and enabled", lambda f: f["may"]["order_var"]
        )
        assert facts["status"] == "active" and facts["agreement"]["discount_percent"] == AGREED
        assert facts["sales_manager"]["email"] == sales_manager
        assert facts["listing_workflow_id"] == f"directory-{partner_id}"
        assert (await may(client, partner_id, "register_deal"))["allowed"] is True
        entity = await visible(
            client, f'WorkflowId = "partner-mattermost-{partner_id}" AND Program = "mattermost"'
        )
        assert entity.typed_search_attributes.get(PARTNER_ID) == partner_id
        assert entity.typed_search_attributes.get(PROGRAM) == "mattermost"

        # --- the deal registration, reviewed by the partner's Sales Manager ----------------
        registration = {
            **await example_of(web, "deal-registration"),
            "partner_id": partner_id,
            "registered_by": contact,
            "industry": application["industries"][0],
            "notes": uuid.uuid4().hex,
        }
        customer = registration["end_customer"]
        posted = await post_form(web, "deal-registration", registration)
        assert posted.status_code == 202, posted.text
        deal_id = posted.json()["workflow_id"]
        deal_number = deal_id.removeprefix("deal-")
        review = await pending(client, deal_id, "review_deal")
        assert review["assigned_to"] == sales_manager
        assert review["example"]["reviewer"] == sales_manager
        assert "OUTSIDE THE AGREEMENT" not in review["description"]  # DE, the agreed industry
        await act(deal_id, review)
        quotation = await pending(client, deal_id, "submit_quotation")
        assert quotation["assigned_to"] == sales_manager
        list_cents = settings.mattermost_price_list[SKU]
        net_unit = list_cents * (100 - AGREED) // 100
        seats = registration["seats"]
        assert quotation["example"]["discount_percent"] == AGREED
        assert quotation["example"]["list_unit_price_cents"] == list_cents
        assert quotation["example"]["net_price_cents"] == seats * net_unit
        await entity_shows(
            client,
            partner_id,
            f"{deal_number} open",
            lambda f: [d["deal_number"] for d in f["open_deals"]] == [deal_number],
        )

        # --- forged public orders for this partner: refused, nothing starts ----------------
        forged = {
            **await example_of(web, "order"),
            "deal_number": deal_number,
            "reseller": {
                "company": application["company"],
                "partner_id": partner_id,
                "contact": contact,
                "address": {
                    "line1": "Friedrichstraße 123",
                    "city": application["city"],
                    "postal_code": "10117",
                    "country": application["country"],
                },
            },
            "end_customer": customer,
            "lines": [{"sku": SKU, "description": "Mattermost Enterprise, 1 year",
                       "seats": seats, "unit_price_cents": 9600}],
        }  # fmt: skip

        async def refused_order(changes: dict[str, Any]) -> dict[str, str]:
            order_id = f"FORGED-{uuid.uuid4().hex[:8]}"
            response = await post_form(web, "order", {**forged, **changes, "order_id": order_id})
            assert response.status_code == 422, response.text
            await nothing_started(client, f"order-{order_id}")
            [problem] = response.json()["errors"]
            return dict(problem)

        wrong_price = await refused_order({})  # the examples' 20%, not the agreed 25%
        assert (wrong_price["type"], wrong_price["field"]) == ("price", "lines.0.unit_price_cents")
        assert "9600" in wrong_price["message"] and str(net_unit) in wrong_price["message"]
        discounted = {"lines": [{**forged["lines"][0], "unit_price_cents": net_unit}]}
        no_registration = await refused_order({**discounted, "deal_number": None})
        assert (no_registration["type"], no_registration["field"]) == (
            "discount_needs_registration",
            "lines.0.unit_price_cents",
        )

        # --- quotation, the customer's signature, the purchase order -----------------------
        await act(deal_id, quotation)
        await pending(client, deal_id, "sign_quotation")
        await sign_by_page(
            web,
            settings,
            "sign_quotation:request",
            customer["contact"]["name"],
            customer["contact"]["email"],
        )
        purchase_order = await pending(client, deal_id, "submit_purchase_order")
        assert purchase_order["example"]["amount_cents"] == seats * net_unit
        await act(deal_id, purchase_order)

        # --- the deal's order: terms accepted on the page, license, invoice, payment -------
        order_id = f"order-{deal_number}"
        await accept_by_page(web, settings, customer["contact"]["email"])
        order_status = await client.get_workflow_handle(order_id).query("status")
        [line] = order_status["facts"]["lines"]
        assert (line["sku"], line["seats"], line["unit_price_cents"]) == (SKU, seats, net_unit)
        assert order_status["facts"]["deal_number"] == deal_number
        await act(order_id, await pending(client, order_id, "review_license"))
        license_mail = await outbox_message(settings, f"{order_id}:license:issued")
        assert license_mail["To"] == quotation["example"]["license_contact_email"]
        payment = await pending(client, order_id, "record_payment")
        assert payment["example"]["amount_cents"] == seats * net_unit
        await act(order_id, payment)

        # The registration was used: a public order naming it is refused now.
        reused = await refused_order(discounted)
        assert (reused["type"], reused["field"]) == ("registration_approved", "deal_number")

    result = await client.get_workflow_handle(deal_id).result()
    assert (result["outcome"], result["order_outcome"]) == ("paid", "paid")
    done = await visible(client, f'WorkflowId = "{order_id}" AND InvoiceStage = "paid"')
    assert done.typed_search_attributes.get(DEAL_NUMBER) == deal_number
    assert done.typed_search_attributes.get(INVOICE_STAGE) == "paid"
    stored = get_registration(settings, deal_number)
    assert stored is not None and stored.status == "closed_won"
    closed = await entity_shows(
        client, partner_id, f"{deal_number} closed", lambda f: f["closed_deals"] == 1
    )
    assert closed["open_deals"] == [] and closed["status"] == "active"
