"""`/insights`, `/insights.json` and `/insights/{table}.csv` as an operator, from seeded
facts; a visitor not signed in is sent to the login page."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from activities.insights import InsightActivities
from models.settings import Settings
from models.task_events import TaskEventRecord
from tests.starters.conftest import PagesStack, sign_in

PERIOD = {"program": "mattermost", "start": "2026-11-09", "end": "2026-12-06"}


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def seed(settings: Settings) -> None:
    """Two reviews: one opened Friday 20 Nov and decided on time Tuesday 24 Nov (2 business
    days), one opened Wednesday 25 Nov, escalated, decided late Monday 30 Nov (Thanksgiving
    is not a business day: 2 business days)."""
    record = InsightActivities(settings).record_task_event
    facts = [
        ("w1", "opened", at(20), at(24)),
        ("w1", "decided", at(24, 9), at(24)),
        ("w2", "opened", at(25), at(27)),
        ("w2", "escalated", at(27), at(27)),
        ("w2", "decided", at(30), at(27)),
    ]
    for workflow_id, event, when, due in facts:
        record(
            TaskEventRecord(
                idempotency_key=f"{workflow_id}:review_deal:1:{event}",
                workflow_id=workflow_id,
                workflow_type="DealRegistration",
                program="mattermost",
                task="review_deal",
                event=event,  # type: ignore[arg-type]
                at=when,
                due_at=due,
            )
        )
    record(  # written twice: kept once
        TaskEventRecord(
            idempotency_key="w1:review_deal:1:opened",
            workflow_id="w1",
            workflow_type="DealRegistration",
            program="mattermost",
            task="review_deal",
            event="opened",
            at=at(20),
            due_at=at(24),
        )
    )


async def test_insights_page_json_and_csv_as_an_operator(
    web: httpx.AsyncClient, pages_stack: PagesStack
) -> None:
    seed(pages_stack.settings)
    await sign_in(web, next_url="/insights")
    page = await web.get("/insights", params=PERIOD)
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 5 and "Service levels by human step" in page.text
    assert "<script" not in page.text.split("<main", 1)[-1]

    data = (await web.get("/insights.json", params=PERIOD)).json()
    assert data["sla"] == [
        {
            "task": "review_deal", "on_time": 1, "late": 1, "open_past_due": 0, "open": 0,
            "expired": 0, "escalations": 1, "median_business_days": 2.0,
            "p90_business_days": 2,
        }
    ]  # fmt: skip
    assert data["trend"] == [
        {"week": "2026-11-23", "on_time": 1, "late": 0},
        {"week": "2026-11-30", "on_time": 0, "late": 1},
    ]

    csv = await web.get("/insights/sla.csv", params=PERIOD)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == [
        "task,on_time,late,open_past_due,open,expired,escalations,"
        "median_business_days,p90_business_days",
        "review_deal,1,1,0,0,0,1,2.0,2",
    ]
    rocketchat = await web.get("/insights", params={**PERIOD, "program": "rocketchat"})
    assert rocketchat.status_code == 200 and "Rocket.Chat onboardings by step" in rocketchat.text
    for table in ("trend", "var_funnel", "si_funnel", "deal_funnel", "rc_onboarding"):
        assert (await web.get(f"/insights/{table}.csv", params=PERIOD)).status_code == 200
    assert (await web.get("/insights/nope.csv")).status_code == 404
    bad = await web.get("/insights.json", params={**PERIOD, "start": "2026-13-01"})
    assert bad.status_code == 422 and "start" in bad.text
    assert (await web.get("/insights.json", params={"program": "x"})).status_code == 422


async def test_a_visitor_not_signed_in_is_sent_to_the_login(web: httpx.AsyncClient) -> None:
    for path in ("/insights", "/insights.json", "/insights/sla.csv"):
        response = await web.get(path)
        assert response.status_code in (302, 303, 401), path
        if response.status_code != 401:
            assert response.headers["location"].startswith("/login")
