"""The partner portal's directory listing in headless Chromium, served by uvicorn against the
real dev server and worker: a partner signs in from the emailed link (the outbox), edits its
listing with a logo, previews it and submits it for review, then asks for its evaluation
license and sees it issued. The screenshots go to the test's tmp dir, or to
docs/screenshots/portal-listing.png and portal-evaluation.png with
`PARTNERFLOW_UPDATE_SCREENSHOTS=1`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from models.directory import LISTING_DESCRIPTION
from starters.web.app import create_app
from tests.eventually import eventually
from tests.starters.conftest import PagesStack, serve
from tests.starters.test_portal_partner import start_listing
from tests.starters.test_portal_sign_in import sent_links

VIEWPORT = {"width": 1280, "height": 800}


def wordmark() -> bytes:
    """A 360 x 90 PNG logo with the partner's name on it."""
    import io

    from PIL import Image, ImageDraw

    logo = Image.new("RGB", (360, 90), "#0b3d5c")
    draw = ImageDraw.Draw(logo)
    draw.ellipse((16, 17, 72, 73), fill="#f2a900")
    draw.text((88, 30), "KESTREL SYSTEMS", fill="white", font_size=26)
    buffer = io.BytesIO()
    logo.save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_partner_previews_and_submits_its_listing_in_the_browser(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    partner_id, contact = await start_listing(pages_stack, "Kestrel Systems GmbH")
    app = create_app(pages_stack.settings, pages_stack.client)
    async with serve(app) as base:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = await context.new_page()
        try:
            await page.goto(f"{base}/portal")
            await page.get_by_label("Work email address").fill(contact)
            await page.get_by_role("button", name="Email me a sign-in link").click()
            await page.wait_for_load_state()
            [link] = [link for to, link in sent_links(pages_stack.settings) if to == contact]
            await page.goto(base + re.sub(r"^https?://[^/]+", "", link))
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/portal/home")

            async def asked() -> bool:
                await page.goto(f"{base}/portal/listing")
                return "Waiting for your listing" in await page.content()

            await eventually(asked, timeout=20, what="the listing waiting for the partner")
            assert (
                await page.get_by_role("link", name="Directory listing").get_attribute(
                    "aria-current"
                )
                == "page"
            )
            logo = {"name": "kestrel.png", "mimeType": "image/png", "buffer": wordmark()}
            await page.get_by_label("Partner name").fill("Kestrel Systems")
            await page.get_by_label("City").fill("Hamburg")
            await page.get_by_label("Country (two-letter code").fill("DE")
            await page.get_by_label("Website").fill("https://kestrel.example.com")
            await page.get_by_label("Description (30–100 words)").fill(
                LISTING_DESCRIPTION.replace("Nordlicht IT-Systemhaus GmbH", "Kestrel Systems")
            )
            await page.get_by_label("Logo (PNG or JPEG").set_input_files(logo)
            await page.get_by_role("button", name="Preview").click()
            await page.wait_for_load_state()
            assert await page.get_by_role("heading", name="Preview of your changes").is_visible()
            assert await page.get_by_role("img", name="Kestrel Systems logo").is_visible()
            await page.screenshot(path=str(screenshots / "portal-listing.png"), full_page=True)

            await page.get_by_label("Logo (PNG or JPEG").set_input_files(logo)
            await page.get_by_role("button", name="Submit the listing for review").click()
            await page.wait_for_load_state()
            status = page.get_by_role("heading", name="Received: your listing is submitted")
            assert await status.is_visible()
            assert "In review" in await page.content()

            # The evaluation license: asked for, approved by the license desk, downloadable.
            await page.get_by_role("link", name="Evaluation license").click()
            await page.get_by_role("button", name="Request the evaluation license").click()
            await page.wait_for_load_state()
            assert "Your request is received" in await page.content()
            workflow_id = f"eval-license-{partner_id}"
            pages_stack.started.append(workflow_id)
            await pages_stack.complete(workflow_id, "review_evaluation_license")

            async def licensed() -> bool:
                await page.goto(f"{base}/portal/evaluation")
                return "Request renewal" in await page.content()

            await eventually(licensed, timeout=30, what="the license on the portal")
            await page.screenshot(path=str(screenshots / "portal-evaluation.png"), full_page=True)
        finally:
            await context.close()
