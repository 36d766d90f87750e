"""Fixtures of the operator-page tests: settings with one operator, a real worker
on the dev server, helpers that drive a real order, sign in, and a headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from models.forms import FORMS
from models.settings import Settings
from starters.intake import submit_form
from starters.order_prerequisites import seed_order_example
from starters.web.operators import hash_password
from tests.browser import chromium_or_reason
from tests.eventually import eventually
from tests.workflows.harness import pending

OPERATOR = "anna"
OPERATOR_PASSWORD = "anna-correct-horse"


def pages_settings_for(tmp_path: Path, env: WorkflowEnvironment, **overrides: Any) -> Settings:
    from activities.database import migrate

    data = tmp_path / "data"
    values: dict[str, Any] = {
        "PARTNERFLOW_DATA_DIR": data,
        "DATABASE_URL": f"sqlite:///{data / 'records.db'}",
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": f"pages-{uuid.uuid4().hex[:8]}",
        "PARTNERFLOW_WEBHOOK_SECRET": "pages-webhook-secret",
        "PARTNERFLOW_LINK_SECRET": "pages-link-secret",
        "PARTNERFLOW_SESSION_SECRET": "pages-session-secret",
        "PARTNERFLOW_OPERATORS": f"{OPERATOR}:{hash_password(OPERATOR_PASSWORD, iterations=1_000)}",
        **overrides,
    }
    settings = Settings(**values, _env_file=None)
    data.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url)
    return settings


@pytest.fixture
def pages_settings(tmp_path: Path, local_env: WorkflowEnvironment) -> Settings:
    return pages_settings_for(tmp_path, local_env)


@pytest_asyncio.fixture
async def pages_stack(
    local_env: WorkflowEnvironment, pages_settings: Settings
) -> AsyncIterator[PagesStack]:
    """A real worker (workers.main.build_worker) on its own task queue; what the test
    started is terminated afterwards."""
    from workers.main import build_worker

    stack = PagesStack(local_env.client, pages_settings)
    async with build_worker(local_env.client, pages_settings):
        try:
            yield stack
        finally:
            for workflow_id in dict.fromkeys(stack.started):
                with contextlib.suppress(Exception):
                    await local_env.client.get_workflow_handle(workflow_id).terminate("test over")


@pytest_asyncio.fixture
async def web(pages_stack: PagesStack) -> AsyncIterator[httpx.AsyncClient]:
    """The web app on the pages stack, in process (not signed in; failed logins are quick)."""
    from starters.web.app import create_app

    app = create_app(pages_stack.settings, pages_stack.client)
    app.state.login_failure_delay = 0.01
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


class PagesStack:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.started: list[str] = []

    async def start(self, form: str, **changes: Any) -> tuple[str, dict[str, Any]]:
        payload = {**FORMS[form].fresh_example(), **changes}
        if form == "order":  # the example's prerequisites: an active VAR, its registration
            seed_order_example(self.settings)
        result = await submit_form(self.client, self.settings, form, payload)
        assert result.status_code in (200, 202), result.body
        workflow_id = result.body["workflow_id"]
        self.started.append(workflow_id)
        return workflow_id, payload

    async def task(self, workflow_id: str, task: str) -> dict[str, Any]:
        return await pending(self.client.get_workflow_handle(workflow_id), task)

    async def complete(self, workflow_id: str, task: str, **changes: Any) -> dict[str, Any]:
        pending = await self.task(workflow_id, task)
        await self.client.get_workflow_handle(workflow_id).signal(
            pending["handler"], {**pending["example"], **changes}
        )
        return pending

    async def visible(self, query: str, timeout: float = 15.0) -> Any:
        async def found() -> list[Any]:
            return [w async for w in self.client.list_workflows(query)]

        matches = await eventually(found, timeout=timeout, interval=0.1, what=query)
        return matches[0]

    async def order_with_open_invoice(self) -> tuple[str, dict[str, Any]]:
        """A real order driven to its open invoice (local billing): terms accepted, license
        approved. Returns the workflow id and the pending `record_payment` task."""
        workflow_id, _ = await self.start("order")
        await self.complete(workflow_id, "accept_terms")
        await self.complete(workflow_id, "review_license")
        payment = await self.task(workflow_id, "record_payment")
        await self.visible(
            f'WorkflowId = "{workflow_id}" AND InvoiceStage = "open" AND InvoiceNumber IS NOT NULL'
        )
        return workflow_id, payment


def login_form_fields(page_html: str) -> dict[str, str]:
    """The hidden fields (csrf, next) of the login form."""
    return {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)"', page_html
        )
    }


async def sign_in(
    web: httpx.AsyncClient,
    name: str = OPERATOR,
    password: str = OPERATOR_PASSWORD,
    next_url: str = "/tasks",
) -> httpx.Response:
    page = await web.get("/login", params={"next": next_url})
    fields = login_form_fields(page.text)
    return await web.post("/login", data={**fields, "name": name, "password": password})


# --- browser -------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium through Playwright (skipped, with the reason, when unavailable); one
    per test process, each test in a context of its own."""
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
    path, reason = chromium_or_reason()
    if path is None:
        pytest.skip(reason)
    async with async_api.async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield instance
        finally:
            await instance.close()


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve the ASGI app with uvicorn on a free local port; yields its base URL."""
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=4.0, what="the app server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the browser tests save screenshots: the test's tmp dir, or `docs/screenshots/`
    (the ones the README shows) with `PARTNERFLOW_UPDATE_SCREENSHOTS=1`, so a test run does
    not change tracked files."""
    if os.environ.get("PARTNERFLOW_UPDATE_SCREENSHOTS") == "1":
        path = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    else:
        path = tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_finance_records(settings: Settings) -> None:
    """Two referral fees (one payable, one paid) and a Hosting Partner's monthly report with
    its revenue share, written by the real record activities."""
    from datetime import UTC, datetime

    from activities.deals import DealActivities
    from activities.rocketchat_records import RocketChatRecordActivities
    from models.deals import ReferralFeeRecord
    from models.revenue_share import revenue_share
    from models.rocketchat import SalesReport, SalesReportRecord

    deals = DealActivities(settings)
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for number, cents, status in (
        ("DR-2026-000101", 240000, "payable"),
        ("DR-2026-000102", 123456, "paid"),
    ):
        deals.record_referral_fee(
            ReferralFeeRecord(
                deal_number=number, workflow_id=f"deal-{number}", partner_id="nordlicht-it",
                amount_cents=cents, note=f"Referral fee for deal registration {number}",
                status=status,
                reference="WIRE-RF-1" if status == "paid" else None, at=at,
            )
        )  # fmt: skip
    report = SalesReport(
        month="2026-02",
        submitted_by="ops@hostpartner.example",
        deals_closed=2,
        sales_closed_cents=1_000_000,
        prospective_sales=1,
        hosting_revenue_cents=1_000_001,
        share_statistics=True,
    )
    share = revenue_share("hosting", report)
    RocketChatRecordActivities(settings).record_sales_report(
        SalesReportRecord(
            idempotency_key="rc-partnership-hostpartner:report:2026-02", partner_id="hostpartner",
            workflow_id="rc-partnership-hostpartner", month="2026-02", partner_type="hosting",
            report=report.model_dump(mode="json"), share=share.model_dump(mode="json"),
            owed_to_rocketchat_cents=share.owed_to_rocketchat_cents, submitted_at=at,
        )
    )  # fmt: skip
