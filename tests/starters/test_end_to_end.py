"""One order from the published form to a paid invoice, only through the published surfaces:
the signed form webhook, the emailed accept link, and `partnerflow act` with the examples
that `pending_tasks` publishes. Runs on the real dev server (search attributes, visibility).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from models.settings import Settings, get_settings
from starters.cli import app as cli
from starters.intake import sign
from starters.order_prerequisites import seed_order_example
from starters.web.app import create_app
from tests.eventually import eventually
from tests.workflows.harness import pending as task_pending
from workers.main import build_worker
from workflows.search_attributes import ASSIGNEE, INVOICE_STAGE, PENDING_TASK, STAGE, TASK_DUE_AT


@pytest.fixture
def stack_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_env: WorkflowEnvironment
) -> Settings:
    """The same configuration for the worker, the web app and the CLI, through the env."""
    env = {
        "PARTNERFLOW_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'records.db'}",
        "TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "PARTNERFLOW_WEBHOOK_SECRET": "e2e-webhook-secret",
        "PARTNERFLOW_LINK_SECRET": "e2e-link-secret",
        "WEB_CHECK_PRIVATE_NETWORKS": "true",  # partners' test websites run on loopback
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
    """A real worker on the test's task queue (what still runs at the end is terminated by
    tests/conftest.py's `_nothing_left_running_on_the_dev_server`)."""
    async with build_worker(local_env.client, stack_settings):
        yield local_env.client


async def cli_run(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args))
    return result.exit_code, result.output


async def visible(client: Client, query: str, timeout: float = 15.0) -> Any:
    async def found() -> list[Any]:
        return [w async for w in client.list_workflows(query)]

    return (await eventually(found, timeout=timeout, interval=0.1, what=query))[0]


async def pending(client: Client, workflow_id: str, task: str) -> dict[str, Any]:
    return await task_pending(client.get_workflow_handle(workflow_id), task)


async def outbox_message(settings: Settings, step_fragment: str) -> Message:
    def written() -> Message | None:
        for path in sorted(settings.outbox_dir.glob("*.eml")):
            message = message_from_bytes(path.read_bytes())
            if step_fragment in (message.get("X-Partnerflow-Key") or ""):
                return message
        return None

    return await eventually(written, what=f"an outbox email for {step_fragment}")


def text_body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


async def test_order_from_form_to_paid_invoice(running: Client, stack_settings: Settings) -> None:
    client = running
    seed_order_example(stack_settings)  # the example's active VAR and approved registration
    app = create_app(stack_settings, client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        forms = (await web.get("/webhooks/forms")).json()
        order_form = next(f for f in forms if f["form"] == "order")
        schema = (await web.get(order_form["schema_url"])).json()
        submission = dict(schema["examples"][0])
        order_id = f"E2E-{uuid.uuid4().hex[:8]}"
        submission["order_id"] = order_id
        submission["purchase_order"] = {**submission["purchase_order"], "number": f"PO-{order_id}"}
        body = json.dumps(submission).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Partnerflow-Signature": sign("e2e-webhook-secret", body, int(time.time()), "order"),
        }
        response = await web.post("/webhooks/forms/order", content=body, headers=headers)
        assert response.status_code == 202, response.text
        workflow_id = response.json()["workflow_id"]
        assert workflow_id == f"order-{order_id}"

        # What the workflow waits for is visible to operators through search attributes.
        found = await visible(
            client, f'WorkflowId = "{workflow_id}" AND PendingTask = "accept_terms"'
        )
        attributes = found.typed_search_attributes
        assert attributes.get(STAGE) == "awaiting_acceptance"
        assert attributes.get(ASSIGNEE) == ["end_customer"]
        assert attributes.get(TASK_DUE_AT) is not None

        # The end customer follows the emailed link and accepts on the page.
        email = await outbox_message(stack_settings, "acceptance:request")
        assert email["To"] == submission["end_customer"]["contact"]["email"]
        link = re.search(r"https?://\S+/accept/\S+", text_body(email))
        assert link, text_body(email)
        path = "/accept/" + link.group(0).split("/accept/", 1)[1]
        page = await web.get(path)
        assert page.status_code == 200 and submission["end_customer"]["legal_name"] in page.text
        contact = submission["end_customer"]["contact"]
        accepted = await web.post(
            path,
            data={
                "name": contact["name"],
                "title": "CTO",
                "email": contact["email"],
                "agreed": "on",
            },
        )
        assert accepted.status_code == 303

    # The license desk decides from the CLI with the published example.
    review = await pending(client, workflow_id, "review_license")
    code, output = await cli_run(
        "act", workflow_id, "review_license", "--input", json.dumps({"reviewer": "x"})
    )
    assert code == 2 and "rejected" in output  # invalid: no decision
    code, output = await cli_run(
        "act", workflow_id, review["handler"], "--input", json.dumps(review["example"])
    )
    assert code == 0, output

    payment = await pending(client, workflow_id, "record_payment")
    code, output = await cli_run("tasks", "--json")
    assert code == 0, output
    assert any(
        t["workflow_id"] == workflow_id and t["task"] == "record_payment"
        for t in json.loads(output)
    )
    await visible(client, f'WorkflowId = "{workflow_id}" AND InvoiceStage = "open"')
    code, output = await cli_run("invoices", "--stage", "open", "--json")
    [invoice] = [i for i in json.loads(output) if i["workflow_id"] == workflow_id]
    assert invoice["amount_due_cents"] == payment["example"]["amount_cents"] > 0

    # Finance records the payment: the order ends paid.
    code, output = await cli_run(
        "act", workflow_id, "record_payment", "--input", json.dumps(payment["example"])
    )
    assert code == 0, output
    result = await client.get_workflow_handle(workflow_id).result()
    assert result.outcome == "paid" if hasattr(result, "outcome") else result["outcome"] == "paid"
    done = await visible(client, f'WorkflowId = "{workflow_id}" AND InvoiceStage = "paid"')
    assert done.typed_search_attributes.get(INVOICE_STAGE) == "paid"
    assert done.typed_search_attributes.get(PENDING_TASK) is None

    code, output = await cli_run("outbox", "--json", "--workflow", workflow_id)
    steps = [row["step"] for row in json.loads(output)]
    assert set(steps) == {"acceptance:request", "license:issued", "invoice:issued", "invoice:paid"}
    [license_file] = list(stack_settings.licenses_dir.glob("*"))
    code, output = await cli_run("license", "verify", str(license_file))
    assert code == 0 and '"valid": true' in output
    tampered = license_file.with_suffix(".tampered")
    tampered.write_text(license_file.read_text().replace("A", "B", 1))
    code, output = await cli_run("license", "verify", str(tampered))
    assert code == 1
