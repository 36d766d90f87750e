"""The quarterly review's compliance facts (models/rocketchat_compliance.py): each requirement
not met is a finding with its reason; a clean quarter has none; the report's projects stay
optional."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from models.forms import FORMS
from models.rocketchat import (
    FeeInvoice,
    QuarterReview,
    ReportedProject,
    ReportSummary,
    SalesReport,
    WebCheckResult,
    propose_outcome,
)
from models.rocketchat_compliance import (
    REQUIREMENTS,
    ComplianceEvidence,
    evaluate_compliance,
    findings_text,
    website_finding,
)

NOW = datetime(2027, 3, 2, tzinfo=UTC)
URL = "https://portochat.example/partners"


def site(**kw: Any) -> WebCheckResult:
    base: dict[str, Any] = {
        "url": URL,
        "final_url": URL,
        "ok": True,
        "mentions": True,
        "found": ["Rocket.Chat", "partnership type: Technology Provider", "service: Installation"],
        "missing": [],
        "status_code": 200,
        "checked_at": NOW,
    }
    return WebCheckResult.model_validate({**base, **kw})


def summary(month: str, *, share: bool = True, projects: Any = ()) -> ReportSummary:
    return ReportSummary(
        month=month,
        submitted_at=NOW,
        deals_closed=1,
        sales_closed_cents=100,
        prospective_sales=0,
        certified_staff=1,
        share_statistics=share,
        owed_to_rocketchat_cents=0,
        projects=[ReportedProject.model_validate(p) for p in projects],
    )


def evidence(**kw: Any) -> ComplianceEvidence:
    base: dict[str, Any] = {
        "now": NOW,
        "term_months": 12,
        "term_end": datetime(2027, 12, 2, tzinfo=UTC),
        "support_contract_active": True,
        "support_contract_reference": "SUP-1",
        "website": site(),
        "due_months": ["2026-12", "2027-01"],
        "reports": {
            "2026-12": summary("2026-12", projects=[{"name": "A", "rocketchat_reference": True}]),
            "2027-01": summary("2027-01"),
        },
        "fee_invoices": [
            FeeInvoice(
                year=1,
                invoice_id="in_1",
                amount_cents=120_000,
                due_at=datetime(2027, 1, 1, tzinfo=UTC),
                paid=True,
            )
        ],
    }
    return ComplianceEvidence.model_validate({**base, **kw})


def test_a_clean_quarter_has_no_findings() -> None:
    result = evaluate_compliance(evidence())
    assert result.findings == [] and result.failures == []
    assert list(result.compliance) == list(REQUIREMENTS) and all(result.compliance.values())
    assert propose_outcome(result.failures, []) == "compliant"


def test_share_the_statistics_off_is_a_finding_naming_the_month() -> None:
    reports = {"2026-12": summary("2026-12"), "2027-01": summary("2027-01", share=False)}
    result = evaluate_compliance(evidence(reports=reports))
    assert result.failures == ["share_statistics_on"]
    [finding] = result.findings
    assert finding.subject == "2027-01"
    assert finding.reason == "'share the statistics' is OFF in the projects of the 2027-01 report"
    assert propose_outcome(result.failures, []) == "warning"


def test_a_project_without_the_rocketchat_reference_is_a_finding_naming_the_project() -> None:
    projects = [
        {"name": "Clinic chat", "rocketchat_reference": False},
        {"name": "City portal", "rocketchat_reference": True},
    ]
    reports = {"2026-12": summary("2026-12", projects=projects), "2027-01": summary("2027-01")}
    result = evaluate_compliance(evidence(reports=reports))
    assert result.failures == ["rocketchat_reference_on_projects"]
    [finding] = result.findings
    assert finding.subject == "Clinic chat"
    assert "'Clinic chat' (2026-12 report) does not name Rocket.Chat" in finding.reason
    assert "City portal" not in findings_text(result.findings)


def test_reports_outside_the_quarter_do_not_count() -> None:
    old = summary("2026-09", share=False, projects=[{"name": "Old", "rocketchat_reference": False}])
    reports = {**evidence().reports, "2026-09": old}
    assert evaluate_compliance(evidence(reports=reports)).findings == []


def test_website_that_stopped_naming_rocketchat_fails_with_what_was_found_and_missing() -> None:
    check = site(
        ok=False,
        mentions=False,
        found=["service: Installation"],
        missing=["Rocket.Chat", "partnership type: Technology Provider"],
        reason="the page does not show Rocket.Chat; partnership type: Technology Provider",
    )
    result = evaluate_compliance(evidence(website=check))
    assert result.failures == ["rocketchat_on_website"]
    [finding] = result.findings
    assert finding.reason == (
        f"the website {URL} no longer names Rocket.Chat (missing: Rocket.Chat, partnership "
        "type: Technology Provider; it shows: service: Installation)"
    )


def test_website_without_the_type_and_unreachable_website_have_their_reasons() -> None:
    no_type = site(
        ok=False,
        found=["Rocket.Chat", "service: Installation"],
        missing=["partnership type: Technology Provider"],
    )
    finding = website_finding(no_type)
    assert finding is not None and finding.reason == (
        f"the website {URL} does not show partnership type: Technology Provider; it shows: "
        "Rocket.Chat, service: Installation"
    )
    down = site(ok=False, mentions=False, found=[], status_code=503, reason="HTTP 503")
    finding = website_finding(down)
    assert (
        finding is not None
        and finding.reason == f"the website {URL} could not be checked: HTTP 503"
    )
    assert website_finding(site()) is None


def test_unpaid_fee_at_review_is_a_finding_with_the_invoice() -> None:
    fees = [
        FeeInvoice(
            year=1,
            invoice_id="in_1",
            amount_cents=120_000,
            due_at=datetime(2027, 1, 1, tzinfo=UTC),
        ),
        FeeInvoice(  # not due yet: not a finding
            year=2, invoice_id="in_2", amount_cents=120_000, due_at=datetime(2027, 4, 1, tzinfo=UTC)
        ),
    ]
    result = evaluate_compliance(evidence(fee_invoices=fees))
    assert result.failures == ["fees_paid"]
    [finding] = result.findings
    assert finding.subject == "in_1"
    assert finding.reason == (
        "the program fee of year 1 (USD 1,200.00, invoice in_1, due 2027-01-01) is not paid"
    )


def test_a_flag_the_caller_failed_without_evidence_still_fails_with_a_reason() -> None:
    """The workflow's own `fees_paid` (e.g. an unpaid revenue-share invoice) is honoured."""
    result = evaluate_compliance(evidence(), {"fees_paid": False, "share_statistics_on": True})
    assert result.failures == ["fees_paid"]
    assert result.findings[0].reason == "not met: The program fees are paid"


def test_two_failed_reviews_in_a_row_propose_removal() -> None:
    result = evaluate_compliance(evidence(support_contract_active=False, due_months=["2027-02"]))
    assert result.failures == ["support_contract_active", "monthly_reports_submitted"]
    assert findings_text(result.findings) == (
        "the support contract with Rocket.Chat (SUP-1) lapsed; no monthly sales report for 2027-02"
    )
    previous = QuarterReview(
        quarter=1, period_start=NOW, period_end=NOW, failures=["share_statistics_on"]
    )
    assert propose_outcome(result.failures, [previous]) == "removal"


REPORT = {
    "month": "2026-12",
    "submitted_by": "ana@portochat.example",
    "deals_closed": 1,
    "sales_closed_cents": 100,
    "prospective_sales": 0,
    "share_statistics": True,
}


def test_report_projects_are_optional_and_each_says_whether_rocketchat_is_named() -> None:
    assert SalesReport.model_validate(REPORT).projects == []  # an old report still validates
    listed = SalesReport.model_validate(
        {**REPORT, "projects": [{"name": "Clinic chat", "rocketchat_reference": False}]}
    )
    assert listed.projects[0].rocketchat_reference is False
    with pytest.raises(ValidationError, match="rocketchat_reference"):
        SalesReport.model_validate({**REPORT, "projects": [{"name": "Clinic chat"}]})
    with pytest.raises(ValidationError, match="each project once"):
        SalesReport.model_validate(
            {
                **REPORT,
                "projects": [
                    {"name": "Clinic chat", "rocketchat_reference": True},
                    {"name": "clinic chat ", "rocketchat_reference": True},
                ],
            }
        )
    # Old carried state (a report summary without projects) still loads.
    old = summary("2026-12").model_dump(mode="json")
    del old["projects"]
    assert ReportSummary.model_validate(old).projects == []


def test_the_form_example_lists_projects_and_validates() -> None:
    spec = FORMS["monthly-sales-report"]
    schema = spec.model.model_json_schema()
    [example] = schema["examples"]
    assert example["projects"][0] == {"name": "Clinic chat", "rocketchat_reference": True}
    assert "projects" not in schema.get("required", [])
