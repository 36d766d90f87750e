"""RocketChatPartnership on the time-skipping server: three simulated years of monthly
reports, fees and quarterly reviews (continue-as-new each quarter, bounded history per run),
missed reports → warning → removal, and the revenue share invoiced with exact cents."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.rocketchat import (
    FeeInvoice,
    Goal,
    RocketChatApplication,
    RocketChatPartnershipInput,
    add_months,
    months_due_in,
    quarter_bounds,
)
from models.rocketchat_billing import Referral
from models.settings import Settings
from models.tables import DecisionRow, EmailRow, InvoiceRow, PartnerRow, RocketChatSalesReportRow
from tests.eventually import eventually
from tests.workflows.harness import (
    Harness,
    escalated,
    events,
    gone,
    pending,
    workflow_harness,
)
from tests.workflows.program_mail import assert_program_mail
from workflows.rocketchat_partnership import RocketChatPartnership

WORKFLOW_EXECUTION_STATUS_RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
REFERRED = [{"name": "Clinic chat", "amount_cents": 1_000_001}]  # 30% = 300,000.3 -> 300,000
PREMIUM = [
    {
        "product": "support_plan",
        "description": "Pro support",
        "quantity": 3,
        "list_price_cents": 33_333,
    }
]  # 99,999 - 20,000 (19,999.8)


async def start(
    h: Harness,
    partner_type: str = "technology_provider",
    services: list[str] | None = None,
    term_months: int = 36,
    page: str = "/partners",
    goals: list[Goal] | None = None,
) -> WorkflowHandle:
    partner_id = f"rc-{uuid.uuid4().hex[:8]}"
    signed_at = await h.env.get_current_time()
    app = RocketChatApplication(
        partner_id=partner_id,
        company="Porto Chat Lda",
        country="PT",
        website=h.site + "/",
        contact={"name": "Ana Costa", "email": "ana.costa@portochat.example"},  # type: ignore[arg-type]
        partner_type=partner_type,
        services=services or ["installation"],  # type: ignore[arg-type]
    )
    state = RocketChatPartnershipInput(
        application=app,
        goals=goals or [Goal(metric="deals_closed", quarter_target=2, year_target=10)],
        signed_at=signed_at,
        term_months=term_months,
        support_contract_reference="SUP-1",
        term_end=add_months(signed_at, term_months),
        website_url=h.site + page,
        fee_invoices=[] if partner_type else [FeeInvoice(year=1, invoice_id="x", amount_cents=1)],
        # Rocket.Chat referred the reports' project (its own record makes the 30/70 split).
        referrals=[
            Referral(
                client="Clinic",
                project=REFERRED[0]["name"],
                referred_on=signed_at.date(),
                recorded_by="sales@rocket.chat",
            )
        ]
        if partner_type == "technology_provider"
        else [],
    )
    handle = await h.client.start_workflow(
        RocketChatPartnership.run,
        state,
        id=f"rc-partnership-{partner_id}",
        task_queue=h.task_queue,
        execution_timeout=timedelta(days=4 * 366),
    )
    h.started.append(handle.id)
    return handle


def report_for(month: str, partner_type: str) -> dict[str, Any]:
    return {
        "month": month,
        "submitted_by": "ana.costa@portochat.example",
        "deals_closed": 1,
        "sales_closed_cents": 500_000,
        "prospective_sales": 2,
        "hosting_revenue_cents": 250_005 if partner_type == "hosting" else 0,
        "referred_projects": REFERRED,
        "premium_offers": PREMIUM,
        "certified_staff": 1,
        "share_statistics": True,
    }


async def drive(
    h: Harness,
    handle: WorkflowHandle,
    *,
    partner_type: str = "technology_provider",
    skip: set[str] = frozenset(),
    renewal: Any = "terminate",
    step_days: int = 4,
    goals: Any = None,
    until: Any = None,
) -> tuple[Any, set[str], list[dict[str, Any]]]:
    """Play every party until the partnership ends: the partner reports each month (except
    `skip`), finance records fees, the reviewer takes the proposed outcome (or until `until()`:
    the result is then None)."""
    runs: set[str] = set()
    decided: list[dict[str, Any]] = []  # the review tasks' examples, with their descriptions
    submitted: set[str] = set()
    paying: set[str] = set()
    for _ in range(2000):
        if until is not None and until():
            track_shares(h, await handle.query("status"))
            return None, runs, decided
        raw = await h.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=handle.id)
            )
        )
        info = raw.workflow_execution_info
        runs.add(info.execution.run_id)
        if info.status != WORKFLOW_EXECUTION_STATUS_RUNNING:
            track_shares(h, await handle.query("status"))  # the harness ends them too
            return await handle.result(), runs, decided
        status = await handle.query("status")
        tasks = {t["task"]: t for t in status["pending_tasks"]}
        acted = False
        for month in status["facts"].get("outstanding_reports", []):
            if month not in skip and month not in submitted:
                submitted.add(month)
                await handle.signal("submit_sales_report", report_for(month, partner_type))
                acted = True
        if t := tasks.get("record_fee_payment"):
            await handle.signal("record_fee_payment", t["example"])
            acted = True
        paid = await pay_shares(h, status, paying)
        if t := tasks.get("quarterly_review"):
            decided.append({**t["example"], "description": t["description"]})
            await handle.signal("decide_review", t["example"])
            acted = True
        if t := tasks.get("set_quarter_goals"):
            await handle.signal("set_quarter_goals", goals(t["example"]) if goals else t["example"])
            acted = True
        if t := tasks.get("decide_renewal"):
            decision = renewal() if callable(renewal) else renewal
            await handle.signal(
                "decide_renewal",
                {**t["example"], "decision": decision, "reason": "Partner chose not to renew"},
            )
            acted = True
        if acted:
            await _settle(handle, tasks)
        elif not paid:  # (a share paid: its follower tells the partnership, look again)
            await h.env.sleep(timedelta(days=step_days))
    raise AssertionError("the partnership never ended")


def track_shares(h: Harness, status: dict[str, Any]) -> None:
    """The harness ends the share followers with the test (they outlive the partnership)."""
    for share in status["facts"].get("revenue_shares", []):
        if share["workflow_id"] not in h.started:
            h.started.append(share["workflow_id"])


async def pay_shares(h: Harness, status: dict[str, Any], paying: set[str]) -> bool:
    """Finance records the payment of each revenue-share invoice its follower waits for."""
    acted = False
    track_shares(h, status)
    for share in status["facts"].get("revenue_shares", []):
        child_id = share["workflow_id"]
        if share["stage"] not in ("open", "overdue") or child_id in paying:
            continue
        child = h.client.get_workflow_handle(child_id)
        tasks = {t["task"]: t for t in await child.query("pending_tasks")}
        if t := tasks.get("record_payment"):
            paying.add(child_id)
            await child.signal("record_payment", t["example"])
            acted = True
    return acted


def _escalation_emailed(h: Harness, workflow_id: str, prefix: str) -> set[str]:
    steps = {row.step for row in h.rows(EmailRow, workflow_id=workflow_id)}
    found = any(s.startswith(prefix) and s.endswith(":escalation") for s in steps)
    return steps if found else set()


async def _settle(handle: WorkflowHandle, before: dict[str, Any]) -> None:
    """Until the signals just sent changed every task they answered (bounded: a task may
    legitimately come back unchanged, e.g. a report still outstanding)."""

    async def settled() -> bool:
        try:
            now = {t["task"]: t for t in await handle.query("pending_tasks")}
        except Exception:  # the run ended or continued as new: nothing left to settle
            return True
        return all(now.get(k) != v for k, v in before.items())

    with contextlib.suppress(AssertionError):
        await eventually(settled, timeout=2.0, what="the signals to take effect")


async def test_three_years_with_reports_reviews_and_fees(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        result, runs, decided = await drive(h, handle)
        assert result.outcome == "terminated" and result.quarters == 12
        assert [d["outcome"] for d in decided] == [
            "compliant"
        ] * 11  # the 12th quarter ends with the term
        assert [d["quarter"] for d in decided] == list(range(1, 12))
        assert len(runs) == 12
        sizes = [
            len(
                (
                    await h.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
                ).events
            )
            for run_id in runs
        ]
        print("history events per run:", sorted(sizes))
        assert max(sizes) < 1000, sizes
        partner_id = handle.id.removeprefix("rc-partnership-")
        reports = h.rows(RocketChatSalesReportRow, partner_id=partner_id)
        assert len(reports) >= 34
        assert {r.owed_to_rocketchat_cents for r in reports} == {300_000 + 99_999 - 20_000}
        fees = h.rows(InvoiceRow, workflow_id=handle.id)
        assert len(fees) == 3 and all(i.amount_due_cents == 120_000 for i in fees)
        assert all(i.status == "paid" for i in fees)
        # Each month's share is invoiced and followed by its own RocketChatRevenueShare.
        shares = [
            i
            for i in h.rows(InvoiceRow)
            if i.workflow_id.startswith(f"rc-revenue-share-{partner_id}-")
        ]
        assert len(shares) == len(reports)
        paid = await eventually(
            lambda: (
                [i for i in h.rows(InvoiceRow) if i.id in {s.id for s in shares}]
                if all(
                    i.status == "paid" for i in h.rows(InvoiceRow) if i.id in {s.id for s in shares}
                )
                else []
            ),
            what="every revenue share paid",
        )
        assert len(paid) == len(reports)
        assert assert_program_mail(settings, "rocketchat", h.rows(EmailRow, workflow_id=handle.id))
        [partner] = h.rows(PartnerRow, partner_id=partner_id)
        assert (
            partner.status == "removed"
            and json.loads(partner.attributes_json)["ended"] == "terminated"
        )


async def test_two_missed_reports_warning_then_removal(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner_type="hosting", services=["private_cloud_hosting"])
        signed = await h.env.get_current_time()
        months = [f"{m:%Y-%m}" for m in (add_months(signed, i) for i in range(8))]
        # Quarter 1 misses two reports; quarter 2 misses another: warning, then removal.
        result, runs, decided = await drive(
            h, handle, partner_type="hosting", skip={months[0], months[1], months[4]}
        )
        assert result.outcome == "removed"
        assert [d["outcome"] for d in decided] == ["warning", "removal"]
        assert "monthly_reports_submitted" in decided[0]["notes"]
        steps = {row.step for row in h.rows(EmailRow, workflow_id=handle.id)}
        assert {
            f"report:{months[0]}:reminder",
            f"report:{months[0]}:escalation",
            f"report:{months[1]}:escalation",
            "review:1:warning",
            "partnership:removed",
        } <= steps
        partner_id = handle.id.removeprefix("rc-partnership-")
        [partner] = h.rows(PartnerRow, partner_id=partner_id)
        assert partner.status == "removed"
        decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
        assert {
            ("quarterly_review:1", "warning"),
            ("quarterly_review:2", "removal"),
            ("partnership", "removed"),
        } <= decisions
        # Hosting partner: 30% of 250,005 = 75,001.5 -> 75,002; premium offers at full price.
        assert {
            r.owed_to_rocketchat_cents
            for r in h.rows(RocketChatSalesReportRow, partner_id=partner_id)
        } == {75_002 + 99_999}
        # The report reminders and escalations go to the partner with the report form's
        # link and token, in Rocket.Chat's name, never the Temporal UI or the CLI.
        rows = h.rows(EmailRow, workflow_id=handle.id)
        assert assert_program_mail(settings, "rocketchat", rows) >= 3
        [reminder] = [r for r in rows if r.step == f"report:{months[0]}:reminder"]
        assert reminder.template == "partner_task_reminder"
        assert "/webhooks/forms/monthly-sales-report" in reminder.text_body


async def test_renewal_extends_the_term_then_termination_ends_it(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner_type="value_added", services=["consulting"], term_months=12)
        renewals = iter(["renew", "terminate"])
        result, runs, decided = await drive(
            h, handle, partner_type="value_added", renewal=lambda: next(renewals)
        )
        assert result.outcome == "terminated" and result.quarters == 8
        assert [d["outcome"] for d in decided] == ["compliant"] * 7
        decisions = [
            d.decision
            for d in sorted(h.rows(DecisionRow, workflow_id=handle.id), key=lambda d: d.at)
            if d.step.startswith("renewal:")
        ]
        assert decisions == ["renew", "terminate"]
        fees = [
            i for i in h.rows(InvoiceRow, workflow_id=handle.id) if i.amount_due_cents == 120_000
        ]
        assert len(fees) == 2  # year 2 after the renewal
        # Value Added Partner: premium offers 20% off; referred projects are not shared.
        partner_id = handle.id.removeprefix("rc-partnership-")
        assert {
            r.owed_to_rocketchat_cents
            for r in h.rows(RocketChatSalesReportRow, partner_id=partner_id)
        } == {99_999 - 20_000}


async def test_compliance_update_and_scheduled_review_request(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, page="/no-type")  # the type only in a script
        await handle.signal(
            "update_compliance",
            {
                "updated_by": "partners@rocket.chat",
                "support_contract_active": False,
                "note": "support contract lapsed",
            },
        )
        # What the quarterly Schedule starts: a trigger that asks the partnership for a review.
        trigger_id = f"rc-review-trigger-{handle.id}"
        h.started.append(trigger_id)
        partner_id = handle.id.removeprefix("rc-partnership-")
        answer = await h.client.execute_workflow(
            "RocketChatReviewTrigger", partner_id, id=trigger_id, task_queue=h.task_queue
        )
        assert answer == f"review requested from {handle.id}"
        review = await pending(handle, "quarterly_review")
        assert (
            review["example"]["outcome"] == "warning"
            and "support_contract_active" in review["description"]
            and "rocketchat_on_website" in review["description"]
        )
        assert review["description"].endswith(
            "the website lacks: partnership type: Technology Provider"
        ), review["description"]
        await handle.signal(
            "request_review", {"requested_by": "schedule"}
        )  # already pending: ignored
        await handle.signal(
            "decide_review", {"reviewer": "r", "quarter": 1, "outcome": "warning"}
        )  # no notes: rejected
        await handle.signal("decide_review", review["example"])
        await gone(handle, "quarterly_review")

        async def reviewed() -> dict[str, Any] | None:
            status = await handle.query("status")
            return status if "last_review" in status["facts"] else None

        status = await eventually(reviewed, what="the review decision recorded")
        assert events(status, "request_review") == ["ignored"]
        assert status["facts"]["last_review"]["outcome"] == "warning"
        await h.emailed(handle.id, "review:1:warning")
        assert "review:1:warning" in {row.step for row in h.rows(EmailRow, workflow_id=handle.id)}


async def test_unpaid_fee_and_undecided_review_escalate(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(
            h, partner_type="hosting", services=["private_cloud_hosting"], term_months=12
        )
        fee = await pending(handle, "record_fee_payment")
        assert (
            fee["assignee"] == "finance"
            and fee["example"]["amount_cents"] == 120_000
            and fee["due_at"]
        )
        await h.env.sleep(timedelta(days=31))
        assert (await escalated(handle, "record_fee_payment"))["escalated"]
        steps = await eventually(
            lambda: _escalation_emailed(h, handle.id, "record_fee_payment:"),
            what="the fee escalation emailed",
        )
        assert any(s.startswith("record_fee_payment:") and s.endswith(":escalation") for s in steps)
        await handle.signal("record_fee_payment", fee["example"])
        await gone(handle, "record_fee_payment")
        await h.env.sleep(timedelta(days=62))  # past the end of the first quarter (a new run)
        review = await pending(handle, "quarterly_review")
        assert (
            review["example"]["outcome"] == "warning" and not review["escalated"]
        )  # no reports were sent
        await h.env.sleep(timedelta(days=11))
        assert (await escalated(handle, "quarterly_review"))["escalated"]
        await h.emailed(handle.id, "quarterly_review:1:escalation")
        assert "quarterly_review:1:escalation" in {
            row.step for row in h.rows(EmailRow, workflow_id=handle.id)
        }
        await handle.signal("decide_review", review["example"])
        await gone(handle, "quarterly_review")


async def test_goals_evaluated_each_quarter_the_year_at_the_fourth_and_set_again(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """One deal a month against a quarter target of 2 (year 10): met; the account manager
    raises quarter 2's target to 4 (3 deals: missed, a warning with the numbers), lowers it
    again for quarter 3; the fourth review also checks the year."""
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner_type="value_added", services=["consulting"], term_months=15)
        signed = await h.env.get_current_time()
        term_end = add_months(signed, 15)

        def deals(first: int, last: int) -> int:  # one deal per report due in the quarters
            start, end = quarter_bounds(signed, first)[0], quarter_bounds(signed, last)[1]
            return len(months_due_in(signed, term_end, start, end + timedelta(seconds=1)))

        targets = {2: 4, 3: 2, 4: 2, 5: 2}
        set_for: list[int] = []

        def set_goals(example: dict[str, Any]) -> dict[str, Any]:
            set_for.append(example["quarter"])
            target = targets[example["quarter"]]
            return {
                **example,
                "goals": [{"metric": "deals_closed", "quarter_target": target, "year_target": 10}],
            }

        result, _, decided = await drive(
            h, handle, partner_type="value_added", goals=set_goals, until=lambda: 5 in set_for
        )
        assert result is None  # stopped once quarter 5's goals were set
        assert [d["outcome"] for d in decided] == ["compliant", "warning", "compliant", "compliant"]
        q1 = deals(1, 1)
        assert f"quarter deals_closed: {q1} of 2 ({q1 * 50}%), met" in decided[0]["description"]
        assert "quarter deals_closed: 3 of 4 (75%), missed" in decided[1]["description"]
        assert decided[1]["notes"] == "Goals missed: quarter deals_closed: 3 of 4 (75%), missed"
        assert "year" not in decided[2]["description"]
        year = deals(1, 4)
        assert (
            f"goals: quarter deals_closed: 3 of 2 (150%), met, "
            f"year deals_closed: {year} of 10 ({year * 10}%), met"
        ) in decided[3]["description"]
        assert set_for == [2, 3, 4, 5]
        # The decision emails carry the numbers; the goals set are audited.
        await h.emailed(handle.id, "review:2:warning", "review:4:compliant")
        rows = {r.step: r for r in h.rows(EmailRow, workflow_id=handle.id)}
        assert "3 of 4 (75%), missed" in rows["review:2:warning"].text_body
        assert f"{year} of 10 ({year * 10}%), met" in rows["review:4:compliant"].text_body
        await gone(handle, "set_quarter_goals")

        def goals_audited() -> bool:
            decisions = {(d.step, d.decision) for d in h.rows(DecisionRow, workflow_id=handle.id)}
            return {("quarter_goals:2", "set"), ("quarter_goals:5", "set")} <= decisions

        await eventually(goals_audited, what="the goals set recorded")
        # The attainment history is in the status facts (the last four reviews).
        status = await handle.query("status")
        assert status["facts"]["goals"][0]["quarter_target"] == 2
        attainment = [
            (a["quarter"], a["period"], a["reported"], a["target"], a["met"])
            for a in status["facts"]["attainment"]
        ]
        assert attainment == [
            (1, "quarter", q1, 2, True),
            (2, "quarter", 3, 4, False),
            (3, "quarter", 3, 2, True),
            (4, "quarter", 3, 2, True),
            (4, "year", year, 10, True),
        ]
