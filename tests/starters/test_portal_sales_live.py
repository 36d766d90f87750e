"""The portal's deal registration on the dev server with a real worker: the form's refusals
by field (nothing registered), a partner that is not a Value-Added Reseller refused, a
registration that starts DealRegistration with the session's partner id and whose page then
explains the channel conflict without naming the other partner; and, in headless Chromium,
signing in from the outbox link, the deals page and a printable invoice (screenshots)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from activities.deals import DealActivities, get_registration
from models.deals import DealRecord
from starters.web.app import create_app
from tests.eventually import eventually
from tests.starters.conftest import PagesStack, serve
from tests.starters.test_portal_sales import add_var, csrf_of, seed_sales
from tests.starters.test_portal_sign_in import sent_links
from tests.starters.test_portal_tasks import signed_in
from tests.starters.test_sales_end_to_end import offset_deal_numbers
from tests.workflows.harness import uid

CUSTOMER = "Hanse Logistik AG"


def form_fields(csrf: str, **changes: str) -> dict[str, str]:
    fields = {
        "_csrf": csrf,
        "registered_by.name": "Lena Hoffmann",
        "registered_by.email": "lena@nordlicht.example",
        "end_customer.legal_name": CUSTOMER,
        "end_customer.address.line1": "Am Sandtorkai 50",
        "end_customer.address.city": "Hamburg",
        "end_customer.address.postal_code": "20457",
        "end_customer.address.country": "DE",
        "end_customer.contact.name": "Jonas Weber",
        "end_customer.contact.email": "jonas.weber@hanse-logistik.example",
        "sku": "MM-ENT-1Y",
        "product": "Mattermost Enterprise, 1 year",
        "seats": "250",
        "list_unit_price_cents": "12000",
        "expected_close_date": "2027-03-31",
        "partner_id": "somebody-else",  # ignored: the partner is the session's
    }
    return {**fields, **changes}


async def test_a_var_registers_a_deal_in_the_portal(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    stack, settings = pages_stack, pages_stack.settings
    offset_deal_numbers(settings)  # the dev server is shared: deal workflow ids never collide
    mine, theirs, seller = f"nordlicht-{uid()}", f"hafenwerk-{uid()}", f"resale-{uid()}"
    add_var(settings, "mattermost", mine, f"lena@{mine}.example", "Nordlicht IT GmbH")
    add_var(settings, "mattermost", theirs, f"max@{theirs}.example", "Hafenwerk Systems AG")
    # the other partner registered the same opportunity first (in review)
    from datetime import UTC, datetime

    DealActivities(settings).record_deal(
        DealRecord(
            deal_number="DR-2026-000901", workflow_id="deal-DR-2026-000901", partner_id=theirs,
            partner_company="Hafenwerk Systems AG", end_customer_name=CUSTOMER,
            contact_email="it@hanse-logistik.example", sku="MM-ENT-1Y", status="in_review",
            at=datetime.now(UTC),
        )
    )  # fmt: skip
    me = await signed_in(web._transport, stack, f"lena@{mine}.example")
    other = await signed_in(web._transport, stack, f"max@{theirs}.example")
    csrf = csrf_of((await me.get("/portal/deals/new")).text)

    refused = await me.post(
        "/portal/deals/new",
        data=form_fields(
            csrf,
            seats="0",
            **{
                "end_customer.address.country": "XX",
                "end_customer.contact.email": "not-an-address",
            },
        ),  # fmt: skip
    )
    assert refused.status_code == 422, refused.text
    assert "Nothing was registered" in refused.text
    for field, words in (
        ("f-seats-error", "greater than 0"),
        ("f-end-customer-address-country-error", "country code"),
        ("f-end-customer-contact-email-error", "email"),
    ):
        assert re.search(rf'id="{field}">[^<]*{words}', refused.text), field
    assert 'value="XX"' in refused.text  # the form keeps what was typed

    # a Mattermost partner that is not a Value-Added Reseller: the form's rule, by the partner
    from tests.starters.test_portal_sign_in import add_partner

    add_partner(settings, "mattermost", seller, f"ops@{seller}.example")
    reseller = await signed_in(web._transport, stack, f"ops@{seller}.example")
    not_var = await reseller.post(
        "/portal/deals/new",
        data=form_fields(csrf_of((await reseller.get("/portal/deals/new")).text)),
    )
    assert not_var.status_code == 422 and "not a Mattermost Value-Added Reseller" in not_var.text

    done = await me.post("/portal/deals/new", data=form_fields(csrf))
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    deal_number = re.fullmatch(r"/portal/deals/(DR-\d{4}-\d{6})\?registered=1", location)
    assert deal_number, location
    number = deal_number.group(1)
    stack.started.append(f"deal-{number}")
    page = await me.get(location)
    assert page.status_code == 200 and "Your registration was received" in page.text

    async def explained() -> str | None:
        text = (await me.get(f"/portal/deals/{number}")).text
        return text if "Another partner has a registration" in text else None

    text = await eventually(explained, timeout=30, what="the conflict on the deal's page")
    assert "Hafenwerk" not in text and "DR-2026-000901" not in text and theirs not in text
    registration = get_registration(settings, number)
    assert registration is not None and registration.partner_id == mine  # the session's
    listed = (await me.get("/portal/deals")).text
    assert number in listed

    # the other partner: 404, nothing of the deal
    for answer in (await other.get(f"/portal/deals/{number}"), await other.get("/portal/deals")):
        assert number not in answer.text and "Nordlicht" not in answer.text
    assert (await other.get(f"/portal/deals/{number}")).status_code == 404
    for client in (me, other, reseller):
        await client.aclose()


VIEWPORT = {"width": 1280, "height": 800}


async def test_browser_deals_and_invoice(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    settings = pages_stack.settings
    offset_deal_numbers(settings)  # the dev server is shared: deal workflow ids never collide
    partner = f"nordlicht-{uid()}"
    email = f"lena@{partner}.example"
    add_var(settings, "mattermost", partner, email, "Nordlicht IT GmbH")
    invoice_id = f"in_{uid()}"
    seed_sales(settings, partner, "Nordlicht IT GmbH", CUSTOMER, "DR-2026-000777", invoice_id,
               f"LIC-{uid()}", fee_deal="DR-2026-000778")  # fmt: skip
    app = create_app(settings, pages_stack.client)
    async with serve(app) as base:
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        page = await context.new_page()
        try:
            await page.goto(f"{base}/portal")
            await page.get_by_label("Email").fill(email)
            await page.get_by_role("button", name="Email me a sign-in link").click()
            await page.get_by_text("a sign-in link is on its way").wait_for()
            [link] = [link for to, link in sent_links(settings) if to == email]
            await page.goto(base + re.sub(r"^https?://[^/]+", "", link))
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url("**/portal/home")

            await page.get_by_role("link", name="Deals").click()
            await page.wait_for_url("**/portal/deals")
            assert await page.get_by_role("heading", name="Deals", exact=True).is_visible()
            assert "Referral fee for deal registration DR-2026-000778" in await page.content()
            await page.screenshot(path=str(screenshots / "portal-deals.png"), full_page=True)

            # register a deal with the form (no JavaScript needed), then back to the list
            await page.get_by_role("link", name="Register a deal").click()
            for label, value in (
                ("Your name", "Lena Hoffmann"),
                ("Legal name", "Werft Bremen GmbH"),
                ("Street address", "Am Hafen 1"),
                ("City", "Bremen"),
                ("Country", "DE"),
                ("Contact name", "Jonas Weber"),
                ("Contact email", "jonas@werft-bremen.example"),
                ("Seats", "120"),
                ("List price per seat per year (cents)", "12000"),
                ("Expected close date", "2027-03-31"),
            ):
                await page.get_by_label(label, exact=True).fill(value)
            await page.get_by_role("button", name="Register the deal").click()
            await page.wait_for_url(re.compile(r".*/portal/deals/DR-\d{4}-\d{6}\?registered=1$"))
            number = page.url.split("/portal/deals/")[1].split("?")[0]
            pages_stack.started.append(f"deal-{number}")
            assert await page.get_by_text("Your registration was received").is_visible()
            await page.goto(f"{base}/portal/deals")
            assert number in await page.content()

            await page.get_by_role("link", name="Orders and invoices").click()
            await page.wait_for_url("**/portal/orders")
            await page.get_by_role("link", name=f"INV-{invoice_id[-8:]}").click()
            await page.wait_for_url(f"**/portal/invoices/{invoice_id}")
            await page.emulate_media(media="print")
            assert not await page.get_by_role("navigation", name="Partner portal").is_visible()
            await page.emulate_media(media="screen")
            await page.screenshot(path=str(screenshots / "portal-invoice.png"), full_page=True)
        finally:
            await context.close()


async def test_a_real_order_and_its_invoice_on_the_resellers_portal(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    """The `order` form's order, driven to its open invoice, is on its reseller's orders page
    (recorded with the reseller's partner id) with the invoice's stage, and only there."""
    from activities import portal_access
    from activities.records import get_order

    workflow_id, _ = await pages_stack.order_with_open_invoice()
    settings = pages_stack.settings
    order_id = workflow_id.removeprefix("order-")
    recorded = get_order(settings, order_id)
    assert recorded is not None and recorded.reseller_partner_id == "nordlicht-it"
    portal_access.add_contact(
        settings, "mattermost", "nordlicht-it", "buyer@nordlicht-it.example", name="B", by="ops"
    )
    other = f"hafenwerk-{uid()}"
    add_var(settings, "mattermost", other, f"max@{other}.example", "Hafenwerk Systems AG")
    me = await signed_in(web._transport, pages_stack, "buyer@nordlicht-it.example")
    them = await signed_in(web._transport, pages_stack, f"max@{other}.example")

    async def invoiced() -> str | None:
        text = (await me.get("/portal/orders")).text
        return text if "Open (awaiting payment)" in text else None

    text = await eventually(invoiced, timeout=20, what="the open invoice on the orders page")
    assert f"Order {order_id}" in text
    invoice = re.search(r'href="(/portal/invoices/[^"]+)"', text)
    assert invoice, text
    page = await me.get(invoice.group(1))
    assert page.status_code == 200 and "Amount due" in page.text
    foreign = await them.get(invoice.group(1))
    assert foreign.status_code == 404 and order_id not in foreign.text
    assert order_id not in (await them.get("/portal/orders")).text
    for client in (me, them):
        await client.aclose()
