"""The task inbox's form in headless Chromium against the real dev server and worker: an
operator signs in, opens a real order's `review_license` form, submits it and reads the
result. The screenshot of the open form goes to the test's tmp dir, or to docs/screenshots/
with `PARTNERFLOW_UPDATE_SCREENSHOTS=1`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.tasks import WorkflowStatus
from starters.web.app import create_app
from starters.web.task_page import task_url
from tests.starters.conftest import OPERATOR, OPERATOR_PASSWORD, PagesStack, serve


async def test_an_operator_completes_a_task_from_the_inbox_form(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    workflow_id, _ = await pages_stack.start("order")
    await pages_stack.complete(workflow_id, "accept_terms")
    await pages_stack.task(workflow_id, "review_license")
    await pages_stack.visible(f'WorkflowId = "{workflow_id}" AND PendingTask = "review_license"')

    async with serve(create_app(pages_stack.settings, pages_stack.client)) as base:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        try:
            await page.goto(f"{base}/tasks?q={workflow_id}")
            await page.get_by_label("Operator name").fill(OPERATOR)
            await page.get_by_label("Password").fill(OPERATOR_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/tasks?q={workflow_id}")

            await page.locator("summary", has_text="Complete this task").click()
            assert await page.get_by_label("Decision").input_value() == "approve"  # example
            await page.get_by_label("Notes").fill("Order checked against the reseller terms.")
            await page.screenshot(path=str(screenshots / "task-inbox-form.png"), full_page=True)
            await page.get_by_role("button", name="Complete the task").click()

            await page.wait_for_url(f"{base}{task_url(workflow_id, 'review_license')}")
            await page.get_by_role("heading", name="Done: approve").wait_for()
            result = await page.get_by_role("status").inner_text()
            assert "Decided by" in result and OPERATOR in result and "record_payment" in result
        finally:
            await context.close()
    handle = pages_stack.client.get_workflow_handle(workflow_id)
    status = await handle.query("status", result_type=WorkflowStatus)
    assert [t.task for t in status.pending_tasks] == ["record_payment"]
