"""The end customer's accept page, against a stub `OrderFulfillment` workflow.

The stub answers `status` / `pending_tasks` like the real workflow and records every
`accept_terms` it receives (the page sends the update; the signal stays for machines), so
the page is tested without the real process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from models.links import make_token
from models.settings import Settings
from models.tasks import PendingTask, WorkflowStatus
from starters.web.app import create_app
from tests.eventually import eventually

FACTS: dict[str, Any] = {
    "order_id": "ORD-ACCEPT-1",
    "reseller_company": "Nordlicht IT-Systemhaus GmbH",
    "end_customer_name": "Hanse Logistik AG",
    "end_customer_contact": {"name": "Jonas Weber", "email": "jonas.weber@example.org"},
    "lines": [
        {
            "sku": "MM-ENT-1Y",
            "description": "Mattermost Enterprise, 1 year",
            "seats": 50,
            "unit_price_cents": 12000,
            "amount_cents": 600000,
        }
    ],
    "total_cents": 600000,
    "currency": "usd",
    "terms_title": "Enterprise Subscription Terms for Purchase by Resale",
    "terms_url": "https://mattermost.com/enterprise-edition-terms/",
    "acceptance_expires_at": "2030-01-15T17:00:00+00:00",
}


@workflow.defn(name="OrderFulfillment")
class StubOrderFulfillment:
    """Waits for `accept_terms`; records what it received; never finishes on its own."""

    def __init__(self) -> None:
        self._received: list[dict[str, Any]] = []
        self._facts: dict[str, Any] = {}

    @workflow.run
    async def run(self, order: dict) -> None:
        self._facts = order["facts"]
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name="accept_terms")
    def accept_terms(self, acceptance: dict) -> None:
        self._received.append(acceptance)

    @workflow.update(name="accept_terms")
    def accept_terms_update(self, acceptance: dict) -> dict[str, Any]:
        self._received.append(acceptance)
        return {
            "workflow_id": workflow.info().workflow_id,
            "handler": "accept_terms",
            "decision": "accept_terms",
            "stage": "accepted",
        }

    @accept_terms_update.validator
    def validate_accept_terms(self, acceptance: dict) -> None:
        if self._received:
            problems = [{"field": "", "message": "accept_terms is not pending"}]
            raise ApplicationError("accept_terms rejected: accept_terms is not pending", problems)

    @workflow.query
    def received(self) -> list[dict[str, Any]]:
        return self._received

    @workflow.query
    def pending_tasks(self) -> list[PendingTask]:
        if self._received:
            return []
        return [
            PendingTask(
                task="accept_terms",
                handler="accept_terms",
                description="The end customer accepts the subscription terms",
                assignee="end_customer",
                example={
                    "name": "Jonas Weber",
                    "title": "CTO",
                    "email": "j@example.org",
                    "agreed": True,
                },
            )
        ]

    @workflow.query
    def status(self) -> WorkflowStatus:
        return WorkflowStatus(
            workflow_id=workflow.info().workflow_id,
            workflow_type="OrderFulfillment",
            stage="accepted" if self._received else "awaiting_acceptance",
            facts=self._facts,
            pending_tasks=self.pending_tasks(),
        )


@dataclass
class Page:
    http: httpx.AsyncClient
    handle: WorkflowHandle
    settings: Settings

    def token(self, expires_in: timedelta = timedelta(days=1), **overrides: Any) -> str:
        return make_token(
            overrides.get("secret", self.settings.secret("link_secret")),
            overrides.get("workflow_id", self.handle.id),
            overrides.get("purpose", "accept_terms"),
            datetime.now(UTC) + expires_in,
        )

    async def received(self) -> list[dict[str, Any]]:
        return await self.handle.query("received")


@pytest.fixture
async def page(settings: Settings, time_skipping_env) -> AsyncIterator[Page]:
    client = time_skipping_env.client
    task_queue = f"accept-page-{uuid.uuid4()}"
    settings = settings.model_copy(update={"temporal_task_queue": task_queue})
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StubOrderFulfillment],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            "OrderFulfillment",
            {"facts": FACTS},
            id=f"order-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=10),
        )
        app = create_app(settings, client)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Page(http, handle, settings)
        await handle.terminate("test finished")


VALID = {"name": "Jonas Weber", "title": "CTO", "email": "jonas.weber@example.org", "agreed": "yes"}


async def test_valid_link_shows_the_order_and_a_prefilled_form(page: Page) -> None:
    response = await page.http.get(f"/accept/{page.token()}")
    assert response.status_code == 200
    html = response.text
    for text in [
        "ORD-ACCEPT-1",
        "Hanse Logistik AG",
        "Nordlicht IT-Systemhaus GmbH",
        "MM-ENT-1Y",
        "https://mattermost.com/enterprise-edition-terms/",
        "Enterprise Subscription Terms for Purchase by Resale",
    ]:
        assert text in html
    assert 'value="jonas.weber@example.org"' in html and 'value="Jonas Weber"' in html
    assert "50</td>" in html
    assert "6,000" not in html and "120.00" not in html  # the reseller's price stays private
    assert '<form method="post"' in html and 'name="agreed"' in html
    assert '<label for="agreed">' in html
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("overrides", "status_code", "text"),
    [
        ({"expires_in": timedelta(minutes=-1)}, 410, "expired"),
        ({"secret": "forged"}, 403, "not valid"),
        ({"purpose": "sign_agreement"}, 403, "not valid"),
    ],
)
async def test_bad_links_show_a_friendly_error_page(
    page: Page, overrides: dict[str, Any], status_code: int, text: str
) -> None:
    token = page.token(**overrides)
    for response in [
        await page.http.get(f"/accept/{token}"),
        await page.http.post(f"/accept/{token}", data=VALID),
    ]:
        assert response.status_code == status_code
        assert response.headers["content-type"].startswith("text/html")
        assert text in response.text and "Traceback" not in response.text
    assert await page.received() == []
    garbage = await page.http.get("/accept/not-a-token")
    assert garbage.status_code == 403


async def test_link_to_unknown_workflow_is_not_found(page: Page) -> None:
    response = await page.http.get(f"/accept/{page.token(workflow_id='order-missing')}")
    assert response.status_code == 404
    assert "could not find" in response.text


async def test_post_without_the_checkbox_rerenders_the_form(page: Page) -> None:
    token = page.token()
    data = {**VALID, "email": "not-an-email"}
    del data["agreed"]
    response = await page.http.post(f"/accept/{token}", data=data)
    assert response.status_code == 400
    assert "Please tick “I agree” to accept the terms." in response.text
    assert "Please enter your email address." in response.text
    assert 'value="Jonas Weber"' in response.text  # what was typed is kept
    assert await page.received() == []


async def _wait_received(page: Page) -> list[dict[str, Any]]:
    return await eventually(page.received, timeout=5.0, what="the stub to receive accept_terms")


async def test_valid_post_signals_and_redirects_and_double_submit_is_harmless(
    page: Page,
) -> None:
    token = page.token()
    response = await page.http.post(
        f"/accept/{token}", data=VALID, headers={"User-Agent": "Browser/1.0"}
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/accept/{token}/done")

    received = await _wait_received(page)
    assert len(received) == 1
    acceptance = received[0]
    assert acceptance["via"] == "page" and acceptance["agreed"] is True
    assert acceptance["name"] == "Jonas Weber" and acceptance["title"] == "CTO"
    assert acceptance["email"] == "jonas.weber@example.org"
    assert acceptance["ip"] == "127.0.0.1" and acceptance["user_agent"] == "Browser/1.0"

    done = await page.http.get(response.headers["location"])
    assert done.status_code == 200 and "Thank you" in done.text

    again = await page.http.post(f"/accept/{token}", data=VALID)
    assert again.status_code == 303
    assert len(await page.received()) == 1

    reopened = await page.http.get(f"/accept/{token}")
    assert reopened.status_code == 200
    assert "already been accepted" in reopened.text
    assert 'name="agreed"' not in reopened.text


async def test_an_oversized_post_is_refused_and_nothing_recorded(page: Page) -> None:
    token = page.token()
    response = await page.http.post(f"/accept/{token}", data={**VALID, "title": "x" * 20_000})
    assert response.status_code == 413 and "Nothing was recorded" in response.text
    assert await page.received() == []


async def test_behind_the_trusted_proxy_the_clients_address_is_recorded(page: Page) -> None:
    """`ip` is the customer's address from the proxy's X-Forwarded-For, and only from it."""
    proxied = page.settings.model_copy(update={"trusted_proxies": "127.0.0.1/32"})
    app = create_app(proxied, page.handle._client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        token = page.token()
        headers = {"X-Forwarded-For": "203.0.113.7, 127.0.0.1"}
        response = await http.post(f"/accept/{token}", data=VALID, headers=headers)
        assert response.status_code == 303
    [acceptance] = await _wait_received(page)
    assert acceptance["ip"] == "203.0.113.7"
