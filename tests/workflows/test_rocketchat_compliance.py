"""The compliance facts of the Rocket.Chat quarterly review on the time-skipping server
(models/rocketchat_compliance.py, patch `rc-compliance-findings`): "share the statistics" off,
a project that does not name Rocket.Chat as a reference, a website that stopped naming
Rocket.Chat and an unpaid program fee each propose a warning with the reason in the review
task, the decision and the partner's email; a clean quarter is compliant."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.rocketchat import months_due_in
from models.settings import Settings
from models.tables import DecisionRow, EmailRow
from tests.eventually import eventually
from tests.workflows.harness import Harness, gone, workflow_harness
from tests.workflows.test_rocketchat_partnership import report_for, start

PROJECTS = [
    {"name": "Clinic chat", "rocketchat_reference": True},
    {"name": "City portal", "rocketchat_reference": True},
]
UNREFERENCED = [
    {"name": "Clinic chat", "rocketchat_reference": False},
    {"name": "City portal", "rocketchat_reference": True},
]


def clean(month: str) -> dict[str, Any]:
    return {**report_for(month, "technology_provider"), "projects": PROJECTS}


async def play_quarter(
    h: Harness,
    handle: WorkflowHandle,
    report: Callable[[str], dict[str, Any]] = clean,
    pay_fees: bool = True,
    request_after: int | None = None,
) -> dict[str, Any]:
    """The partner reports each month as it opens (and finance records the fee) until the
    first quarterly review is pending: its task. With `request_after`, the quarterly Schedule
    asks for the review once that many reports are in (the review is then computed in the
    run that records the decision)."""
    submitted: set[str] = set()
    requested = False
    paid: set[int] = set()
    for _ in range(200):
        status = await handle.query("status")
        tasks = {t["task"]: t for t in status["pending_tasks"]}
        if review := tasks.get("quarterly_review"):
            return review
        acted = False
        for month in status["facts"].get("outstanding_reports", []):
            if month not in submitted:
                submitted.add(month)
                await handle.signal("submit_sales_report", report(month))
                acted = True
        fee = tasks.get("record_fee_payment")
        if pay_fees and fee and fee["example"]["year"] not in paid:
            paid.add(fee["example"]["year"])
            await handle.signal("record_fee_payment", fee["example"])
            acted = True
        if acted:

            async def taken() -> bool:
                facts = (await handle.query("status"))["facts"]
                fees = facts.get("fees", [])
                return not (set(facts.get("outstanding_reports", [])) & submitted) and all(
                    f["paid"] or f["year"] not in paid for f in fees
                )

            await eventually(taken, what="the reports and payments taken")
        elif request_after is not None and len(submitted) >= request_after and not requested:
            requested = True
            await handle.signal("request_review", {"requested_by": "schedule"})
        else:
            await h.env.sleep(timedelta(days=4))
    raise AssertionError("no quarterly review")


def statistics_off(month: str) -> dict[str, Any]:
    return {**clean(month), "share_statistics": False}


def unreferenced(month: str) -> dict[str, Any]:
    return {**clean(month), "projects": UNREFERENCED}


CASES = {
    "share_statistics_off": (statistics_off, "/partners", True, "share_statistics_on"),
    "project_without_reference": (
        unreferenced,
        "/partners",
        True,
        "rocketchat_reference_on_projects",
    ),
    "website_stopped_naming_rocketchat": (clean, "/plain", True, "rocketchat_on_website"),
    "unpaid_fee": (clean, "/partners", False, "fees_paid"),
}


def expected_reasons(case: str, h: Harness, months: list[str]) -> list[str]:
    """What the review's findings must say (how they start) for the case; `months`: the
    report months due in the quarter."""
    if case == "share_statistics_off":
        return [f"'share the statistics' is OFF in the projects of the {m} report" for m in months]
    if case == "project_without_reference":
        return [
            f"project 'Clinic chat' ({m} report) does not name Rocket.Chat as a reference"
            for m in months
        ]
    if case == "website_stopped_naming_rocketchat":
        return [
            f"the website {h.site}/plain no longer names Rocket.Chat (missing: Rocket.Chat, "
            "partnership type: Technology Provider, a service: Installation services)"
        ]
    return ["the program fee of year 1 (USD 1,200.00, invoice "]


@pytest.mark.parametrize("case", list(CASES))
async def test_each_compliance_failure_proposes_a_warning_with_its_reason(
    time_skipping_env: WorkflowEnvironment, settings: Settings, case: str
) -> None:
    report, page, pay_fees, requirement = CASES[case]
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, page=page, term_months=12)
        task = await play_quarter(h, handle, report, pay_fees, request_after=2)
        status = await handle.query("status")
        review = status["facts"]["review"]
        assert review["failures"] == [requirement], review["failures"]
        assert review["proposed"] == task["example"]["outcome"] == "warning"
        reasons = [f["reason"] for f in review["findings"]]
        assert {f["requirement"] for f in review["findings"]} == {requirement}
        facts = status["facts"]
        due = months_due_in(
            datetime.fromisoformat(facts["signed_at"]),
            datetime.fromisoformat(facts["term_end"]),
            datetime.fromisoformat(review["period_start"]),
            datetime.fromisoformat(review["period_end"]) + timedelta(seconds=1),
        )
        expected = expected_reasons(case, h, due)
        assert len(reasons) == len(expected)
        for got, want in zip(reasons, expected, strict=True):
            assert got.startswith(want), (got, want)
        # The task names the findings, and so do the reviewer's proposed notes.
        assert f"findings: {'; '.join(reasons)}" in task["description"]
        assert f"Compliance findings: {'; '.join(reasons)}" in task["example"]["notes"]
        # The reviewer removes the partner with those notes: recorded with the findings.
        await handle.signal("decide_review", {**task["example"], "outcome": "removal"})
        result = await handle.result()
        assert result.outcome == "removed" and reasons[0] in (result.reason or "")
        [decision] = [
            d for d in h.rows(DecisionRow, workflow_id=handle.id) if d.step == "quarterly_review:1"
        ]
        detail = json.loads(decision.detail_json)
        assert decision.decision == "removal" and detail["findings"] == reasons
        assert detail["failures"] == [requirement]


async def test_a_clean_quarter_is_compliant_and_a_warning_email_lists_the_findings(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, term_months=12)
        task = await play_quarter(h, handle)
        review = (await handle.query("status"))["facts"]["review"]
        assert review["proposed"] == task["example"]["outcome"] == "compliant"
        assert review["findings"] == [] and review["failures"] == []
        assert review["compliance"]["rocketchat_reference_on_projects"] is True
        assert "findings" not in task["description"]
        await handle.signal("decide_review", task["example"])
        await gone(handle, "quarterly_review")
        await h.emailed(handle.id, "review:1:compliant")

        # A second partnership: two projects' months without the reference and the
        # statistics off; the warning email names each finding.
        def both(month: str) -> dict[str, Any]:
            return {**unreferenced(month), "share_statistics": False}

        warned = await start(h, term_months=12)
        task = await play_quarter(h, warned, both)
        assert task["example"]["outcome"] == "warning"
        findings = (await warned.query("status"))["facts"]["review"]["findings"]
        assert {f["requirement"] for f in findings} == {
            "share_statistics_on",
            "rocketchat_reference_on_projects",
        }
        assert {f["subject"] for f in findings if f["requirement"] != "share_statistics_on"} == {
            "Clinic chat"
        }
        await warned.signal("decide_review", task["example"])
        await gone(warned, "quarterly_review")
        await h.emailed(warned.id, "review:1:warning")
        [email] = [
            r for r in h.rows(EmailRow, workflow_id=warned.id) if r.step == "review:1:warning"
        ]
        for finding in findings:
            assert finding["reason"] in email.text_body
        last = (await warned.query("status"))["facts"]["last_review"]
        assert [f["reason"] for f in last["findings"]] == [f["reason"] for f in findings]
