"""The compliance facts of a Rocket.Chat quarterly review (seed 002, "Program requirements" and
"Open Source Values"), as findings with reasons.

`evaluate_compliance` takes what the workflow gathered for the quarter (the reports due in it,
the website check made at the review, the fees, the term and the support contract) and returns
each requirement's flag and, for every one not met, a finding that says why: the months whose
report had "share the statistics" off, each project that does not name Rocket.Chat as a
reference (by name), what the website check found and missed, the unpaid fees. Pure: no I/O,
no clock (the caller passes `now`); workflows import it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.contracts import Contract
from models.forms.spec import money
from models.rocketchat import ComplianceFinding, FeeInvoice, ReportSummary, WebCheckResult

# The requirements in the order the review lists them (the review's `compliance` keys).
REQUIREMENTS: dict[str, str] = {
    "term_in_force": "The agreement's term (at least one year) is in force",
    "support_contract_active": "A support contract with Rocket.Chat",
    "rocketchat_on_website": "Rocket.Chat on the partner's website with the partnership type",
    "monthly_reports_submitted": "A monthly sales report for every month",
    "share_statistics_on": "'Share the statistics' ON in all projects",
    "rocketchat_reference_on_projects": "Rocket.Chat named as a reference on all projects",
    "fees_paid": "The program fees are paid",
}


class ComplianceEvidence(Contract):
    """What the quarterly review looks at."""

    now: datetime
    term_months: int
    term_end: datetime
    support_contract_active: bool
    support_contract_reference: str | None = None
    website: WebCheckResult
    due_months: list[str] = Field(description="Report months due in the reviewed period")
    reports: dict[str, ReportSummary] = Field(
        default_factory=dict, description="The partner's reports by month (any months)"
    )
    fee_invoices: list[FeeInvoice] = Field(default_factory=list)


class ComplianceEvaluation(Contract):
    compliance: dict[str, bool]
    findings: list[ComplianceFinding] = Field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [name for name, ok in self.compliance.items() if not ok]


def website_finding(check: WebCheckResult) -> ComplianceFinding | None:
    """Why the website check at the review failed (None: it passed)."""
    if check.ok:
        return None
    url = check.final_url or check.url
    shown = f"; it shows: {', '.join(check.found)}" if check.found else ""
    if check.status_code is None or check.status_code >= 400 or not (check.found or check.missing):
        reason = f"the website {url} could not be checked: {check.reason or 'no answer'}"
    elif not check.mentions:
        reason = f"the website {url} no longer names Rocket.Chat (missing: "
        reason += f"{', '.join(check.missing)}{shown})"
    else:
        reason = f"the website {url} does not show {', '.join(check.missing)}{shown}"
    return ComplianceFinding(requirement="rocketchat_on_website", reason=reason, subject=url)


def overdue_fees(fee_invoices: list[FeeInvoice], now: datetime) -> list[FeeInvoice]:
    """The yearly program fees due by `now` and not paid (the review's `fees_paid` rule)."""
    return [f for f in fee_invoices if not f.paid and (f.due_at is None or f.due_at <= now)]


def evaluate_compliance(
    evidence: ComplianceEvidence, flags: dict[str, bool] | None = None
) -> ComplianceEvaluation:
    """Each requirement's flag and a finding with the reason for each one not met.

    `flags` are requirements the caller evaluated itself (e.g. the workflow's own `fees_paid`):
    a requirement fails when either says so; one that fails only by the caller's flag gets a
    finding with the requirement's name as its reason."""
    e = evidence
    reports = [e.reports[m] for m in e.due_months if m in e.reports]
    findings: list[ComplianceFinding] = []

    def add(requirement: str, reason: str, subject: str | None = None) -> None:
        findings.append(ComplianceFinding(requirement=requirement, reason=reason, subject=subject))

    if e.term_months < 12 or e.now > e.term_end:
        add("term_in_force", f"the agreement's term ({e.term_months} months) is not in force")
    if not e.support_contract_active:
        reference = f" ({e.support_contract_reference})" if e.support_contract_reference else ""
        add("support_contract_active", f"the support contract with Rocket.Chat{reference} lapsed")
    if (site := website_finding(e.website)) is not None:
        findings.append(site)
    if missing := [m for m in e.due_months if m not in e.reports]:
        add("monthly_reports_submitted", f"no monthly sales report for {', '.join(missing)}")
    for report in reports:
        if not report.share_statistics:
            add(
                "share_statistics_on",
                f"'share the statistics' is OFF in the projects of the {report.month} report",
                report.month,
            )
    for report in reports:
        for project in report.projects:
            if not project.rocketchat_reference:
                add(
                    "rocketchat_reference_on_projects",
                    f"project {project.name!r} ({report.month} report) does not name "
                    "Rocket.Chat as a reference",
                    project.name,
                )
    for fee in overdue_fees(e.fee_invoices, e.now):
        due = f", due {fee.due_at:%Y-%m-%d}" if fee.due_at else ""
        add(
            "fees_paid",
            f"the program fee of year {fee.year} ({money(fee.amount_cents)}, invoice "
            f"{fee.invoice_id}{due}) is not paid",
            fee.invoice_id,
        )
    failed = {f.requirement for f in findings}
    for name, ok in (flags or {}).items():
        if not ok and name not in failed:
            add(name, f"not met: {REQUIREMENTS.get(name, name)}")
            failed.add(name)
    names = [*REQUIREMENTS, *(n for n in flags or {} if n not in REQUIREMENTS)]
    compliance = {name: name not in failed for name in names}
    return ComplianceEvaluation(compliance=compliance, findings=findings)


def findings_text(findings: list[ComplianceFinding]) -> str:
    """The findings' reasons in one line (the review task, the reviewer's proposed notes)."""
    return "; ".join(f.reason for f in findings)
