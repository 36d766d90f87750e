"""Deal registration and authorized resale from the published forms to a paid invoice, only
through the published surfaces: signed form webhooks (start and signal-mode forms), emailed
sign links and the sign page, and `partnerflow act` with the examples that `pending_tasks`
publishes. Runs on the real dev server (search attributes, visibility, child workflows)."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.partners import PartnerActivities
from models.contracts import PartnerRecord
from models.forms import FORMS
from models.settings import Settings, get_settings
from starters.intake import sign
from starters.web.app import create_app
from tests.starters.test_end_to_end import cli_run, outbox_message, pending, text_body, visible
from workers.main import build_worker
from workflows.search_attributes import DEAL_NUMBER, INVOICE_STAGE, PARTNER_ID

SECRET = "e2e-sales-webhook-secret"


@pytest.fixture
def stack_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_env: WorkflowEnvironment
) -> Iterator[Settings]:
    env = {
        "PARTNERFLOW_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'records.db'}",
        "TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"e2e-sales-{uuid.uuid4().hex[:8]}",
        "PARTNERFLOW_WEBHOOK_SECRET": SECRET,
        "PARTNERFLOW_LINK_SECRET": "e2e-sales-link-secret",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    from activities.database import migrate

    settings = get_settings()
    migrate(settings.resolved_database_url)
    yield settings
    get_settings.cache_clear()


@pytest_asyncio.fixture
async def running(
    local_env: WorkflowEnvironment, stack_settings: Settings
) -> AsyncIterator[Client]:
    async with build_worker(local_env.client, stack_settings):
        yield local_env.client


def offset_deal_numbers(settings: Settings) -> None:
    """Each test has a fresh records database but the dev server is shared by the session:
    start this database's deal numbers at a random point so workflow ids never collide."""
    from activities.database import session_scope
    from models.deals import format_deal_number
    from models.tables import DealNumberRow

    year, sequence = datetime.now(UTC).year, random.randint(1, 900_000)
    with session_scope(settings.resolved_database_url) as session:
        session.add(
            DealNumberRow(
                deal_number=format_deal_number(year, sequence),
                submission_key=f"test-offset-{uuid.uuid4().hex}",
                year=year,
                sequence=sequence,
                partner_id="test",
            )
        )


def seed_partner(
    settings: Settings,
    partner_id: str,
    partner_type: str = "value_added_reseller",
    status: str = "active",
) -> None:
    record = PartnerRecord(
        partner_id=partner_id,
        program="mattermost",
        partner_type=partner_type,
        company="Nordlicht IT-Systemhaus GmbH",
        country="DE",
        contact_name="Lena Hoffmann",
        contact_email="lena.hoffmann@nordlicht-it.example",
        status=status,
        discount_percent=25,  # agreed at the VAR approval
        at=datetime.now(UTC),
    )
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


async def post_form(web: httpx.AsyncClient, form: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Partnerflow-Signature": sign(SECRET, body, int(time.time()), form),
    }
    return await web.post(f"/webhooks/forms/{form}", content=body, headers=headers)


async def example_of(web: httpx.AsyncClient, form: str) -> dict[str, Any]:
    forms = (await web.get("/webhooks/forms")).json()
    listed = next(f for f in forms if f["form"] == form)
    schema = (await web.get(listed["schema_url"])).json()
    return json.loads(json.dumps(schema["examples"][0]))


async def act(
    workflow_id: str, task: dict[str, Any], payload: dict[str, Any] | None = None
) -> None:
    code, output = await cli_run(
        "act",
        workflow_id,
        task["handler"],
        "--input",
        json.dumps(task["example"] if payload is None else payload),
    )
    assert code == 0, output


async def sign_by_page(
    web: httpx.AsyncClient, settings: Settings, step: str, name: str, email: str
) -> None:
    message = await outbox_message(settings, step)
    link = re.search(r"https?://\S+/sign/\S+", text_body(message))
    assert link, text_body(message)
    path = "/sign/" + link.group(0).split("/sign/", 1)[1]
    page = await web.get(path)
    assert page.status_code == 200
    sha = re.search(r"[0-9a-f]{64}", page.text)
    assert sha
    signed = await web.post(
        path,
        data={
            "name": name,
            "title": "CIO",
            "email": email,
            "sha256": sha.group(0),
            "agreed": "yes",
        },
    )
    assert signed.status_code == 303, signed.text


async def pay_order(client: Client, order_workflow_id: str) -> None:
    for task_name in ("accept_terms", "review_license", "record_payment"):
        task = await pending(client, order_workflow_id, task_name)
        await act(order_workflow_id, task)


async def test_deal_registration_from_form_to_paid_invoice(
    running: Client, stack_settings: Settings
) -> None:
    client = running
    partner_id = f"nordlicht-{uuid.uuid4().hex[:6]}"
    seed_partner(stack_settings, partner_id)
    offset_deal_numbers(stack_settings)
    seed_partner(stack_settings, "si-only", partner_type="system_integrator")
    app = create_app(stack_settings, client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        submission = {
            **await example_of(web, "deal-registration"),
            "partner_id": partner_id,
            "notes": uuid.uuid4().hex,
        }

        refused = await post_form(web, "deal-registration", {**submission, "partner_id": "si-only"})
        assert (
            refused.status_code == 422 and "not a Mattermost Value-Added Reseller" in refused.text
        )
        unknown = await post_form(web, "deal-registration", {**submission, "partner_id": "nobody"})
        assert unknown.status_code == 422 and "not in the partner records" in unknown.text

        response = await post_form(web, "deal-registration", submission)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]
        deal_number = workflow_id.removeprefix("deal-")
        assert re.fullmatch(r"DR-\d{4}-\d{6}", deal_number)
        again = await post_form(web, "deal-registration", submission)  # the same webhook again
        assert again.status_code == 200 and again.json()["workflow_id"] == workflow_id

        found = await visible(
            client, f'DealNumber = "{deal_number}" AND PendingTask = "review_deal"'
        )
        assert found.typed_search_attributes.get(PARTNER_ID) == partner_id

        # The reviewer asks a question; the partner answers through the signal-mode form.
        review = await pending(client, workflow_id, "review_deal")
        await act(
            workflow_id,
            review,
            {
                **review["example"],
                "decision": "request_information",
                "question": "Which departments use it?",
            },
        )
        await pending(client, workflow_id, "provide_deal_information")
        asked = await outbox_message(stack_settings, f"{workflow_id}:deal:information_requested")
        proof = re.search(r'"proof_token": "([A-Za-z0-9._-]+)"', text_body(asked))
        assert proof is not None  # the email that asks carries the form's proof
        answer = {
            **await example_of(web, "deal-information"),
            "deal_number": deal_number,
            "proof_token": proof.group(1),
        }
        elsewhere = FORMS["deal-information"].proof_token(stack_settings, "deal-DR-1999-000001")
        missing = await post_form(
            web,
            "deal-information",
            {**answer, "deal_number": "DR-1999-000001", "proof_token": elsewhere},
        )
        assert missing.status_code == 404
        # The partner's proof does not make it an internal sender.
        ended = await post_form(
            web,
            "deal-purchased-online",
            {
                "deal_number": deal_number,
                "reported_by": "partner@example.com",
                "online_order_reference": "WEB-1",
                "seats": 250,
                "list_unit_price_cents": 12_000,
                "proof_token": proof.group(1),
            },
        )
        assert ended.status_code == 403 and "internal senders only" in ended.text
        answered = await post_form(web, "deal-information", answer)
        assert answered.status_code == 202, answered.text

        review = await pending(client, workflow_id, "review_deal")
        await act(workflow_id, review)
        quotation = await pending(client, workflow_id, "submit_quotation")
        assert quotation["example"]["discount_percent"] == 25  # the agreed discount
        await act(workflow_id, quotation)

        # The end customer signs the quotation on the page linked from the email.
        customer = submission["end_customer"]["contact"]
        await pending(client, workflow_id, "sign_quotation")
        await sign_by_page(
            web, stack_settings, "sign_quotation:request", customer["name"], customer["email"]
        )

        purchase_order = await pending(client, workflow_id, "submit_purchase_order")
        await act(workflow_id, purchase_order)
        await pay_order(client, f"order-{deal_number}")

    result = await client.get_workflow_handle(workflow_id).result()
    assert result["outcome"] == "paid"
    done = await visible(client, f'WorkflowId = "{workflow_id}" AND InvoiceStage = "paid"')
    assert done.typed_search_attributes.get(DEAL_NUMBER) == deal_number
    child = await visible(
        client, f'WorkflowId = "order-{deal_number}" AND DealNumber = "{deal_number}"'
    )
    assert child.typed_search_attributes.get(INVOICE_STAGE) == "paid"


async def test_authorized_resale_from_form_to_paid_invoice(
    running: Client, stack_settings: Settings
) -> None:
    client = running
    app = create_app(stack_settings, client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        submission = await example_of(web, "authorized-resale")
        submission["request_id"] = f"E2E-{uuid.uuid4().hex[:8]}"
        response = await post_form(web, "authorized-resale", submission)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]

        for task_name in ("reach_out", "approve_resale"):
            await act(workflow_id, await pending(client, workflow_id, task_name))
        contact = submission["reseller"]["contact"]
        await pending(client, workflow_id, "sign_reseller_agreement")
        await sign_by_page(
            web,
            stack_settings,
            "sign_reseller_agreement:request",
            contact["name"],
            contact["email"],
        )
        await act(workflow_id, await pending(client, workflow_id, "submit_purchase_order"))
        await pay_order(client, f"order-RS-{submission['request_id']}")

    result = await client.get_workflow_handle(workflow_id).result()
    assert result["outcome"] == "paid"
    await visible(client, f'WorkflowId = "{workflow_id}" AND InvoiceStage = "paid"')


async def test_customer_purchased_online_form_to_paid_referral_fee(
    running: Client, stack_settings: Settings
) -> None:
    client = running
    partner_id = f"nordlicht-{uuid.uuid4().hex[:6]}"
    seed_partner(stack_settings, partner_id)
    offset_deal_numbers(stack_settings)
    app = create_app(stack_settings, client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        submission = {
            **await example_of(web, "deal-registration"),
            "partner_id": partner_id,
            "notes": uuid.uuid4().hex,
        }
        response = await post_form(web, "deal-registration", submission)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]
        deal_number = workflow_id.removeprefix("deal-")
        await act(workflow_id, await pending(client, workflow_id, "review_deal"))
        await pending(client, workflow_id, "submit_quotation")

        report = {
            **await example_of(web, "deal-purchased-online"),
            "deal_number": deal_number,
            "proof_token": FORMS["deal-purchased-online"].proof_token(stack_settings, workflow_id),
        }
        posted = await post_form(web, "deal-purchased-online", report)
        assert posted.status_code == 202, posted.text
        fee = await pending(client, workflow_id, "record_referral_fee_paid")
        assert (
            fee["assignee"] == "finance" and fee["example"]["amount_cents"] == 750_000
        )  # 25% of 250 × USD 120
        instructions = text_body(await outbox_message(stack_settings, "referral_fee:instructions"))
        assert (
            f"Referral fee for deal registration {deal_number}" in instructions
            and "payments@mattermost.com" in instructions
            and "online order WEB-2026-4411, 250 seats, 12 months" in instructions
        )
        await act(workflow_id, fee)

    result = await client.get_workflow_handle(workflow_id).result()
    assert result["outcome"] == "referral_fee_paid" and result["referral_fee_cents"] == 750_000
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        closed = await post_form(web, "deal-purchased-online", report)
        assert closed.status_code == 409
