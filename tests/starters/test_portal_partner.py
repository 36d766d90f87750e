"""The partner portal's directory listing and evaluation license pages (issue 15, item 3) on
the dev server: the partner edits its listing with a logo (refused, then accepted through
the `submit_listing` update), previews it and reads its review status; it asks for its
evaluation license, downloads the file and asks for the renewal. Another partner, and the
same partner id in Rocket.Chat, get 404 with nothing of the first partner in the body."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.testing import ActivityEnvironment

from activities.partners import PartnerActivities
from models.contracts import PartnerRecord
from models.directory import LISTING_DESCRIPTION
from models.settings import Settings
from starters.web.app import create_app
from tests.eventually import eventually
from tests.logos import png
from tests.starters.conftest import PagesStack
from tests.starters.test_portal_sign_in import BASE, add_partner, sent_links, settings_for, sign_in
from tests.starters.test_portal_tasks import csrf_of, signed_in
from tests.workflows.harness import uid
from tests.workflows.test_directory_listing import listing_input

ROUTES = (
    "/portal/listing",
    "/portal/evaluation",
)


def add_var(settings: Settings, partner_id: str, company: str, domain: str) -> str:
    """An active Mattermost VAR whose own contact is `lena@{domain}`; the contact's email."""
    contact = f"lena@{domain}"
    record = PartnerRecord(
        partner_id=partner_id, program="mattermost", partner_type="value_added_reseller",
        company=company, country="DE", website=f"https://www.{domain}",
        contact_name="Lena Hoffmann", contact_email=contact, status="active",
        at=datetime.now(UTC),
    )  # fmt: skip
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)
    return contact


async def start_listing(stack: PagesStack, company: str) -> tuple[str, str]:
    """A DirectoryListing for a new partner named `company`: (partner id, contact email)."""
    data = listing_input().model_copy(update={"company": company})
    contact = add_var(stack.settings, data.partner_id, company, f"{data.partner_id}.example")
    workflow_id = f"directory-{data.partner_id}"
    await stack.client.start_workflow(
        "DirectoryListing", data, id=workflow_id, task_queue=stack.settings.temporal_task_queue
    )
    stack.started.append(workflow_id)
    return data.partner_id, contact


def listing_form(page: str, **changes: Any) -> dict[str, Any]:
    return {
        "_csrf": csrf_of(page),
        "action": "submit",
        "name": "Kestrel Systems",
        "description": LISTING_DESCRIPTION,
        "city": "Hamburg",
        "state": "",
        "country": "DE",
        "website": "https://kestrel.example.com",
        **changes,
    }


def assert_nothing_of(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 404, (response.status_code, response.text[:400])
    for secret in secrets:
        assert secret not in response.text, secret


async def rocketchat_twin(web: httpx.AsyncClient, stack: PagesStack, partner_id: str) -> Any:
    """A Rocket.Chat partner with the same id, signed in."""
    email = f"twin-{uid()}@rc.example"
    add_partner(stack.settings, "rocketchat", partner_id, email)
    return await signed_in(web._transport, stack, email)


async def test_a_partner_edits_previews_and_submits_its_listing(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    stack = pages_stack
    my_id, my_contact = await start_listing(stack, "Kestrel Systems GmbH")
    _, their_contact = await start_listing(stack, "Osprey Networks AG")
    me = await signed_in(web._transport, stack, my_contact)
    other = await signed_in(web._transport, stack, their_contact)

    async def asked() -> str | None:
        page = (await me.get("/portal/listing")).text
        return page if "Waiting for your listing" in page else None

    page = await eventually(asked, timeout=20, what="the listing waiting for the partner")
    assert 'aria-current="page"' in page and "Submit your listing below" in page

    # a logo narrower than 200 px is refused, with the field named; nothing is submitted
    narrow = {"logo": ("logo.png", png(120, 40), "image/png")}
    refused = await me.post("/portal/listing", data=listing_form(page), files=narrow)
    assert refused.status_code == 400, refused.text
    assert 'id="logo-error"' in refused.text and "200" in refused.text
    not_an_image = {"logo": ("logo.png", b"GIF89a not a png", "image/png")}
    refused = await me.post("/portal/listing", data=listing_form(page), files=not_an_image)
    assert refused.status_code == 400 and 'id="logo-error"' in refused.text
    # a wrong field is refused too, by name
    short = listing_form(page, description="Too short.")
    refused = await me.post("/portal/listing", data=short, files=narrow)
    assert refused.status_code == 400 and 'id="description-error"' in refused.text

    # the preview shows the listing as the directory will, and submits nothing
    logo = png(240, 60)
    files = {"logo": ("logo.png", logo, "image/png")}
    preview = await me.post(
        "/portal/listing", data=listing_form(page, action="preview"), files=files
    )
    assert preview.status_code == 200, preview.text
    assert "Preview of your changes" in preview.text and "data:image/png;base64," in preview.text
    assert "Waiting for your listing" in preview.text  # still

    forged = await me.post("/portal/listing", data=listing_form(page, _csrf="x"), files=files)
    assert forged.status_code == 403

    accepted = await me.post("/portal/listing", data=listing_form(page), files=files)
    assert accepted.status_code == 200, accepted.text
    assert "Received: your listing is submitted" in accepted.text
    assert "listing review" in accepted.text
    assert "In review" in accepted.text and "Kestrel Systems" in accepted.text
    [logo_url] = re.findall(r'src="(/portal/listing/logo/[0-9a-f]+)"', accepted.text)
    image = await me.get(logo_url)
    assert image.status_code == 200 and image.content == logo
    assert image.headers["content-type"] == "image/png"
    # under review: no second submission
    again = await me.post("/portal/listing", data=listing_form(page), files=files)
    assert again.status_code == 409 and "being reviewed" in again.text

    # the other partner: its own page, nothing of the first; the first's logo is 404
    theirs = await other.get("/portal/listing")
    assert theirs.status_code == 200 and "Osprey" in theirs.text
    assert "Kestrel" not in theirs.text and my_id not in theirs.text
    assert_nothing_of(await other.get(logo_url), my_id, "Kestrel")
    assert_nothing_of(await me.get("/portal/listing/logo/" + "0" * 32))
    # the same partner id in Rocket.Chat: every route is 404
    twin = await rocketchat_twin(web, stack, my_id)
    for route in (*ROUTES, logo_url):
        assert_nothing_of(await twin.get(route), "Kestrel")
    post = await twin.post("/portal/listing", data=listing_form(page), files=files)
    assert post.status_code in (403, 404) and "Kestrel" not in post.text
    for client in (me, other, twin):
        await client.aclose()


async def test_a_partner_requests_downloads_and_renews_its_evaluation_license(
    pages_stack: PagesStack, web: httpx.AsyncClient
) -> None:
    stack = pages_stack
    my_id = f"kestrel-{uid()}"
    domain = f"{my_id}.example"
    contact = add_var(stack.settings, my_id, "Kestrel Systems GmbH", domain)
    their_id = f"osprey-{uid()}"
    their_contact = add_var(stack.settings, their_id, "Osprey Networks AG", f"{their_id}.example")
    me = await signed_in(web._transport, stack, contact)
    other = await signed_in(web._transport, stack, their_contact)

    page = await me.get("/portal/evaluation")
    assert page.status_code == 200 and "Request your evaluation license" in page.text
    assert "Kestrel Systems GmbH [RESELLER]" in page.text  # prefilled
    form = {
        "_csrf": csrf_of(page.text),
        "organization_name": "Someone Else GmbH [RESELLER]",
        "where": "Other",
        "contact_name": "Lena Hoffmann",
        "contact_email": contact,
        "country": "DE",
    }
    refused = await me.post("/portal/evaluation/request", data=form)
    assert refused.status_code == 422 and 'id="organization_name-error"' in refused.text
    refused = await me.post(
        "/portal/evaluation/request", data={**form, "where": "Evaluating Mattermost"}
    )
    assert refused.status_code == 422 and 'id="where-error"' in refused.text

    asked = await me.post(
        "/portal/evaluation/request",
        data={**form, "organization_name": "Kestrel Systems GmbH [RESELLER]"},
    )
    assert asked.status_code == 200 and "Your request is received" in asked.text, asked.text
    workflow_id = f"eval-license-{my_id}"
    stack.started.append(workflow_id)
    await stack.complete(workflow_id, "review_evaluation_license")

    async def licensed() -> str | None:
        text = (await me.get("/portal/evaluation")).text
        return text if "Download" in text and "Request renewal" in text else None

    page_text = await eventually(licensed, timeout=30, what="the license on the portal")
    [download] = re.findall(r'href="(/portal/evaluation/license/[a-z0-9]+)"', page_text)
    license_file = await me.get(download)
    assert license_file.status_code == 200
    assert "BEGIN MATTERMOST ENTERPRISE LICENSE" in license_file.text
    assert "attachment" in license_file.headers["content-disposition"]
    assert "days left" in page_text and "Licensed" in page_text

    renewal = await me.post("/portal/evaluation/renewal", data={"_csrf": csrf_of(page_text)})
    assert renewal.status_code == 200 and "reached the license desk" in renewal.text
    assert "You asked for the renewal on" in renewal.text
    outbox = "".join(p.read_text(errors="replace") for p in stack.settings.outbox_dir.glob("*.eml"))
    assert "Renewal requested: Partner Evaluation License of Kestrel Systems GmbH" in outbox

    # the other partner: its own page (nothing asked yet), and 404 for the first's file
    theirs = await other.get("/portal/evaluation")
    assert theirs.status_code == 200 and "Request your evaluation license" in theirs.text
    assert "Kestrel" not in theirs.text and my_id not in theirs.text
    license_id = download.rsplit("/", 1)[-1]
    assert_nothing_of(await other.get(download), "BEGIN MATTERMOST", license_id, "Kestrel")
    twin = await rocketchat_twin(web, stack, my_id)
    assert_nothing_of(await twin.get(download), "BEGIN MATTERMOST", license_id)
    assert_nothing_of(await twin.get("/portal/evaluation"), "Kestrel", license_id)
    for route in ("/portal/evaluation/renewal", "/portal/evaluation/request"):
        answer = await twin.post(route, data={"_csrf": "x"})
        assert answer.status_code == 404 and license_id not in answer.text
    for client in (me, other, twin):
        await client.aclose()


async def test_signed_out_visitors_are_sent_to_sign_in(web: httpx.AsyncClient) -> None:
    for route in (*ROUTES, "/portal/listing/logo/abc", "/portal/evaluation/license/abc"):
        answer = await web.get(route, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/portal"


async def test_hostile_posts_are_refused_before_anything_is_read(tmp_path: Any) -> None:
    """Without Temporal: an oversized or malformed form is 413, a forged one 403, an unknown
    or overlong license or logo id 404; never a 5xx."""
    settings = settings_for(tmp_path)
    contact = add_var(settings, "kestrel", "Kestrel Systems GmbH", "kestrel.example")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        await client.post("/portal", data={"email": contact})
        [(_, link)] = sent_links(settings)
        assert (await sign_in(client, link)).status_code == 303
        huge = {"logo": ("logo.png", b"\0" * (3 * 1024 * 1024), "image/png")}
        assert (await client.post("/portal/listing", files=huge)).status_code == 413
        broken = await client.post(
            "/portal/listing",
            content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno end",
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert 400 <= broken.status_code < 500
        for route in (
            "/portal/listing",
            "/portal/evaluation/request",
            "/portal/evaluation/renewal",
        ):
            forged = await client.post(route, data={"_csrf": "forged"})
            assert forged.status_code == 403, (route, forged.status_code)
        big = await client.post("/portal/evaluation/request", data={"x": "y" * 40_000})
        assert big.status_code == 413
        for route in (
            "/portal/evaluation/license/unknown",
            "/portal/evaluation/license/" + "a" * 300,
            "/portal/listing/logo/" + "a" * 300,
        ):
            assert (await client.get(route)).status_code == 404, route
