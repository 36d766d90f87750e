"""The partner portal's Rocket.Chat pages on the time-skipping server (workflows addressed by
id, no visibility needed): a partner signed through onboarding with a running partnership sees
its checklist and training countdown, submits its monthly report (refused by the validator,
then accepted with its revenue share), its quarterly review and its statements; a second
Rocket.Chat partner sees none of it, and a Mattermost session (even of the same slug) gets 404
on every route. One browser test takes the screenshots."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from starters.web import portal_rocketchat
from starters.web.app import create_app
from tests.eventually import eventually
from tests.starters.conftest import serve
from tests.starters.test_portal_sign_in import add_partner, sent_links
from tests.workflows import test_rocketchat_onboarding as onboarding
from tests.workflows import test_rocketchat_partnership as partnership
from tests.workflows.harness import Harness, pending, uid, workflow_harness

ROUTES = (
    "/portal/rocketchat",
    "/portal/rocketchat/report",
    "/portal/rocketchat/reviews",
    "/portal/rocketchat/statements",
)
OWED = "USD 3,799.99"  # 30% of the referred 10,000.01 (3,000.00) + 3 × 333.33 less 20% (799.99)


@dataclass
class Partner:
    partner_id: str
    contact: str
    onboarding: WorkflowHandle
    partnership: WorkflowHandle
    month: str


@pytest_asyncio.fixture
async def harness(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Harness]:
    async with workflow_harness(time_skipping_env, settings) as h:
        yield h


async def signed_partner(h: Harness, monkeypatch: pytest.MonkeyPatch) -> Partner:
    """A Rocket.Chat partner past its signature (onboarding at steps 5-7) with a partnership
    35 days old (its first month's report open); the pages read the server's time."""
    handle = await partnership.start(h)
    partner_id = handle.id.removeprefix("rc-partnership-")
    contact = f"ana-{uid()}@portochat.example"
    started = await onboarding.start(
        h, partner_id=partner_id, contact={"name": "Ana Costa", "email": contact}
    )
    await onboarding.through_signature(started)
    await h.env.sleep(timedelta(days=35))
    report = await pending(handle, "monthly_sales_report")
    clock = await h.env.get_current_time()
    monkeypatch.setattr(portal_rocketchat, "now", lambda: clock)
    return Partner(partner_id, contact, started, handle, report["example"]["month"])


async def signed_in(transport: Any, base: str, settings: Settings, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=transport, base_url=base)
    await client.post("/portal", data={"email": email})
    [link] = [link for to, link in sent_links(settings) if to == email]
    assert (await client.post(re.sub(r"^https?://[^/]+", "", link))).status_code == 303
    return client


def csrf_of(page: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def report_form(csrf: str, month: str) -> dict[str, str]:
    return {
        "_csrf": csrf,
        "_action": "submit",
        "projects_rows": "5",
        "referred_projects_rows": "3",
        "premium_offers_rows": "3",
        "month": month,
        "deals_closed": "1",
        "sales_closed": "5,000.00",
        "prospective_sales": "2",
        "prospective_sales_amount": "0",
        "hosting_revenue": "0",
        "certified_staff": "1",
        "share_statistics": "on",
        "projects-0-name": "Clinic chat",
        "projects-0-rocketchat_reference": "on",
        "referred_projects-0-name": "Clinic chat",
        "referred_projects-0-amount": "10000.01",
        "premium_offers-0-product": "support_plan",
        "premium_offers-0-description": "Pro support",
        "premium_offers-0-quantity": "3",
        "premium_offers-0-list_price": "333.33",
    }


async def test_rocketchat_pages_for_the_partner_and_nothing_for_others(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    me = await signed_partner(h, monkeypatch)
    other_contact = f"ops-{uid()}@cloudhost.example"
    add_partner(h.settings, "rocketchat", f"cloudhost-{uid()}", other_contact)
    mm_contact = f"lena-{uid()}@nordlicht.example"
    add_partner(h.settings, "mattermost", me.partner_id, mm_contact)  # the same slug
    transport = httpx.ASGITransport(app=create_app(h.settings, h.client))
    base = "http://testserver"
    web = await signed_in(transport, base, h.settings, me.contact)
    other = await signed_in(transport, base, h.settings, other_contact)
    mattermost = await signed_in(transport, base, h.settings, mm_contact)

    # the onboarding: checklist, countdown (35 of 60 days gone), the partner's open tasks
    page = (await web.get("/portal/rocketchat")).text
    assert "25 days left" in page, page
    assert re.search(r"Partner agreement signed: <strong>done", page)
    assert re.search(r"Basic training per service: <strong>in progress", page)
    assert f'href="/portal/tasks/rc-onboarding-{me.partner_id}/record_certification' in page
    assert 'href="/portal/rocketchat/report"' in page
    assert "Program summary" in page

    # the report: refused by the form, by the validator (month not due, then duplicate)
    form = await web.get("/portal/rocketchat/report")
    assert form.status_code == 200 and f'value="{me.month}"' in form.text
    csrf = csrf_of(form.text)
    bad = await web.post(
        "/portal/rocketchat/report", data={**report_form(csrf, me.month), "sales_closed": "lots"}
    )
    assert bad.status_code == 400 and "enter an amount in US dollars" in bad.text
    hostile = {"deals_closed": "²", "projects_rows": "²", "premium_offers-0-product": "x"}
    odd = await web.post(
        "/portal/rocketchat/report", data={**report_form(csrf, me.month), **hostile}
    )
    assert odd.status_code == 400 and "choose a product" in odd.text
    early = await web.post("/portal/rocketchat/report", data=report_form(csrf, "1999-01"))
    assert early.status_code == 422, early.text
    assert "no report for 1999-01 is expected" in early.text and 'href="#month"' in early.text
    more = await web.post(
        "/portal/rocketchat/report", data={**report_form(csrf, me.month), "_action": "more_rows"}
    )
    assert more.status_code == 200 and 'name="projects_rows" value="8"' in more.text
    assert 'value="Clinic chat"' in more.text  # what was typed stays
    forged = await web.post("/portal/rocketchat/report", data=report_form("forged", me.month))
    assert forged.status_code == 403
    accepted = await web.post("/portal/rocketchat/report", data=report_form(csrf, me.month))
    assert accepted.status_code == 200, accepted.text
    assert f"Report for {me.month} accepted" in accepted.text and OWED in accepted.text
    twice = await web.post("/portal/rocketchat/report", data=report_form(csrf, me.month))
    assert twice.status_code == 422 and f"no report for {me.month} is expected" in twice.text

    # a quarterly review, decided
    await me.partnership.signal("request_review", {"requested_by": "schedule"})
    review = await pending(me.partnership, "quarterly_review")
    await me.partnership.signal("decide_review", review["example"])

    async def decided() -> str | None:
        text = (await web.get("/portal/rocketchat/reviews")).text
        return text if "Quarter 1: " + review["example"]["outcome"] in text else None

    reviews = await eventually(decided, what="the decided review on the portal")
    assert "Goal attainment, quarter 1" in reviews and "Deals closed" in reviews
    goal = r'Deals closed</th><td>quarter</td>\s*<td class="num">\d+</td><td class="num">2</td>'
    assert re.search(goal, reviews), reviews  # reported of the target 2, with the percent
    assert "Requirements not met: fees paid" in reviews and "program fee of year 1" in reviews

    # the statements: the month's share, its invoice and stage, the yearly fee
    h.handle(f"rc-revenue-share-{me.partner_id}-{me.month}")
    statements = (await web.get("/portal/rocketchat/statements")).text
    assert me.month in statements and OWED in statements
    assert re.search(r"USD 3,799.99, <strong>open</strong>", statements), statements
    assert "Yearly program fee" in statements and "USD 1,200.00" in statements

    # another Rocket.Chat partner: its own (empty) pages, nothing of the first
    for route in ROUTES:
        answer = await other.get(route)
        assert answer.status_code == 200, route
        for secret in (me.partner_id, "Porto Chat", OWED, me.contact, "Clinic chat"):
            assert secret not in answer.text, (route, secret)
    their_form = (await other.get("/portal/rocketchat/report")).text
    assert "has not started yet" in their_form and "_csrf" not in their_form  # no form
    posted = await other.post("/portal/rocketchat/report", data=report_form(csrf, me.month))
    assert posted.status_code == 403 and me.partner_id not in posted.text  # not its token
    # a Mattermost session, even of the same slug: 404 on every route, nothing leaked
    for route in ROUTES:
        answer = await mattermost.get(route)
        assert answer.status_code == 404, route
        assert "Porto Chat" not in answer.text and OWED not in answer.text
    denied = await mattermost.post("/portal/rocketchat/report", data=report_form("x", me.month))
    assert denied.status_code == 404
    # not signed in: back to the sign-in page
    anonymous = httpx.AsyncClient(transport=transport, base_url=base)
    assert (await anonymous.get(ROUTES[0])).headers["location"] == "/portal"
    for client in (web, other, mattermost, anonymous):
        await client.aclose()


async def test_the_report_page_in_the_browser(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, browser: Any, screenshots: Path
) -> None:
    h = harness
    me = await signed_partner(h, monkeypatch)
    async with serve(create_app(h.settings, h.client)) as base:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        try:
            await page.goto(f"{base}/portal")
            await page.get_by_label("Email").fill(me.contact)
            await page.get_by_role("button").first.click()
            [link] = [link for to, link in sent_links(h.settings) if to == me.contact]
            await page.goto(re.sub(r"^https?://[^/]+", base, link))
            await page.get_by_role("button", name=re.compile("Sign in", re.I)).click()
            await page.wait_for_url("**/portal/home")
            await page.get_by_role("link", name="Onboarding").click()
            await page.wait_for_url("**/portal/rocketchat")
            assert "days left" in await page.content()
            await page.screenshot(path=str(screenshots / "portal-rocketchat.png"), full_page=True)
            await page.get_by_role("link", name="Monthly report").click()
            await page.get_by_label("Deals closed").fill("1")
            await page.get_by_label("Sales closed, gross (USD)").fill("5000")
            await page.get_by_label("projects row 1 name", exact=True).fill("Clinic chat")
            await page.get_by_label("projects row 1 rocketchat reference").check()
            await page.get_by_label("referred projects row 1 name").fill("Clinic chat")
            await page.get_by_label("referred projects row 1 amount").fill("10000.01")
            await page.screenshot(
                path=str(screenshots / "portal-rocketchat-report.png"), full_page=True
            )
            await page.get_by_role("button", name="Submit the report").click()
            await page.get_by_role("heading", name=f"Report for {me.month} accepted").wait_for()
            assert "USD 3,000.00" in await page.content()
        finally:
            await context.close()


def test_the_countdown_rounds_up_and_says_done_or_missed() -> None:
    from starters.web.portal_rc_views import training_countdown

    signed = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    facts: dict[str, Any] = {"training_due_at": (signed + timedelta(days=60)).isoformat()}
    assert training_countdown(facts, signed + timedelta(hours=1)).days_left == 60
    assert training_countdown(facts, signed + timedelta(days=59, hours=23)).days_left == 1
    assert training_countdown(facts, signed + timedelta(days=61)).state == "missed"
    done = {**facts, "training_completed_at": (signed + timedelta(days=61)).isoformat()}
    assert training_countdown(done, signed).state == "done"
    assert training_countdown(done, signed).late
    assert training_countdown({}, signed).state == "not_started"


def test_the_report_form_reads_hostile_input_as_problems_never_errors() -> None:
    from starters.web.portal_rc_report import dollars_to_cents, parse_report, row_counts

    assert dollars_to_cents("1,500.5") == 150050 and dollars_to_cents("$0.07") == 7
    for bad in ("1e400", "NaN", "-1", "1.234", "²", "", "1" * 13, "1.2.3", "Infinity"):
        assert dollars_to_cents(bad) is None, bad
    hostile = {
        "projects_rows": "²", "referred_projects_rows": "45", "premium_offers_rows": "-3",
        "month": "x" * 400, "deals_closed": "²", "sales_closed": "1e400",
        "prospective_sales": "9" * 20, "certified_staff": "-1",
        "premium_offers-0-product": "bitcoin", "premium_offers-0-quantity": "0x10",
        "referred_projects-29-name": "late row",
    }  # fmt: skip
    counts = row_counts(hostile)
    assert counts == {"projects": 5, "referred_projects": 30, "premium_offers": 3}
    report, errors = parse_report(hostile, counts, "me@partner.example")
    assert report["submitted_by"] == "me@partner.example"
    assert {"deals_closed", "sales_closed", "prospective_sales", "certified_staff"} <= set(errors)
    assert errors["premium_offers-0-product"] == "choose a product"
    assert "referred_projects-29-amount" in errors  # a row with a name needs its amount


def test_steps_reviews_and_validator_fields_read_from_the_facts() -> None:
    from starters.web.portal_rc_report import field_errors
    from starters.web.portal_rc_views import onboarding_steps, reviews

    declined = {
        "stage": "declined",
        "history": [{"step": "review_prerequisites", "event": "decline"}],
        "facts": {},
    }
    assert [s.state for s in onboarding_steps(declined)][:2] == ["declined", "not_started"]
    waiting = {"stage": "meeting", "pending_tasks": [{"task": "record_meeting"}], "facts": {}}
    assert onboarding_steps(waiting)[1].state == "waiting"
    done = {"stage": "onboarded", "facts": {"partnership_workflow_id": "rc-partnership-x"}}
    assert {s.state for s in onboarding_steps(done)} == {"done"}
    facts = {
        "reviews": [{"quarter": 1, "outcome": "compliant", "failures": []}],
        "attainment": [{"quarter": 1, "metric": "deals_closed", "percent": 50}],
        "last_review": {"quarter": 2, "outcome": "warning", "failures": ["fees_paid"]},
    }
    assert [(r.quarter, r.outcome, len(r.goals)) for r in reviews(facts)] == [
        (2, "warning", 0),
        (1, "compliant", 1),
    ]
    problems = [
        {"field": "referred_projects.0.amount_cents", "message": "too low"},
        {"field": "sales_closed_cents", "message": "negative"},
        {"field": "", "message": "not pending"},
    ]
    assert field_errors(problems) == {
        "referred_projects-0-amount": "too low",
        "sales_closed": "negative",
        "": "not pending",
    }
