"""The Rocket.Chat partnership program (seed 002): partner types, the services each type
provides, goals, the monthly sales report, quarterly reviews and the contracts of the
`RocketChatOnboarding` and `RocketChatPartnership` workflows.

Pure models and date arithmetic only (no I/O): workflows import this module.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from models.contracts import Contact, Contract
from models.website import Requirement

PartnerType = Literal["hosting", "technology_provider", "value_added"]
PARTNER_TYPE_LABELS: dict[str, str] = {
    "hosting": "Hosting Partner",
    "technology_provider": "Technology Provider",
    "value_added": "Value Added Partner",
}

# "Summary of services" per partner type, as listed in the program document.
SERVICES: dict[str, dict[str, str]] = {
    "hosting": {"private_cloud_hosting": "Private Cloud Hosting"},
    "technology_provider": {
        "feature_development": "Development of features",
        "integrations": "Integrations",
        "bots": "Bots",
        "marketplace_app_development": "App development for marketplace",
        "new_solutions": "New solutions with our code",
        "installation": "Installation services",
        "configuration": "Configuration",
        "brand_theming": "Brand Theming",
        "consulting": "Consulting",
        "training": "Training",
    },
    "value_added": {
        "premium_resale": "Resale of Rocket.Chat Premium",
        "rocketchat_plus_product": "Rocket.Chat + Other product",
        "marketplace_apps": "Marketplace apps",
        "consulting": "Consulting",
        "training": "Training",
    },
}

YEARLY_PROGRAM_FEE_CENTS = 120_000  # USD 1,200 per year
TRAINING_DAYS = 60  # basic training within 60 days after the agreement is signed
TRAINING_REMINDER_DAYS = (30, 45, 55)
TRAINING_ESCALATION_DAY = 61
REPORT_DUE_DAY = 10  # the monthly sales report for month M is due on the 10th of M+1
REPORT_REMINDER_DAY = 7
REVIEW_DECISION_DAYS = 10  # the reviewer decides within 10 days of the quarter's end
GOALS_DECISION_DAYS = 14  # the next quarter's goals are agreed within 14 days of the review
RENEWAL_NOTICE_DAYS = 60  # the renewal task opens 60 days before the term ends
CALENDAR = "US"  # Rocket.Chat Technologies Corp. (Wilmington, DE)

GoalMetric = Literal["deals_closed", "revenue_cents", "certified_staff", "prospective_sales"]


# --- onboarding --------------------------------------------------------------------------------


class RocketChatApplication(Contract):
    """Step 1, the pre-requirements form (`rocketchat-partner`): who the partner is, its type
    and the services it will provide."""

    partner_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="The Rocket.Chat partner id (a Mattermost partner with the same id is "
        "another partner). Business key: `rc-onboarding-{partner_id}`",
    )
    company: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    subdivision: str | None = Field(default=None, max_length=6)
    website: HttpUrl
    contact: Contact
    partner_type: PartnerType
    services: list[str] = Field(
        min_length=1, description="Service slugs of the partner type (see the schema description)"
    )
    business_location: str | None = Field(default=None, max_length=300)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        from models.contracts import COUNTRY_CODES

        code = value.upper()
        if code not in COUNTRY_CODES:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        return code

    @model_validator(mode="after")
    def _services_of_type(self) -> RocketChatApplication:
        allowed = SERVICES[self.partner_type]
        unknown = [s for s in self.services if s not in allowed]
        if unknown:
            raise ValueError(
                f"services {unknown} are not services of a "
                f"{PARTNER_TYPE_LABELS[self.partner_type]}; choose from {sorted(allowed)}"
            )
        if len(set(self.services)) != len(self.services):
            raise ValueError("services are listed twice")
        return self


class PrerequisitesReview(Contract):
    """`review_prerequisites`: the partner manager accepts or declines the application."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "decline"]
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _reason(self) -> PrerequisitesReview:
        if self.decision == "decline" and not self.reason:
            raise ValueError("a declined application needs a reason")
        return self


class MeetingScheduled(Contract):
    """`schedule_meeting`: the account manager schedules the partnership meeting."""

    account_manager: str = Field(min_length=1, max_length=200)
    scheduled_at: datetime
    location: str = Field(
        min_length=1, max_length=300, description="Call link or business location"
    )


class MeetingHeld(Contract):
    """`record_meeting`: the meeting took place; notes on the partnership details."""

    account_manager: str = Field(min_length=1, max_length=200)
    notes: str = Field(min_length=3, max_length=5000)
    business_location_visited: bool = False


class Goal(Contract):
    metric: GoalMetric
    quarter_target: int = Field(ge=0, description="Target for the next three months")
    year_target: int = Field(ge=0, description="Target for the year")

    @model_validator(mode="after")
    def _year_covers_quarter(self) -> Goal:
        if self.year_target < self.quarter_target:
            raise ValueError("the year target cannot be lower than the quarter target")
        return self


class GoalsSet(Contract):
    """`set_goals`: measurable goals for the next three months and the year (the baseline of
    the quarterly reviews)."""

    agreed_by: str = Field(min_length=1, max_length=200)
    goals: list[Goal] = Field(min_length=1)

    @field_validator("goals")
    @classmethod
    def _unique(cls, goals: list[Goal]) -> list[Goal]:
        metrics = [g.metric for g in goals]
        if len(set(metrics)) != len(metrics):
            raise ValueError("each metric once")
        return goals


class QuarterGoalsSet(GoalsSet):
    """`set_quarter_goals`: after a quarterly review, the account manager agrees the next
    quarter's goals with the partner (the quarter target is what the next review checks; the
    year target is checked at every fourth review)."""

    quarter: int = Field(ge=2, description="The quarter these goals are for")


class ContractTerms(Contract):
    """`set_contract_terms`: the terms of the partner contract (the program's requirements)."""

    prepared_by: str = Field(min_length=1, max_length=200)
    term_months: int = Field(description="Term of the agreement; at least 12 months")
    support_contract_reference: str = Field(
        min_length=1, max_length=100, description="The partner's support contract with Rocket.Chat"
    )

    @field_validator("term_months")
    @classmethod
    def _at_least_a_year(cls, value: int) -> int:
        if value < 12:
            raise ValueError("the term of the agreement must be at least one year (12 months)")
        if value > 60:
            raise ValueError("the term cannot exceed 60 months")
        return value


class WebsitePublished(Contract):
    """`website_published`: the partner put Rocket.Chat (logo, description, partnership type)
    on its website, at this page."""

    url: HttpUrl
    confirmed_by: str = Field(min_length=1, max_length=200)


class WebsiteFollowUp(Contract):
    """`website_follow_up`: after the automatic check failed: check again, or confirm by hand."""

    decided_by: str = Field(min_length=1, max_length=200)
    outcome: Literal["recheck", "verified_manually"]
    url: HttpUrl | None = None
    note: str | None = Field(default=None, max_length=2000)


class WorkgroupCreatedManually(Contract):
    """`workgroup_created`: the community workgroup was created by hand (the API failed)."""

    created_by: str = Field(min_length=1, max_length=200)
    room_name: str = Field(min_length=1, max_length=100)


class Certification(Contract):
    """`record_certification`: basic training completed for one service type."""

    service: str = Field(min_length=1, max_length=60)
    certified_by: str = Field(min_length=1, max_length=200)
    trainee: str = Field(min_length=1, max_length=200)
    certificate_id: str | None = Field(default=None, max_length=100)


class RocketChatOnboardingResult(Contract):
    partner_id: str
    outcome: Literal["onboarded", "declined", "embargoed", "not_signed"]
    reason: str | None = None
    partnership_workflow_id: str | None = None


# --- partnership -------------------------------------------------------------------------------


class ReferredProject(Contract):
    name: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(ge=0, description="The project's total amount (gross)")


class PremiumOffer(Contract):
    product: Literal["support_plan", "enterprise_license"]
    description: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0)
    list_price_cents: int = Field(gt=0, description="Rocket.Chat's market price per unit")


class ReportedProject(Contract):
    """A project the partner worked on in the month, and whether it names Rocket.Chat as a
    reference (program requirement "Rocket.Chat should appear on all projects as a
    reference")."""

    name: str = Field(min_length=1, max_length=200)
    rocketchat_reference: bool = Field(
        description="Rocket.Chat is named as a reference on the project"
    )


class SalesReport(Contract):
    """`submit_sales_report` / form `monthly-sales-report`: one month's sales. `projects` is
    optional (reports from before it was asked for have none)."""

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="Reported month, YYYY-MM")
    submitted_by: str = Field(min_length=1, max_length=200)
    deals_closed: int = Field(ge=0)
    sales_closed_cents: int = Field(ge=0, description="Gross revenue of the sales closed")
    prospective_sales: int = Field(ge=0, description="Number of prospective future sales")
    prospective_sales_cents: int = Field(default=0, ge=0)
    hosting_revenue_cents: int = Field(default=0, ge=0)
    referred_projects: list[ReferredProject] = Field(
        default_factory=list, description="Projects Rocket.Chat referred"
    )
    premium_offers: list[PremiumOffer] = Field(default_factory=list)
    certified_staff: int = Field(default=0, ge=0)
    share_statistics: bool = Field(description="'Share the statistics' is ON in all projects")
    projects: list[ReportedProject] = Field(
        default_factory=list,
        max_length=500,
        description="The month's projects, each saying whether Rocket.Chat is named as a reference",
    )

    @field_validator("projects")
    @classmethod
    def _projects_once(cls, projects: list[ReportedProject]) -> list[ReportedProject]:
        names = [p.name.strip().casefold() for p in projects]
        if len(set(names)) != len(names):
            raise ValueError("each project once (by name)")
        return projects


class ComplianceUpdate(Contract):
    """`update_compliance`: the partner manager records a change (e.g. support contract lapsed)."""

    updated_by: str = Field(min_length=1, max_length=200)
    support_contract_active: bool | None = None
    note: str | None = Field(default=None, max_length=2000)


class FeePayment(Contract):
    """`record_fee_payment`: finance records the payment of a yearly program fee."""

    recorded_by: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=1)
    amount_cents: int = Field(gt=0)
    reference: str = Field(min_length=1, max_length=200)


ReviewOutcome = Literal["compliant", "warning", "removal"]


class GoalAttainment(Contract):
    """One goal checked against the reports of a quarter (or of the year)."""

    metric: GoalMetric
    period: Literal["quarter", "year"]
    reported: int
    target: int
    percent: int = Field(description="reported / target, integer floor; 100 when the target is 0")
    met: bool


class ReviewDecision(Contract):
    """`decide_review`: the reviewer's decision on the quarterly review."""

    reviewer: str = Field(min_length=1, max_length=200)
    quarter: int = Field(ge=1)
    outcome: ReviewOutcome
    notes: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _notes(self) -> ReviewDecision:
        if self.outcome != "compliant" and not self.notes:
            raise ValueError("a warning or a removal needs notes")
        return self


class RenewalDecision(Contract):
    """`decide_renewal`: renew for another term, or let the partnership end."""

    decided_by: str = Field(min_length=1, max_length=200)
    decision: Literal["renew", "terminate"]
    term_months: int = Field(default=12)
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("term_months")
    @classmethod
    def _year(cls, value: int) -> int:
        return ContractTerms._at_least_a_year(value)


class ReviewRequest(Contract):
    """`request_review`: start a quarterly review now (sent by the Schedule's trigger)."""

    requested_by: str = Field(default="schedule", max_length=200)


class ComplianceFinding(Contract):
    """One requirement not met at a quarterly review, and why (`subject`: the project, month,
    page or invoice it is about)."""

    requirement: str = Field(description="The review's compliance key")
    reason: str
    subject: str | None = None


class QuarterReview(Contract):
    """What the quarterly review computed, and (once decided) the reviewer's outcome."""

    quarter: int
    period_start: datetime
    period_end: datetime
    attainment: dict[str, dict[str, int]] = Field(default_factory=dict)
    compliance: dict[str, bool] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)
    proposed: ReviewOutcome = "compliant"
    website_missing: list[str] = Field(
        default_factory=list, description="What the website check found missing"
    )
    goals: list[GoalAttainment] = Field(
        default_factory=list, description="The quarter's goals (and at every fourth, the year's)"
    )
    findings: list[ComplianceFinding] = Field(
        default_factory=list,
        description="Each requirement not met, with the reason (models.rocketchat_compliance)",
    )
    outcome: ReviewOutcome | None = None
    reviewer: str | None = None
    notes: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


class ReportSummary(Contract):
    month: str
    submitted_at: datetime
    deals_closed: int
    sales_closed_cents: int
    prospective_sales: int
    certified_staff: int
    share_statistics: bool
    owed_to_rocketchat_cents: int
    invoice_id: str | None = None
    projects: list[ReportedProject] = Field(default_factory=list)


class FeeInvoice(Contract):
    year: int
    invoice_id: str
    amount_cents: int
    due_at: datetime | None = None
    paid: bool = False


class RocketChatPartnershipInput(Contract):
    """The partnership's state, carried across continue-as-new at each quarter."""

    application: RocketChatApplication
    goals: list[Goal]
    signed_at: datetime = Field(description="Anchor: quarters and anniversaries count from it")
    term_months: int
    support_contract_reference: str
    support_contract_active: bool = True
    term_end: datetime
    quarter: int = Field(
        default=1, ge=1, description="The quarter this run covers (1 = the first three months)"
    )
    reports: dict[str, ReportSummary] = Field(default_factory=dict, description="By month YYYY-MM")
    missed_months: list[str] = Field(default_factory=list)
    reviews: list[QuarterReview] = Field(
        default_factory=list, description="Decided reviews, newest last"
    )
    pending_review: QuarterReview | None = None
    fee_invoices: list[FeeInvoice] = Field(default_factory=list)
    website_url: str | None = None
    workgroup: str | None = None
    certifications: dict[str, str] = Field(default_factory=dict)
    renewal_opened: bool = False
    goals_for_quarter: int | None = Field(
        default=None, description="The quarter whose goals the account manager is to set"
    )
    goals_due_at: datetime | None = None
    history_carried: list[dict[str, Any]] = Field(
        default_factory=list, description="Last decisions, for operators"
    )


class RocketChatPartnershipResult(Contract):
    partner_id: str
    outcome: Literal["removed", "terminated"]
    reason: str | None = None
    quarters: int


# --- pure helpers --------------------------------------------------------------------------------


def add_months(at: datetime, months: int) -> datetime:
    """The same day and time `months` later, clamped to the month's last day."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def quarter_bounds(signed_at: datetime, quarter: int) -> tuple[datetime, datetime]:
    """[start, end) of quarter N (1-based) counted from the signature."""
    return add_months(signed_at, 3 * (quarter - 1)), add_months(signed_at, 3 * quarter)


def month_key(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def report_due_at(month: str) -> datetime:
    """The 10th of the following month, 00:00 UTC (timezone taken from the caller's anchor)."""
    from datetime import UTC

    year, mon = (int(p) for p in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    return add_months(start, 1).replace(day=REPORT_DUE_DAY)


def report_months(signed_at: datetime, term_end: datetime) -> list[str]:
    """Months to report: from the month of the signature to the last month of the term."""
    months, at = [], signed_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while at < term_end:
        months.append(month_key(at))
        at = add_months(at, 1)
    return months


def months_due_in(
    signed_at: datetime, term_end: datetime, start: datetime, end: datetime
) -> list[str]:
    """Report months whose due date falls in [start, end)."""
    return [m for m in report_months(signed_at, term_end) if start <= report_due_at(m) < end]


def training_schedule(signed_at: datetime) -> tuple[list[datetime], datetime, datetime]:
    """(reminders at 30/45/55 days, the 60-day deadline, the escalation on day 61)."""
    reminders = [signed_at + timedelta(days=d) for d in TRAINING_REMINDER_DAYS]
    return (
        reminders,
        signed_at + timedelta(days=TRAINING_DAYS),
        signed_at + timedelta(days=TRAINING_ESCALATION_DAY),
    )


def goal_attainment(goals: list[Goal], reports: list[ReportSummary]) -> dict[str, dict[str, int]]:
    """Per goal metric: the quarter target, what the quarter's reports achieved, and percent
    (integer, floor; 100 when the target is 0)."""
    achieved = {
        "deals_closed": sum(r.deals_closed for r in reports),
        "revenue_cents": sum(r.sales_closed_cents for r in reports),
        "prospective_sales": sum(r.prospective_sales for r in reports),
        "certified_staff": max((r.certified_staff for r in reports), default=0),
    }
    result: dict[str, dict[str, int]] = {}
    for goal in goals:
        value = achieved[goal.metric]
        percent = 100 if goal.quarter_target == 0 else value * 100 // goal.quarter_target
        result[goal.metric] = {"target": goal.quarter_target, "achieved": value, "percent": percent}
    return result


def metric_total(metric: str, reports: list[ReportSummary]) -> int:
    """What the reports add up to for a goal metric (certified staff: the highest headcount)."""
    if metric == "certified_staff":
        return max((r.certified_staff for r in reports), default=0)
    field = {"revenue_cents": "sales_closed_cents"}.get(metric, metric)
    return sum(int(getattr(r, field)) for r in reports)


def evaluate_goals(
    goals: list[Goal],
    quarter_reports: list[ReportSummary],
    year_reports: list[ReportSummary] | None = None,
) -> list[GoalAttainment]:
    """Each goal's quarter target against the quarter's reports and, when `year_reports` is
    given (every fourth review), its year target against the year's reports."""
    periods: list[tuple[Literal["quarter", "year"], list[ReportSummary]]] = [
        ("quarter", quarter_reports)
    ]
    if year_reports is not None:
        periods.append(("year", year_reports))
    result = []
    for period, reports in periods:
        for goal in goals:
            target = goal.quarter_target if period == "quarter" else goal.year_target
            reported = metric_total(goal.metric, reports)
            result.append(
                GoalAttainment(
                    metric=goal.metric,
                    period=period,
                    reported=reported,
                    target=target,
                    percent=100 if target == 0 else reported * 100 // target,
                    met=reported >= target,
                )
            )
    return result


def goal_line(a: GoalAttainment) -> str:
    """`quarter deals_closed: 2 of 3 (66%), missed`"""
    return (
        f"{a.period} {a.metric}: {a.reported} of {a.target} ({a.percent}%), "
        f"{'met' if a.met else 'missed'}"
    )


def compliance_failures(compliance: dict[str, bool]) -> list[str]:
    return [name for name, ok in compliance.items() if not ok]


def propose_outcome(
    failures: list[str], previous: list[QuarterReview], goals: list[GoalAttainment] | None = None
) -> ReviewOutcome:
    """Compliant when nothing failed; two failed reviews in a row propose removal. A goal
    missed (with every requirement met) proposes a warning, never removal by itself."""
    if not failures:
        return "warning" if any(not g.met for g in goals or []) else "compliant"
    if previous and previous[-1].failures:
        return "removal"
    return "warning"


# --- activity contracts (web check, community workgroup, sales report record) ------------------


# The words a partner's page may use for its partnership type, besides the program's label.
PARTNER_TYPE_TERMS: dict[str, list[str]] = {
    "hosting": ["Hosting Partner", "Hosting Provider"],
    "technology_provider": ["Technology Provider", "Technology Partner"],
    "value_added": [
        "Value Added Partner",
        "Value Added Reseller",
        "VAR",
    ],  # dashes count as spaces: "Value-Added Reseller" matches
}

# Other words for a service (the label itself always counts).
SERVICE_TERMS: dict[str, list[str]] = {
    "private_cloud_hosting": ["Private Cloud", "Managed Hosting", "Cloud Hosting"],
    "feature_development": ["Feature Development", "Custom Development"],
    "integrations": ["Integration"],
    "bots": ["Bot Development", "Chatbots"],
    "marketplace_app_development": ["Marketplace App Development", "Marketplace Apps"],
    "installation": ["Installation"],
    "brand_theming": ["Theming", "Branding", "White Label"],
    "consulting": ["Consultancy"],
    "premium_resale": ["Rocket.Chat Premium", "Rocket.Chat Enterprise", "Enterprise License"],
    "marketplace_apps": ["Marketplace App"],
}


def website_request(url: str, partner_type: str, services: list[str]) -> WebCheckRequest:
    """What the partner's page must show (program requirements, seed 002): Rocket.Chat, its
    partnership type and at least one of the services it registered."""
    labels = SERVICES.get(partner_type, {})
    type_label = PARTNER_TYPE_LABELS.get(partner_type, partner_type)
    return WebCheckRequest(
        url=url,
        partnership_type=Requirement(
            label=type_label,
            terms=[type_label, *PARTNER_TYPE_TERMS.get(partner_type, [])],
        ),
        services=[
            Requirement(
                label=labels.get(slug, slug),
                terms=[labels.get(slug, slug), *SERVICE_TERMS.get(slug, [])],
            )
            for slug in services
        ],
    )


class WebCheckRequest(Contract):
    url: str
    terms: list[str] = Field(
        default_factory=lambda: ["rocket.chat", "rocketchat"],
        description="Rocket.Chat: any of these, case-insensitive, as whole words",
    )
    partnership_type: Requirement | None = Field(
        default=None, description="The partnership type the page must name (none: not checked)"
    )
    services: list[Requirement] = Field(
        default_factory=list,
        description="The partner's services: the page must name at least one (none: not checked)",
    )


class WebCheckResult(Contract):
    url: str
    final_url: str | None = None
    ok: bool = Field(
        description="Fetched, and the page names Rocket.Chat, the partnership type and a service "
        "(those the request asked for)"
    )
    mentions: bool = Field(default=False, description="The page names Rocket.Chat")
    found: list[str] = Field(default_factory=list, description="What the page shows")
    missing: list[str] = Field(default_factory=list, description="What the page lacks")
    status_code: int | None = None
    redirects: int = 0
    bytes_read: int = 0
    truncated: bool = False
    reason: str | None = None
    checked_at: datetime


class WorkgroupRequest(Contract):
    idempotency_key: str
    workflow_id: str
    partner_id: str
    company: str
    members: list[str] = Field(default_factory=list, description="Usernames on the server")
    topic: str | None = None


class Workgroup(Contract):
    room_id: str
    room_name: str
    room_type: str
    backend: str
    url: str


class SalesReportRecord(Contract):
    idempotency_key: str
    partner_id: str
    workflow_id: str
    month: str
    partner_type: str
    report: dict[str, Any]
    share: dict[str, Any]
    owed_to_rocketchat_cents: int = Field(ge=0)
    invoice_id: str | None = None
    submitted_at: datetime
