"""Partner portal sign-in (issue 15, item 1): a one-time emailed link valid 30 minutes, the
same answer for unknown addresses, throttling per address and per source, a 12-hour session
scoped to one partner of one program, operators adding and removing contacts."""

from __future__ import annotations

import email
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import update
from temporalio.testing import ActivityEnvironment

from activities import portal_access
from activities.database import migrate, session_scope
from activities.partners import PartnerActivities
from models.contracts import PartnerRecord
from models.portal import PortalIdentity, normalize_email
from models.portal_tables import PortalLinkRow
from models.settings import Settings
from starters.web.app import create_app

BASE = "http://127.0.0.1:8000"


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        PARTNERFLOW_DATA_DIR=data,
        DATABASE_URL=f"sqlite:///{data / 'records.db'}",
        PARTNERFLOW_WEBHOOK_SECRET="portal-webhook-secret",
        PARTNERFLOW_LINK_SECRET="portal-link-secret",
        PARTNERFLOW_SESSION_SECRET="portal-session-secret",
        **overrides,
        _env_file=None,
    )
    migrate(settings.resolved_database_url)
    return settings


def add_partner(
    settings: Settings, program: str, partner_id: str, contact: str, status: str = "active"
) -> None:
    record = PartnerRecord(
        partner_id=partner_id,
        program=program,
        partner_type="reseller" if program == "mattermost" else "hosting",
        company=f"{partner_id.title()} {program} GmbH",
        country="DE",
        contact_name="Lena Hoffmann",
        contact_email=contact,
        status=status,
        at=datetime.now(UTC),
    )
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


def sent_links(settings: Settings) -> list[tuple[str, str]]:
    """(recipient, link) of every sign-in email in the outbox."""
    found = []
    for path in sorted(settings.outbox_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        text = next(
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        )
        if match := re.search(r"(http://\S+/portal/sign-in/[\w-]+)", text):
            found.append((message["To"], match.group(1)))
    return found


@pytest_asyncio.fixture
async def web(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = settings_for(tmp_path)
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, follow_redirects=False
    ) as client:
        yield client, settings


async def sign_in(client: httpx.AsyncClient, link: str) -> httpx.Response:
    path = link.removeprefix(BASE)
    assert (await client.get(path)).status_code == 200  # the page with the button
    return await client.post(path)


async def test_a_contact_signs_in_with_the_emailed_link_once(web: Any) -> None:
    client, settings = web
    add_partner(settings, "mattermost", "nordlicht", "lena@nordlicht.example")
    answer = await client.post("/portal", data={"email": " Lena@Nordlicht.example "})
    assert answer.status_code == 200
    assert "a sign-in link is on its way" in answer.text
    [(to, link)] = sent_links(settings)
    assert to == "lena@nordlicht.example"

    used = await sign_in(client, link)
    assert used.status_code == 303 and used.headers["location"] == "/portal/home"
    cookie = used.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    home = await client.get("/portal/home")
    assert home.status_code == 200 and "Nordlicht mattermost GmbH" in home.text

    again = await httpx.AsyncClient(transport=client._transport, base_url=BASE).post(
        link.removeprefix(BASE)
    )
    assert again.status_code == 410  # one use only

    out = await client.post("/portal/sign-out")
    assert out.status_code == 303
    assert (await client.get("/portal/home")).headers["location"] == "/portal"


async def test_unknown_and_inactive_addresses_get_the_same_answer_and_no_email(web: Any) -> None:
    client, settings = web
    add_partner(settings, "mattermost", "former", "old@former.example", status="removed")
    known = (await client.post("/portal", data={"email": "old@former.example"})).text
    unknown = (await client.post("/portal", data={"email": "who@nobody.example"})).text
    assert known.replace("old@former.example", "X") == unknown.replace("who@nobody.example", "X")
    assert sent_links(settings) == []


async def test_an_expired_link_does_not_sign_in(web: Any) -> None:
    client, settings = web
    add_partner(settings, "rocketchat", "cloudhost", "ops@cloudhost.example")
    await client.post("/portal", data={"email": "ops@cloudhost.example"})
    [(_, link)] = sent_links(settings)
    with session_scope(settings.resolved_database_url) as db:
        db.execute(
            update(PortalLinkRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(link.removeprefix(BASE))).status_code == 410
    assert (await client.post(link.removeprefix(BASE))).status_code == 410
    assert "pf_portal" not in client.cookies


async def test_links_are_throttled_per_address_and_per_source(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        PARTNERFLOW_PORTAL_LINKS_PER_ADDRESS_PER_MINUTE=1,
        PARTNERFLOW_PORTAL_SIGN_INS_PER_SOURCE_PER_MINUTE=3,
    )
    add_partner(settings, "mattermost", "nordlicht", "lena@nordlicht.example")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        first = await c.post("/portal", data={"email": "lena@nordlicht.example"})
        second = await c.post("/portal", data={"email": "lena@nordlicht.example"})
        assert (first.status_code, second.status_code) == (200, 429)
        assert len(sent_links(settings)) == 1
        third = await c.post("/portal", data={"email": "other@nobody.example"})
        fourth = await c.post("/portal", data={"email": "more@nobody.example"})
        assert (third.status_code, fourth.status_code) == (200, 429)  # 3 per source


async def test_a_session_is_scoped_to_one_partner_of_one_program(web: Any) -> None:
    """The same contact of partners in both programs gets one link per partner, each in its
    program's brand, and each link signs in to that partner only."""
    client, settings = web
    add_partner(settings, "mattermost", "acme", "it@acme.example")
    add_partner(settings, "rocketchat", "acme-rc", "ops@acme.example")
    portal_access.add_contact(
        settings, "rocketchat", "acme-rc", "it@acme.example", name="IT", by="ops"
    )
    portal_access.add_contact(
        settings, "rocketchat", "ghost", "it@acme.example", name="IT", by="ops"
    )
    assert portal_access.partners_of_contact(settings, "it@acme.example") == [
        PortalIdentity("mattermost", "acme", "it@acme.example"),
        PortalIdentity("rocketchat", "acme-rc", "it@acme.example"),
    ]  # `ghost` has no active partner record: nothing to sign in to

    await client.post("/portal", data={"email": "it@acme.example"})
    links = sent_links(settings)
    assert len(links) == 2
    homes = []
    for _, link in links:
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE) as browser:
            assert (await sign_in(browser, link)).status_code == 303
            homes.append((await browser.get("/portal/home")).text)
    [mattermost] = [h for h in homes if "Acme mattermost GmbH" in h]
    [rocketchat] = [h for h in homes if "Acme-Rc rocketchat GmbH" in h]
    assert "Rocket.Chat" not in mattermost and "acme-rc" not in mattermost
    assert "Rocket.Chat" in rocketchat and "Acme mattermost" not in rocketchat


async def test_operators_add_and_remove_contacts_and_removal_ends_sessions(web: Any) -> None:
    client, settings = web
    add_partner(settings, "mattermost", "nordlicht", "lena@nordlicht.example")
    portal_access.add_contact(
        settings, "mattermost", "nordlicht", "max@nordlicht.example", name="Max", by="ops"
    )
    await client.post("/portal", data={"email": "max@nordlicht.example"})
    [(to, link)] = sent_links(settings)
    assert to == "max@nordlicht.example"
    assert (await sign_in(client, link)).status_code == 303
    assert (await client.get("/portal/home")).status_code == 200

    assert portal_access.remove_contact(
        settings, "mattermost", "nordlicht", "max@nordlicht.example", by="ops"
    )
    assert (await client.get("/portal/home")).headers["location"] == "/portal"
    [row] = portal_access.list_contacts(settings, "mattermost", "nordlicht")
    assert row.removed_by == "ops" and row.removed_at is not None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign",
        "a@b",
        "two@@ats.example",
        "x" * 400 + "@a.example",
        "a b@c.example",
        "<a@b.example>",
        "a@b.example,c@d.example",
        "\x00@b.example",
    ],
)
def test_what_is_not_an_address_is_refused(raw: str) -> None:
    assert normalize_email(raw) is None


async def test_odd_sign_in_inputs_get_a_clear_answer(web: Any) -> None:
    client, _ = web
    assert (await client.post("/portal", data={"email": "not an address"})).status_code == 422
    assert (await client.post("/portal", data={})).status_code == 422
    assert (await client.get("/portal/sign-in/" + "x" * 500)).status_code == 404
    assert (await client.get("/portal/sign-in/unknown-token")).status_code == 410
    assert (await client.get("/portal/home")).headers["location"] == "/portal"
    forged = await client.post(
        "/portal", data={"email": "a@b.example"}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403


def test_operators_manage_contacts_from_the_cli(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from starters import cli

    settings = settings_for(tmp_path)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    add_partner(settings, "mattermost", "nordlicht", "lena@nordlicht.example")
    run = CliRunner().invoke
    added = run(cli.app, ["portal", "add", "mattermost", "nordlicht", "Max@Nordlicht.example",
                          "--name", "Max", "--by", "anna"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert [i.partner_id for i in portal_access.partners_of_contact(
        settings, "max@nordlicht.example")] == ["nordlicht"]  # fmt: skip
    unknown = run(cli.app, ["portal", "add", "rocketchat", "nordlicht", "max@nordlicht.example",
                            "--by", "anna"])  # fmt: skip
    assert unknown.exit_code != 0 and "no rocketchat partner 'nordlicht'" in unknown.output
    bad = run(cli.app, ["portal", "add", "mattermost", "nordlicht", "not-an-address", "--by", "a"])
    assert bad.exit_code != 0 and "not an email address" in bad.output
    removed = run(cli.app, ["portal", "remove", "mattermost", "nordlicht",
                            "max@nordlicht.example", "--by", "anna"])  # fmt: skip
    assert removed.exit_code == 0, removed.output
    listed = run(cli.app, ["portal", "contacts", "mattermost", "nordlicht", "--json"])
    [row] = json.loads(listed.output)
    assert row["removed_by"] == "anna"
    assert portal_access.partners_of_contact(settings, "max@nordlicht.example") == []


async def test_a_mail_provider_failure_answers_the_same_page(web: Any, monkeypatch: Any) -> None:
    """The link cannot be sent (the provider is down): the same answer, never a 500."""
    from starters.web import portal

    client, settings = web
    add_partner(settings, "mattermost", "nordlicht", "lena@nordlicht.example")

    def down(*_: Any) -> None:
        raise RuntimeError("SendGrid unavailable")

    monkeypatch.setattr(portal, "_send_link", down)
    answer = await client.post("/portal", data={"email": "lena@nordlicht.example"})
    assert answer.status_code == 200 and "a sign-in link is on its way" in answer.text
