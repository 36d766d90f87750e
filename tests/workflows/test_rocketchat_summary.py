"""The program summary's steps in RocketChatOnboarding (time-skipping server, real activities
with local adapters): the statement of work before the contract; after the signature the
documents link, opportunities-portal access (automatic), test sessions, market strategy and
discount and prices (tasks, their validators refusing bad input); Rocket.Chat's partner page
lists the partner once onboarding completes, and the partnership's removal takes it off."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from models.tables import (
    DecisionRow,
    PartnerRow,
    RocketChatPortalAccessRow,
    RocketChatSiteListingRow,
)
from models.tasks import TaskResult
from starters.web.app import create_app
from tests.eventually import eventually
from tests.workflows.harness import Harness, escalated, gone, pending, workflow_harness
from tests.workflows.test_rocketchat_onboarding import (
    BEFORE_TERMS,
    act,
    certify_all,
    start,
    through_signature,
)

DOCS = "https://drive.example.com/rocketchat-partner-program"


def _states(status: dict[str, Any]) -> dict[str, str]:
    return {s["step"]: s["state"] for s in status["facts"]["program_summary"]}


async def refused(handle: WorkflowHandle, handler: str, payload: Any, field: str) -> str:
    """The update is refused by its validator, naming `field`; nothing is recorded."""
    before = (await handle.query("status"))["history"]
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(handler, payload)
    message = str(getattr(failure.value.cause, "message", failure.value.cause))
    assert message.startswith(f"{handler} rejected: ") and f"{field}: " in message, message
    after = (await handle.query("status"))["history"]  # the process's own steps go on
    assert after[: len(before)] == before
    assert [x for x in after[len(before) :] if x["event"] == "rejected"] == []
    return message


async def answer(handle: WorkflowHandle, task: str, payload: dict[str, Any]) -> TaskResult:
    """Complete an open task by its update; the task closes."""
    t = await pending(handle, task)
    result = await handle.execute_update(t["handler"], payload, result_type=TaskResult)
    assert result.task == task, result
    await gone(handle, task)
    return result


async def page(h: Harness, path: str) -> httpx.Response:
    app = create_app(h.settings, h.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as web:
        return await web.get(path)


async def onboard_with_the_summary(h: Harness, handle: WorkflowHandle) -> None:
    """Through the signature (statement of work included) and every summary task, with the
    validators' refusals on the way."""
    for task in BEFORE_TERMS[:-1]:
        await act(handle, task)
    sow = await pending(handle, "agree_statement_of_work")
    assert sow["assignee"] == "account_manager" and sow["due_at"]
    assert sow["example"]["services"] == ["installation", "brand_theming"]
    states = _states(await handle.query("status"))
    assert states["goals"] == "done" and states["statement_of_work"] == "waiting"
    assert states["contract"] == "not_started" and states["market_strategy"] == "not_started"
    await refused(
        handle,
        "agree_statement_of_work",
        {**sow["example"], "services": ["private_cloud_hosting"]},
        "services",
    )
    await refused(handle, "agree_statement_of_work", {**sow["example"], "scope": "short"}, "scope")
    result = await answer(handle, "agree_statement_of_work", sow["example"])
    assert [t.task for t in result.waiting_for] == ["set_contract_terms"]
    await act(handle, "set_contract_terms")
    await act(handle, "sign_partner_agreement")

    # test sessions: a past session refused; rescheduled once (notes needed), then held
    plan = await pending(handle, "schedule_test_sessions")
    assert plan["assignee"] == "partner_manager" and len(plan["example"]["sessions"]) == 2
    past = {**plan["example"], "sessions": [{"at": "2020-01-06T15:00:00Z", "topic": "Old one"}]}
    await refused(handle, "schedule_test_sessions", past, "sessions.0.at")
    await answer(handle, "schedule_test_sessions", plan["example"])
    held = await pending(handle, "record_test_sessions")
    reschedule = {"recorded_by": "partners@rocket.chat", "outcome": "reschedule"}
    await refused(handle, "record_test_sessions", reschedule, "notes")
    await answer(
        handle, "record_test_sessions", {**reschedule, "notes": "The partner's trainee was ill"}
    )
    plan = await pending(handle, "schedule_test_sessions")
    await answer(handle, "schedule_test_sessions", plan["example"])
    held = await pending(handle, "record_test_sessions")
    await refused(handle, "record_test_sessions", {**held["example"], "attendees": []}, "attendees")
    await answer(handle, "record_test_sessions", held["example"])

    # the partner's market strategy
    strategy = await pending(handle, "submit_market_strategy")
    assert strategy["assignee"] == "partner"
    assert strategy["example"]["submitted_by"] == "ana.costa@portochat.example"
    await refused(
        handle, "submit_market_strategy", {**strategy["example"], "regions": ["XX"]}, "regions"
    )
    await answer(handle, "submit_market_strategy", strategy["example"])

    # discount and prices: another discount than the program's 20% needs a reason
    discount = await pending(handle, "record_discount_and_prices")
    assert discount["example"]["premium_discount_percent"] == 20
    assert discount["description"].endswith("for a Technology Provider is 20%")
    special = {**discount["example"], "premium_discount_percent": 25}
    await refused(handle, "record_discount_and_prices", special, "premium_discount_percent")
    await refused(
        handle,
        "record_discount_and_prices",
        {**discount["example"], "price_list_url": "not a url"},
        "price_list_url",
    )
    await answer(
        handle,
        "record_discount_and_prices",
        {**special, "reason": "Public-sector projects in Portugal: agreed with sales"},
    )


async def test_summary_steps_then_the_partner_page_until_removal(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    with_docs = settings.model_copy(update={"rc_documents_base_url": DOCS + "/"})
    async with workflow_harness(time_skipping_env, with_docs) as h:
        handle = await start(h)
        partner_id = handle.id.removeprefix("rc-onboarding-")
        await onboard_with_the_summary(h, handle)

        # automatic: the documents link and the portal access (an activity alongside the tasks)
        async def portal_granted() -> dict[str, Any] | None:
            status = await handle.query("status")
            return status if "opportunities_portal" in status["facts"] else None

        status = await eventually(portal_granted, what="the portal access granted")
        assert status["facts"]["documents_folder"] == f"{DOCS}/{partner_id}"
        portal = status["facts"]["opportunities_portal"]
        assert portal["url"] == with_docs.rc_opportunities_portal_url
        [row] = h.rows(RocketChatPortalAccessRow, partner_id=partner_id)
        assert row.account_id == portal["account_id"] and row.idempotency_key.endswith(
            ":opportunities-portal"
        )
        [welcome] = [e for e in h.emails(handle.id) if e.step == "notice:signed"]
        assert f"{DOCS}/{partner_id}" in welcome.text_body
        await h.emailed(handle.id, "notice:portal")
        states = _states(status)
        assert {k: states[k] for k in ("statement_of_work", "contract", "test_sessions")} == {
            "statement_of_work": "done",
            "contract": "done",
            "test_sessions": "done",
        }
        assert states["opportunities_portal"] == "done" and states["market_strategy"] == "done"
        assert states["discount_and_prices"] == "done" and states["training"] == "waiting"
        assert states["partner_page"] == "not_started"
        assert (await page(h, "/rocketchat/partners.json")).json() == []

        website = await pending(handle, "publish_website")
        await handle.signal("website_published", {**website["example"], "url": h.site + "/"})
        await certify_all(handle, ["installation", "brand_theming"])
        result = await handle.result()
        assert result.outcome == "onboarded"

        status = await handle.query("status")
        assert set(_states(status).values()) == {"done"}, status["facts"]["program_summary"]
        [partner] = h.rows(PartnerRow, partner_id=partner_id)
        attributes = json.loads(partner.attributes_json)
        assert attributes["documents_folder"] == f"{DOCS}/{partner_id}"
        assert attributes["premium_discount_percent"] == 25
        assert attributes["market_regions"] == ["PT"]  # the example: the partner's country
        decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
        assert {
            ("statement_of_work", "agreed"),
            ("test_sessions:1", "scheduled"),
            ("test_sessions:1", "reschedule"),
            ("test_sessions:2", "held"),
            ("opportunities_portal", "granted"),
            ("market_strategy", "submitted"),
            ("discount_and_prices", "recorded"),
            ("partner_page", "listed"),
        } <= decisions

        # Rocket.Chat's partner page, in Rocket.Chat's branding, and its JSON
        html = await page(h, "/rocketchat/partners")
        assert html.status_code == 200
        for text in (
            "Porto Chat Lda",
            "Technology Provider",
            "Installation services, Brand Theming",
            "Portugal",
            h.site + "/",
            "#f5455c",
            "Rocket.Chat Partner Program",
        ):
            assert text in html.text, text
        [entry] = (await page(h, "/rocketchat/partners.json?type=technology_provider")).json()
        assert entry == {
            "partner_id": partner_id,
            "name": "Porto Chat Lda",
            "type": "technology_provider",
            "type_label": "Technology Provider",
            "services": ["Installation services", "Brand Theming"],
            "region": "PT",
            "region_name": "Portugal",
            "link": h.site + "/",
            "listed_at": entry["listed_at"],
        }
        assert (await page(h, "/rocketchat/partners.json?type=hosting")).json() == []
        bad = await page(h, "/rocketchat/partners.json?type=reseller")
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "type"
        assert (await page(h, "/rocketchat/partners?country=ZZ")).status_code == 422

        # the partner leaves: removed after a review, off the page
        partnership = h.client.get_workflow_handle(result.partnership_workflow_id)
        await partnership.signal("request_review", {"requested_by": "schedule"})
        review = await pending(partnership, "quarterly_review")
        await partnership.signal(
            "decide_review",
            {**review["example"], "outcome": "removal", "notes": "No sales in the quarter"},
        )
        ended = await partnership.result()
        assert ended["outcome"] == "removed"

        async def off_the_page() -> bool:
            return (await page(h, "/rocketchat/partners.json")).json() == []

        await eventually(off_the_page, what="the partner off Rocket.Chat's partner page")
        [listing] = h.rows(RocketChatSiteListingRow, partner_id=partner_id)
        assert listing.removed_at is not None
        assert listing.removal_reason == "No sales in the quarter"
        assert "Porto Chat Lda" not in (await page(h, "/rocketchat/partners")).text
        removal = [
            d for d in h.rows(DecisionRow, workflow_id=partnership.id) if d.step == "partnership"
        ]
        assert [json.loads(d.detail_json)["delisted"] for d in removal] == [True]


async def test_no_documents_link_without_a_shared_folder(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """Without `PARTNERFLOW_RC_DOCUMENTS_BASE_URL` there is no link, in the facts or email."""
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner_type="hosting", services=["private_cloud_hosting"])
        await through_signature(handle)
        discount = await pending(handle, "record_discount_and_prices")
        assert discount["example"]["premium_discount_percent"] == 0  # hosting: market price
        await refused(
            handle,
            "record_discount_and_prices",
            {**discount["example"], "premium_discount_percent": 20},
            "premium_discount_percent",
        )
        status = await handle.query("status")
        assert status["facts"]["documents_folder"] is None
        await h.emailed(handle.id, "notice:signed")
        [welcome] = [e for e in h.emails(handle.id) if e.step == "notice:signed"]
        assert "Program documents" not in welcome.text_body

        # The summary's tasks remind and escalate like the others; the partner's go to it.
        await h.env.sleep(timedelta(days=25))  # past every summary task's deadline
        for task in ("submit_market_strategy", "record_discount_and_prices"):
            assert (await escalated(handle, task))["escalated"]
            await h.emailed(handle.id, f"{task}:reminder:1", f"{task}:escalation")
        [escalation] = [
            e for e in h.emails(handle.id) if e.step == "submit_market_strategy:escalation"
        ]
        assert "ana.costa@portochat.example" in escalation.to_addrs
