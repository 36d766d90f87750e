"""The pages in headless Chromium, served by uvicorn against the real dev server and worker:
the end customer accepts the terms, a reseller signs the one-time agreement, an operator
signs in, filters the task inbox and reads the finance board. Screenshots (1280 px wide,
full page) go to the test's tmp dir, or to docs/screenshots/ with
`PARTNERFLOW_UPDATE_SCREENSHOTS=1`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from models.links import make_token
from starters.web.app import create_app
from tests.starters.conftest import (
    OPERATOR,
    OPERATOR_PASSWORD,
    PagesStack,
    seed_finance_records,
    serve,
)

VIEWPORT = {"width": 1280, "height": 800}


async def _shot(page: Any, directory: Path, name: str) -> None:
    await page.screenshot(path=str(directory / name), full_page=True)


async def test_click_through_accept_sign_tasks_and_finance(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    settings = pages_stack.settings
    secret = settings.secret("link_secret")
    expires = datetime.now(UTC) + timedelta(days=7)
    order_id, order = await pages_stack.start("order")
    resale_id, _ = await pages_stack.start("authorized-resale")
    await pages_stack.task(order_id, "accept_terms")
    await pages_stack.complete(resale_id, "reach_out")
    await pages_stack.complete(resale_id, "approve_resale")
    sign = await pages_stack.task(resale_id, "sign_reseller_agreement")

    app = create_app(settings, pages_stack.client)
    async with serve(app) as base:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = await context.new_page()
        try:
            # The end customer accepts the subscription terms.
            await page.goto(
                f"{base}/accept/{make_token(secret, order_id, 'accept_terms', expires)}"
            )
            assert order["end_customer"]["legal_name"] in await page.content()
            await page.get_by_label("Job title").fill("Head of IT")
            await page.get_by_label("I agree").check()
            await _shot(page, screenshots, "accept.png")
            await page.get_by_role("button", name="Accept the terms").click()
            await page.wait_for_url("**/done")
            assert await page.get_by_role("heading", name="Thank you").is_visible()
            await pages_stack.task(order_id, "review_license")  # the order moved on

            # The reseller signs the one-time authorized reseller agreement.
            token = make_token(
                secret,
                resale_id,
                "sign_agreement",
                expires,
                subject=sign["example"]["agreement_id"],
            )
            await page.goto(f"{base}/sign/{token}")
            assert (
                await page.get_by_label("Full name").input_value() == sign["example"]["name"]
            )  # prefilled
            await page.get_by_label("Job title").fill("Managing Director")
            await page.get_by_label("I have read").check()
            await _shot(page, screenshots, "sign.png")
            await page.get_by_role("button", name="Sign the agreement").click()
            await page.wait_for_url("**/done")
            assert await page.get_by_role("heading", name="Thank you").is_visible()
            await pages_stack.task(resale_id, "submit_purchase_order")

            # An operator signs in (redirected from the inbox) and filters the task inbox.
            await page.goto(f"{base}/tasks")
            await page.wait_for_url("**/login?next=%2Ftasks")
            await page.get_by_label("Operator name").fill(OPERATOR)
            await _shot(page, screenshots, "login.png")
            await page.get_by_label("Password").fill(OPERATOR_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/tasks")
            await page.get_by_label("Assignee", exact=True).select_option("license_desk")
            await page.get_by_label("Process", exact=True).select_option("OrderFulfillment")
            await page.get_by_role("button", name="Apply filters").click()
            await page.wait_for_url("**/tasks?assignee=license_desk*")
            content = await page.content()
            assert order_id in content and "review_license" in content and resale_id not in content
            await _shot(page, screenshots, "tasks.png")

            # The license desk approves; finance reads the open invoice on the board.
            await pages_stack.complete(order_id, "review_license")
            await pages_stack.task(order_id, "record_payment")
            await pages_stack.visible(
                f'WorkflowId = "{order_id}" AND InvoiceStage = "open" AND InvoiceNumber IS NOT NULL'
            )
            seed_finance_records(settings)
            await page.get_by_role("link", name="Finance", exact=True).click()
            await page.wait_for_url(f"{base}/finance")
            open_table = page.locator("section[aria-labelledby=stage-open] table")
            assert order_id in await open_table.inner_text()
            await _shot(page, screenshots, "finance.png")
        finally:
            await context.close()
