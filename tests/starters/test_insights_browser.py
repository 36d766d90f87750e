"""`/insights` in headless Chromium: an operator signs in, picks the period and reads the
charts. The screenshot goes to the test's tmp dir, or to docs/screenshots/insights.png with
`PARTNERFLOW_UPDATE_SCREENSHOTS=1`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.insights import InsightActivities
from models.settings import Settings
from models.task_events import TaskEventRecord
from starters.web.app import create_app
from tests.starters.conftest import OPERATOR, OPERATOR_PASSWORD, PagesStack, serve
from tests.starters.test_insights_pages import seed

START = datetime(2026, 10, 5, 10, tzinfo=UTC)


def seed_more(settings: Settings) -> None:
    """Eight weeks of reviews and quotations: some on time, some late, one open past due."""
    record = InsightActivities(settings).record_task_event
    for week in range(8):
        for number, (task, days, late) in enumerate(
            [("review_deal", 1, week % 3 == 0), ("submit_quotation", 2, week % 4 == 1),
             ("review_application", 3, week == 5)]
        ):  # fmt: skip
            opened = START + timedelta(weeks=week, days=number)
            due = opened + timedelta(days=days)
            decided = due + timedelta(days=2) if late else due - timedelta(hours=3)
            workflow_id = f"seed-{week}-{number}"
            facts = [("opened", opened), ("decided", decided)]
            if late:
                facts.insert(1, ("escalated", due))
            for event, when in facts:
                record(
                    TaskEventRecord(
                        idempotency_key=f"{workflow_id}:{task}:1:{event}",
                        workflow_id=workflow_id,
                        workflow_type="VarApplication"
                        if task == "review_application"
                        else "DealRegistration",
                        program="mattermost",
                        task=task,
                        event=event,  # type: ignore[arg-type]
                        at=when,
                        due_at=due,
                    )
                )
    record(
        TaskEventRecord(
            idempotency_key="seed-open:review_deal:1:opened",
            workflow_id="seed-open",
            workflow_type="DealRegistration",
            program="mattermost",
            task="review_deal",
            event="opened",
            at=datetime(2026, 11, 27, 9, tzinfo=UTC),
            due_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
        )
    )


def seed_records(settings: Settings) -> None:
    """Partners and deal registrations created now (inside the page's period)."""
    from activities.database import session_scope
    from models.tables import DealRegistrationRow, PartnerRow

    partner_statuses = [("value_added_reseller", s) for s in ("applicant", "active", "active")]
    partner_statuses += [("system_integrator", s) for s in ("applicant", "active")]
    deal_statuses = ["in_review", "rejected", "approved", "quoted", "quoted", "ordered"]
    deal_statuses += ["closed_won"] * 3
    with session_scope(settings.resolved_database_url) as session:
        for n, (partner_type, status) in enumerate(partner_statuses):
            session.add(
                PartnerRow(
                    program="mattermost", partner_id=f"p{n}", partner_type=partner_type,
                    company=f"Partner {n}", country="US", contact_name="Jo",
                    contact_email="jo@example.com", status=status,
                )
            )  # fmt: skip
        for n, status in enumerate(deal_statuses):
            session.add(
                DealRegistrationRow(
                    deal_number=f"D-{n}", workflow_id=f"deal-{n}", partner_id="p1",
                    partner_company="Partner 1", end_customer_name=f"Customer {n}",
                    customer_key=f"customer-{n}", sku="E20", status=status,
                )
            )  # fmt: skip
        session.commit()


async def test_an_operator_reads_the_insights(
    browser: Any, pages_stack: PagesStack, screenshots: Path
) -> None:
    settings = pages_stack.settings
    seed(settings)
    seed_more(settings)
    seed_records(settings)
    async with serve(create_app(settings, pages_stack.client)) as base:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = await context.new_page()
            await page.goto(f"{base}/insights")
            await page.wait_for_url("**/login?next=%2Finsights")
            await page.get_by_label("Operator name").fill(OPERATOR)
            await page.get_by_label("Password").fill(OPERATOR_PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{base}/insights")
            await page.get_by_label("From").fill("2026-10-01")
            await page.get_by_label("To").fill("2026-12-06")
            await page.get_by_role("button", name="Show").click()
            await page.wait_for_url("**/insights?program=mattermost&start=2026-10-01*")
            assert await page.locator("figure svg").count() == 5
            assert "review_deal" in await page.locator("table").first.inner_text()
            await page.screenshot(path=str(screenshots / "insights.png"), full_page=True)
        finally:
            await context.close()
