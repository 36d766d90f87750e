"""The listing page (signed link, logo upload checked with Pillow), the public directory
(`/partners` with filters, VAR territory), `/partners.json`, logos, and the form intake
paths the partner lifecycle uses first: a signal-mode form (`directory-listing`) and a
check against the partner records at intake (`evaluation-license`, active VAR/SI only).

The logo rules on both paths: the same 2 MiB limit (the page's upload, the webhook's base64),
PNG or JPEG only, a decompression bomb refused with its reason (400 page, 422 webhook) and
nothing stored; a logo stored only for a listing that passed the checks, and served only
while its listing is published."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image
from temporalio.testing import WorkflowEnvironment

from activities.directory import get_listing, get_logo
from activities.partners import PartnerActivities
from models.contracts import PartnerRecord
from models.directory import (
    LISTING_DESCRIPTION,
    LISTING_FORM_MAX_BYTES,
    MAX_LOGO_BASE64_CHARS,
    MAX_LOGO_BYTES,
    DirectoryListingInput,
    PublishedListing,
    logo_id_of,
)
from models.forms import FORMS
from models.settings import Settings
from starters.intake import SIGNATURE_HEADER, sign, submit_form
from starters.web.app import create_app
from starters.web.directory import LISTING_PAGE_MAX_BYTES
from tests.eventually import eventually
from tests.logos import bomb_png, image, png, png_of_size
from tests.starters.test_hostile_inputs import NoTemporal
from tests.workflows.harness import Harness, uid, workflow_harness

FORM = "directory-listing"


def listing_input(
    partner_type: str = "value_added_reseller", country: str = "DE"
) -> DirectoryListingInput:
    return DirectoryListingInput.model_validate(
        {
            "partner_id": f"p-{uid()}",
            "partner_type": partner_type,
            "company": f"Company {uid()}",
            "contact": {"name": "Lena", "email": "lena@example.com"},
            "territory": ["DE", "AT"] if partner_type == "value_added_reseller" else [],
            "country": country,
        }
    )


async def start_listing(h: Harness, data: DirectoryListingInput) -> Any:
    handle = await h.start("DirectoryListing", data, f"directory-{data.partner_id}")
    await h.task(handle, "submit_listing")
    return handle


async def link(h: Harness, workflow_id: str) -> str:
    def requested() -> list[Any]:
        return [m for m in h.emails(workflow_id) if m.step == "listing:request"]

    mails = await eventually(requested, what="the listing request email")
    return re.search(r"/listing/[A-Za-z0-9._-]+", mails[0].text_body).group(0)  # type: ignore[union-attr]


async def wait_published(settings: Settings, env: WorkflowEnvironment, partner_id: str) -> None:
    await eventually(
        lambda: get_listing(settings, "mattermost", partner_id), what=f"{partner_id} published"
    )


async def test_listing_page_checks_fields_and_logo_then_publishes(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        data = listing_input()
        handle = await start_listing(h, data)
        path = await link(h, handle.id)
        app = create_app(settings, time_skipping_env.client)
        fields = {
            "name": "Nordlicht",
            "description": LISTING_DESCRIPTION,
            "city": "Berlin",
            "state": "",
            "country": "DE",
            "website": "https://nordlicht.example.com",
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as web:
            assert (await web.get(path + "x")).status_code == 403
            form = await web.get(path)
            assert (
                form.status_code == 200
                and "30–100 words" in form.text
                and "Germany, Austria" in form.text
            )
            narrow = await web.post(
                path, data=fields, files={"logo": ("logo.png", png(150), "image/png")}
            )
            assert (
                narrow.status_code == 400
                and "the logo is 150 px wide; it must be at least 200 px wide" in narrow.text
            )
            gif = await web.post(
                path, data=fields, files={"logo": ("logo.gif", image(fmt="GIF"), "image/gif")}
            )
            assert gif.status_code == 400 and "a GIF image; only PNG or JPEG logos" in gif.text
            bomb = bomb_png()
            bombed = await web.post(
                path, data=fields, files={"logo": ("logo.png", bomb, "image/png")}
            )
            assert bombed.status_code == 400 and "refused as a decompression bomb" in bombed.text
            over = await web.post(
                path,
                data=fields,
                files={"logo": ("logo.png", png_of_size(MAX_LOGO_BYTES + 1), "image/png")},
            )
            assert (
                over.status_code == 400
                and "2,097,153 bytes; the limit is 2,097,152 bytes" in over.text
            )
            too_large = await web.post(
                path,
                data=fields,
                files={"logo": ("logo.png", b"\0" * LISTING_PAGE_MAX_BYTES, "image/png")},
            )
            assert too_large.status_code == 413 and "Nothing was recorded" in too_large.text
            held_back = png(240)  # a good logo, but the listing is refused: not kept
            short = await web.post(
                path,
                data={
                    **fields,
                    "description": "Ten words are not enough for a partner directory listing.",
                },
                files={"logo": ("logo.png", held_back, "image/png")},
            )
            assert (
                short.status_code == 400
                and "has 10 words; it must have 30 to 100 words" in short.text
            )
            assert get_logo(settings, logo_id_of(held_back)) is None
            assert get_logo(settings, logo_id_of(bomb)) is None
            bad_url = await web.post(
                path,
                data={**fields, "website": "nordlicht"},
                files={"logo": ("logo.png", png(240), "image/png")},
            )
            assert bad_url.status_code == 400 and "Website:" in bad_url.text
            largest = png_of_size(MAX_LOGO_BYTES)  # the limit itself is taken
            ok = await web.post(
                path, data=fields, files={"logo": ("logo.png", largest, "image/png")}
            )
            assert ok.status_code == 303 and ok.headers["location"].endswith("/done")
            logo_path = f"/partners/logos/{logo_id_of(largest)}"
            assert get_logo(settings, logo_id_of(largest)) is not None
            review = await h.task(handle, "review_listing")
            assert "Your listing is under review" in (await web.get(path)).text
            assert (await web.get(logo_path)).status_code == 404  # stored, not published
            await handle.signal("review_listing", review["example"])
            await wait_published(settings, time_skipping_env, data.partner_id)

            other = listing_input("system_integrator", country="NO")
            other_handle = await start_listing(h, other)
            await other_handle.signal(
                "submit_listing",
                {**(await h.task(other_handle, "submit_listing"))["example"], "country": "NO"},
            )
            await h.complete(other_handle, "review_listing")
            await wait_published(settings, time_skipping_env, other.partner_id)

            directory = await web.get("/partners")
            assert (
                directory.status_code == 200
                and "Nordlicht" in directory.text
                and "Reseller territory" in directory.text
                and "Germany, Austria" in directory.text
            )
            only_no = await web.get("/partners", params={"country": "NO"})
            assert ">Nordlicht</h2>" not in only_no.text and other.company in only_no.text
            only_var = (
                await web.get("/partners.json", params={"program": "value_added_reseller"})
            ).json()
            assert [
                e["partner_id"]
                for e in only_var
                if e["partner_id"] in (data.partner_id, other.partner_id)
            ] == [data.partner_id]
            entry = next(e for e in only_var if e["partner_id"] == data.partner_id)
            assert entry["territory"] == ["DE", "AT"] and entry["website"].startswith(
                "https://nordlicht"
            )
            assert entry["logo_url"].endswith(logo_path)
            logo = await web.get(logo_path)
            assert (
                logo.status_code == 200
                and logo.headers["content-type"] == "image/png"
                and logo.headers["cache-control"] == "public, max-age=31536000, immutable"
                and logo.content == largest
                and Image.open(io.BytesIO(logo.content)).size == (240, 60)
            )
            si = next(
                e
                for e in (await web.get("/partners.json")).json()
                if e["partner_id"] == other.partner_id
            )
            assert (
                si["territory"] == []
                and (await web.get(si["logo_url"].removeprefix("http://testserver"))).status_code
                == 200
            )

            await handle.signal(
                "partner_left",
                {"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"},
            )
            await handle.result()
            assert data.partner_id not in [
                e["partner_id"] for e in (await web.get("/partners.json")).json()
            ]
            assert (await web.get(path)).status_code == 410
            assert (await web.get(logo_path)).status_code == 404  # removed with its listing


async def test_signal_form_directory_listing(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    """On the dev server: the intake describes the workflow, which the time-skipping server
    cannot decode once a datetime search attribute was unset."""
    async with workflow_harness(local_env, settings) as h:
        data = listing_input()
        handle = await start_listing(h, data)
        token = (await link(h, handle.id)).rsplit("/", 1)[1]  # the emailed link is the proof
        example = {
            **FORMS["directory-listing"].examples()[0],
            "partner_id": data.partner_id,
            "proof_token": token,
        }
        narrow = await submit_form(
            h.client,
            h.settings,
            "directory-listing",
            {**example, "logo_base64": base64.b64encode(png(199)).decode()},
        )
        assert (
            narrow.status_code == 422
            and narrow.body["errors"][0]["field"] == "logo_base64"
            and "199 px wide" in narrow.body["errors"][0]["message"]
        )
        bombed = await submit_form(
            h.client,
            h.settings,
            "directory-listing",
            {**example, "logo_base64": base64.b64encode(bomb_png()).decode()},
        )
        assert (
            bombed.status_code == 422
            and bombed.body["errors"][0]["field"] == "logo_base64"
            and "refused as a decompression bomb" in bombed.body["errors"][0]["message"]
        )
        garbage = await submit_form(
            h.client, h.settings, "directory-listing", {**example, "logo_base64": "%%%"}
        )
        assert garbage.status_code == 422 and garbage.body["errors"][0]["field"] == "logo_base64"
        words = await submit_form(
            h.client, h.settings, "directory-listing", {**example, "description": "Too short"}
        )
        assert words.status_code == 422 and words.body["errors"][0]["field"] == "description"
        nobody = "nobody-" + uid()
        unknown = await submit_form(
            h.client,
            h.settings,
            "directory-listing",
            {
                **example,
                "partner_id": nobody,
                "proof_token": FORMS["directory-listing"].proof_token(
                    h.settings, f"directory-{nobody}"
                ),
            },
        )
        assert unknown.status_code == 404
        largest = png_of_size(MAX_LOGO_BYTES)  # the limit itself, through the webhook
        ok = await post_listing(
            create_app(h.settings, h.client),
            h.settings,
            {**example, "logo_base64": base64.b64encode(largest).decode()},
        )
        assert ok.status_code == 202 and ok.json()["signal"] == "submit_listing", ok.text
        assert get_logo(h.settings, logo_id_of(largest)) is not None
        await h.task(handle, "review_listing")
        await handle.signal("partner_left", {"reason": "Left", "decided_by": "pm@mattermost.com"})
        await handle.result()
        closed = await submit_form(h.client, h.settings, "directory-listing", example)
        assert closed.status_code == 409


async def post_listing(app: Any, settings: Settings, payload: dict[str, Any]) -> httpx.Response:
    """The `directory-listing` webhook, signed."""
    raw = json.dumps(payload).encode()
    headers = {
        SIGNATURE_HEADER: sign(settings.secret("webhook_secret"), raw, int(time.time()), FORM),
        "Content-Type": "application/json",
    }
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as web:
        return await web.post(f"/webhooks/forms/{FORM}", content=raw, headers=headers)


async def test_the_listing_webhook_refuses_past_the_logo_limit_and_a_bomb_storing_nothing(
    settings: Settings,
) -> None:
    """Each refused before Temporal: the body past the form's limit (413), the base64 past
    the logo limit (422 in bytes), a decompression bomb or a GIF (422 naming the reason)."""
    app = create_app(settings, NoTemporal())  # type: ignore[arg-type]
    partner_id = f"p-{uid()}"
    example = {
        **FORMS[FORM].examples()[0],
        "partner_id": partner_id,
        "proof_token": FORMS[FORM].proof_token(settings, f"directory-{partner_id}"),
    }
    huge = await post_listing(
        app, settings, {**example, "logo_base64": "A" * LISTING_FORM_MAX_BYTES}
    )
    assert (
        huge.status_code == 413
        and f"larger than {LISTING_FORM_MAX_BYTES} bytes" in (huge.json()["detail"])
    )
    over = await post_listing(
        app, settings, {**example, "logo_base64": "A" * (MAX_LOGO_BASE64_CHARS + 4)}
    )
    assert over.status_code == 422, over.text
    [error] = over.json()["errors"]
    assert error["field"] == "logo_base64" and "larger than 2,097,152 bytes" in error["message"]
    for logo, reason in (
        (bomb_png(), "refused as a decompression bomb"),
        (image(fmt="GIF"), "a GIF image; only PNG or JPEG logos are accepted"),
    ):
        refused = await post_listing(
            app, settings, {**example, "logo_base64": base64.b64encode(logo).decode()}
        )
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "logo_base64" and reason in error["message"]
        assert get_logo(settings, logo_id_of(logo)) is None


async def test_evaluation_form_prepare_checks_the_partner_records(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        example = FORMS["evaluation-license"].examples()[0]
        stranger = await submit_form(
            h.client,
            h.settings,
            "evaluation-license",
            {**example, "partner_id": f"stranger-{uid()}"},
        )
        assert stranger.status_code == 422 and stranger.body["errors"][0]["field"] == "partner_id"
        wrong = await submit_form(
            h.client,
            h.settings,
            "evaluation-license",
            {
                **example,
                "organization_name": "Nordlicht GmbH",
                "where_are_you_with_mattermost": "Evaluating",
            },
        )
        assert wrong.status_code == 422 and {e["field"] for e in wrong.body["errors"]} == {
            "organization_name",
            "where_are_you_with_mattermost",
        }
        partner_id = f"nordlicht-{uid()}"
        PartnerActivities(h.settings).upsert_partner(
            PartnerRecord(
                partner_id=partner_id,
                program="mattermost",
                partner_type="system_integrator",
                company="Nordlicht IT-Systemhaus GmbH",
                country="DE",
                contact_name="Lena",
                contact_email="lena@nordlicht-it.example.com",
                status="active",
                at=datetime.now(UTC),
            )
        )
        ok = await submit_form(
            h.client, h.settings, "evaluation-license", {**example, "partner_id": partner_id}
        )
        assert ok.status_code == 202 and ok.body["workflow_id"] == f"eval-license-{partner_id}"
        h.started.append(ok.body["workflow_id"])
        assert (await h.task(h.handle(ok.body["workflow_id"]), "review_evaluation_license"))[
            "assignee"
        ] == "license_desk"


async def test_application_forms_refuse_a_partner_id_of_another_company(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        taken = f"taken-{uid()}"
        PartnerActivities(h.settings).upsert_partner(
            PartnerRecord(
                partner_id=taken,
                program="mattermost",
                partner_type="value_added_reseller",
                company="Someone Else GmbH",
                country="DE",
                contact_name="X",
                contact_email="x@example.com",
                status="active",
                at=datetime.now(UTC),
            )
        )
        for form in ("var-application", "si-application"):
            result = await submit_form(
                h.client, h.settings, form, {**FORMS[form].fresh_example(), "partner_id": taken}
            )
            assert (
                result.status_code == 422
                and result.body["errors"][0]["field"] == "partner_id"
                and "Someone Else GmbH" in result.body["errors"][0]["message"]
            )


async def test_the_directory_lists_mattermost_listings_and_names_their_program(
    settings: Settings,
) -> None:
    """Listings are per program: a Rocket.Chat listing with a Mattermost partner's slug is
    another listing, and the Mattermost directory (page and feed) shows only Mattermost's."""
    from activities.directory import DirectoryActivities

    directory = DirectoryActivities(settings)
    for program, name in (("mattermost", "Nordlicht MM"), ("rocketchat", "Nordlicht RC")):
        directory.publish_listing(
            PublishedListing(
                partner_id="nordlicht", workflow_id=f"{program}-nordlicht", program=program,
                partner_type="value_added_reseller", name=name, description="d", city="Kiel",
                country="DE", website="https://nordlicht.example/", logo_id="0" * 32,
                logo_content_type="image/png", at=datetime(2026, 11, 23, tzinfo=UTC),
            )
        )  # fmt: skip
    app = create_app(settings, NoTemporal())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
        [entry] = (await web.get("/partners.json")).json()
        page = await web.get("/partners")
    assert (entry["partner_id"], entry["name"], entry["vendor_program"]) == (
        "nordlicht",
        "Nordlicht MM",
        "mattermost",
    )
    assert entry["program"] == "value_added_reseller"  # the partner type, as before
    assert "Nordlicht MM" in page.text and "Nordlicht RC" not in page.text
