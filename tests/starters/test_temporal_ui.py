"""The Temporal Web UI itself, driven in Chromium: an operator starts an
`OrderFulfillment` with *Start Workflow* (task queue `partnerflow`, the JSON of
`docs/ui-inputs/OrderFulfillment.json`), finds it with a saved query
(`PendingTask = "accept_terms"`), reads what it waits for in *Current Details*, and completes
the step with *Send a Signal* (`accept_terms` with the example from `pending_tasks`).

Runs its own dev server WITH the UI (the session fixture has none) and a real worker.
Screenshots are taken with `PARTNERFLOW_UPDATE_SCREENSHOTS=1` and copied to `docs/screenshots/`
(the ones `docs/temporal-ui.md` embeds); a failure always leaves one in the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from tests.conftest import _binary
from tests.eventually import eventually
from workers.main import build_worker
from workflows.search_attributes import ALL_KEYS

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is not installed"
)
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
UI_INPUT = ROOT / "docs" / "ui-inputs" / "OrderFulfillment.json"
VIEWPORT = {"width": 1440, "height": 900}
WAIT_MS = 15_000
TASK_QUEUE = "partnerflow"  # what operators type into Start Workflow
UPDATE_SCREENSHOTS = os.environ.get("PARTNERFLOW_UPDATE_SCREENSHOTS") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest_asyncio.fixture(scope="module")
async def ui_env() -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """A dev server with the Web UI on a free port: (environment, UI base URL)."""
    port = _free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=ALL_KEYS,
        ui=True,
        ui_port=port,
    )
    try:
        yield env, f"http://127.0.0.1:{port}"
    finally:
        await env.shutdown()


@pytest_asyncio.fixture
async def running(
    ui_env: tuple[WorkflowEnvironment, str], settings: Settings
) -> AsyncIterator[Client]:
    env, _ = ui_env
    async with build_worker(env.client, settings, task_queue=TASK_QUEUE):
        yield env.client


async def _until(probe: Any, what: str, timeout: float = 15.0) -> Any:
    return await eventually(probe, timeout=timeout, interval=0.1, what=what)


@contextlib.asynccontextmanager
async def ui_page(browser: Any) -> AsyncIterator[Any]:
    """A page in a browser context of its own (the test process shares one Chromium)."""
    context = await browser.new_context(viewport=VIEWPORT)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def current_details(page: Any, stage: str) -> Any:
    """The body of the *Current Details* markdown (the UI renders it in an iframe whose
    address carries the markdown) for the given stage."""
    frame = page.locator(f"iframe[src*='/render'][src*='{stage}'] >> visible=true").first
    return frame.content_frame.locator("body")


def visible(page: Any, css: str, text: str) -> Any:
    """The first visible `css` element containing `text` (the UI keeps hidden copies)."""
    return page.locator(f"{css} >> visible=true").filter(has_text=text).first


async def _status(handle: WorkflowHandle) -> dict[str, Any]:
    return await handle.query("status")


async def test_start_and_signal_an_order_from_the_temporal_ui(
    ui_env: tuple[WorkflowEnvironment, str], running: Client, browser: Any, tmp_path: Path
) -> None:
    _, ui = ui_env
    client = running
    data = json.loads(UI_INPUT.read_text())
    data["order_id"] = f"ORD-UI-{uuid.uuid4().hex[:8].upper()}"
    workflow_id = f"order-{data['order_id']}"
    shots: list[Path] = []

    async def shot(page: Any, name: str) -> None:
        if UPDATE_SCREENSHOTS:  # ~0.4 s each; a failure takes its own screenshot regardless
            path = tmp_path / name
            await page.screenshot(path=str(path))
            shots.append(path)

    async with ui_page(browser) as page:
        try:
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)

            # 1. Workflows → Start Workflow: id, task queue, type, the JSON input (json/plain).
            await page.goto(f"{ui}/namespaces/default/workflows")
            start = page.get_by_role("link", name="Start Workflow").or_(
                page.get_by_role("button", name="Start Workflow")
            )
            await start.first.click()
            await page.locator("#workflowId").fill(workflow_id)
            await page.locator("#taskQueue").fill(TASK_QUEUE)
            await page.locator("#workflowType").fill("OrderFulfillment")
            editor = page.get_by_role("textbox", name="Data")
            await editor.fill(json.dumps(data, indent=2, ensure_ascii=False))
            await editor.blur()
            await expect(page.locator("input[id='json/plain']")).to_be_checked()
            await shot(page, "temporal-ui-start.png")
            await page.get_by_test_id("start-workflow-button").click()
            await expect(
                page.get_by_role("link", name="Workflow started successfully")
            ).to_be_visible()

            handle = client.get_workflow_handle(workflow_id)

            async def accept_terms_pending() -> dict[str, Any] | None:
                status = await _status(handle)
                return next(
                    (t for t in status["pending_tasks"] if t["task"] == "accept_terms"), None
                )

            task = await _until(accept_terms_pending, "accept_terms to be pending")
            assert (await _status(handle))["stage"] == "awaiting_acceptance"

            # 2. A saved query of the end-customer desk lists it.
            query = 'PendingTask = "accept_terms"'
            assert (await client.count_workflows(query)).count >= 1
            await page.goto(f"{ui}/namespaces/default/workflows?query={quote(query)}")
            await expect(page.get_by_role("link", name=workflow_id)).to_be_visible()
            await shot(page, "temporal-ui-saved-query.png")

            # 3. The workflow: Current Details say what it waits for and which signal to send.
            await page.get_by_role("link", name=workflow_id).click()
            await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
            await page.get_by_test_id("user-metadata-tab").click()
            current = current_details(page, "awaiting_acceptance")
            await expect(current).to_contain_text("Stage: awaiting_acceptance")
            await expect(current).to_contain_text("Send an Update accept_terms with:")
            await expect(current).to_contain_text('"agreed": true')
            await shot(page, "temporal-ui-workflow.png")

            # 4. More Actions → Send a Signal: accept_terms with the published example.
            await page.locator("button:has-text('More Actions') >> visible=true").first.click()
            await page.locator("[data-testid=signal-button] >> visible=true").click()
            dialog = page.locator("dialog[open]")
            await dialog.get_by_role("button", name="Select a signal").click()
            await page.get_by_role("option", name="accept_terms", exact=True).click()
            signal_data = dialog.get_by_role("textbox", name="Data")
            await signal_data.fill(json.dumps(task["example"]))
            await signal_data.blur()  # the UI re-formats the JSON on blur: settle before Submit
            await expect(signal_data).to_contain_text('"agreed": true')
            await shot(page, "temporal-ui-signal.png")
            await dialog.get_by_test_id("confirm-modal-button").click()
            await expect(page.locator("dialog[open]")).to_have_count(0)

            # The stage changes: in the status query, and in the UI.
            async def moved_on() -> str | None:
                stage = (await _status(handle))["stage"]
                return stage if stage != "awaiting_acceptance" else None

            stage = await _until(moved_on, "the stage to change after accept_terms")
            assert stage in ("license_review", "licensing", "invoiced"), stage
            history = (await _status(handle))["history"]
            assert any(h["step"] == "accept_terms" and h["event"] == "accepted" for h in history), (
                history[-3:]
            )
            await page.reload()
            await page.get_by_test_id("search-attributes-tab").click()
            await expect(visible(page, "*", f'"Stage": "{stage}"')).to_be_visible()
            await shot(page, "temporal-ui-after-signal.png")
        except BaseException:
            await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            with contextlib.suppress(Exception):  # not started, or already closed
                await client.get_workflow_handle(workflow_id).terminate("test_temporal_ui: done")

    if UPDATE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copyfile(path, SCREENSHOTS / path.name)


async def test_send_an_update_from_the_temporal_ui(
    ui_env: tuple[WorkflowEnvironment, str], running: Client, browser: Any, tmp_path: Path
) -> None:
    """More Actions → Send an Update: the update is offered by name (with its description);
    a wrong input keeps the modal open with the validator's message and records nothing; the
    published example is accepted and the stage changes."""
    from tests.factories import order_input
    from workflows.order_fulfillment import OrderFulfillment

    _, ui = ui_env
    client = running
    order = order_input()
    workflow_id = f"order-{order.order_id}"
    handle = await client.start_workflow(
        OrderFulfillment.run, order, id=workflow_id, task_queue=TASK_QUEUE
    )
    shots: list[Path] = []

    async def shot(page: Any, name: str) -> None:
        if UPDATE_SCREENSHOTS:  # ~0.4 s each; a failure takes its own screenshot regardless
            path = tmp_path / name
            await page.screenshot(path=str(path))
            shots.append(path)

    async def accept_terms_pending() -> dict[str, Any] | None:
        status = await _status(handle)
        return next((t for t in status["pending_tasks"] if t["task"] == "accept_terms"), None)

    task = await _until(accept_terms_pending, "accept_terms to be pending")
    assert task["kind"] == "update"

    async with ui_page(browser) as page:
        try:
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)
            await page.goto(f"{ui}/namespaces/default/workflows/{workflow_id}")
            await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
            await page.locator("button:has-text('More Actions') >> visible=true").first.click()
            await page.locator("[data-testid=update-button] >> visible=true").click()
            dialog = page.locator("dialog[open]")
            await dialog.get_by_test_id("update-select-button").click()
            option = page.get_by_role("option", name="accept_terms").first
            await expect(option).to_contain_text("Enterprise Subscription Terms")
            await option.click()
            data = dialog.get_by_role("textbox", name="Data")
            wrong = {k: v for k, v in task["example"].items() if k != "email"}
            await data.fill(json.dumps(wrong))
            await data.blur()
            history = len([e async for e in handle.fetch_history_events()])
            await dialog.get_by_test_id("confirm-modal-button").click()
            await expect(dialog).to_contain_text("accept_terms rejected: email: Field required")
            await expect(page.locator("dialog[open]")).to_have_count(1)
            await shot(page, "temporal-ui-update-rejected.png")
            assert len([e async for e in handle.fetch_history_events()]) == history
            assert (await _status(handle))["stage"] == "awaiting_acceptance"

            await data.fill(json.dumps(task["example"]))
            await data.blur()
            await dialog.get_by_test_id("confirm-modal-button").click()
            await expect(page.locator("dialog[open]")).to_have_count(0)
            await expect(page.get_by_text("Update successful").first).to_be_visible()
            await shot(page, "temporal-ui-update-accepted.png")
            assert (await _status(handle))["stage"] == "license_review"
        except BaseException:
            await page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"failure screenshot: {tmp_path / 'failure.png'}")
            raise
        finally:
            with contextlib.suppress(Exception):
                await handle.terminate("test_temporal_ui: done")

    if UPDATE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copyfile(path, SCREENSHOTS / path.name)
