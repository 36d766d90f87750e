"""The partner portal in headless Chromium: a partner contact asks for a sign-in link, opens
it from the outbox, signs in, sees what waits on it and opens a task's form. Screenshots go to
the test's tmp dir, or to docs/screenshots/ with `PARTNERFLOW_UPDATE_SCREENSHOTS=1`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starters.web.app import create_app
from tests.starters.conftest import PagesStack, serve
from tests.starters.test_portal_sign_in import sent_links
from tests.starters.test_portal_tasks import start_listing

VIEWPORT = {"width": 1280, "height": 800}


async def test_a_partner_signs_in_from_the_email_and_opens_its_task(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    contact = "lena.hoffmann@nordlicht.example"
    handle, partner_id = await start_listing(pages_stack, contact)
    await pages_stack.task(handle.id, "submit_listing")  # the task is open
    app = create_app(pages_stack.settings, pages_stack.client)
    async with serve(app) as base:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = await context.new_page()
        try:
            await page.goto(f"{base}/portal")
            await page.get_by_label("Work email address").fill(contact)
            await page.screenshot(path=str(screenshots / "portal-sign-in.png"), full_page=True)
            await page.get_by_role("button", name="Email me a sign-in link").click()
            assert await page.get_by_text("a sign-in link is on its way").is_visible()

            [link] = [link for to, link in sent_links(pages_stack.settings) if to == contact]
            await page.goto(re.sub(r"^https?://[^/]+", base, link))
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/portal/home")
            await page.get_by_role("link", name="Submit listing").wait_for()
            assert partner_id in await page.content()
            await page.screenshot(path=str(screenshots / "portal-home.png"), full_page=True)

            await page.get_by_role("link", name="Submit listing").click()
            await page.get_by_role("heading", name="Your answer").wait_for()
            await page.screenshot(path=str(screenshots / "portal-task.png"), full_page=True)

            await page.get_by_role("button", name="Sign out").click()
            await page.wait_for_url("**/portal")
            await page.goto(f"{base}/portal/home")
            assert page.url.endswith("/portal")  # signed out: back to sign-in
        finally:
            await context.close()
