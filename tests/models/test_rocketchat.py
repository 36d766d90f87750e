"""Rocket.Chat program rules: services per type, contract terms, goals, dates, revenue share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models.revenue_share import fee_years, percent_of, program_fee_cents, revenue_share
from models.rocketchat import (
    SERVICES,
    ContractTerms,
    Goal,
    GoalsSet,
    QuarterReview,
    ReportSummary,
    ReviewDecision,
    RocketChatApplication,
    SalesReport,
    add_months,
    evaluate_goals,
    goal_attainment,
    goal_line,
    months_due_in,
    propose_outcome,
    quarter_bounds,
    report_due_at,
    training_schedule,
)

APP = {
    "partner_id": "porto-chat",
    "company": "Porto Chat Lda",
    "country": "pt",
    "website": "https://portochat.example",
    "contact": {"name": "Ana Costa", "email": "ana@portochat.example"},
    "partner_type": "technology_provider",
    "services": ["integrations", "bots"],
}


def report(**kw: object) -> SalesReport:
    base = {
        "month": "2026-12",
        "submitted_by": "ana@portochat.example",
        "deals_closed": 1,
        "sales_closed_cents": 100,
        "prospective_sales": 0,
        "share_statistics": True,
    }
    return SalesReport.model_validate({**base, **kw})


def test_services_come_from_the_seed_per_type() -> None:
    assert list(SERVICES["hosting"].values()) == ["Private Cloud Hosting"]
    assert (
        len(SERVICES["technology_provider"]) == 10
        and "Brand Theming" in SERVICES["technology_provider"].values()
    )
    assert "Resale of Rocket.Chat Premium" in SERVICES["value_added"].values()
    app = RocketChatApplication.model_validate(APP)
    assert app.country == "PT"
    with pytest.raises(ValidationError, match="not services of a Hosting Partner"):
        RocketChatApplication.model_validate({**APP, "partner_type": "hosting"})
    with pytest.raises(ValidationError):
        RocketChatApplication.model_validate({**APP, "services": []})


def test_term_shorter_than_a_year_is_refused() -> None:
    assert (
        ContractTerms(
            prepared_by="am", term_months=12, support_contract_reference="SUP-1"
        ).term_months
        == 12
    )
    with pytest.raises(ValidationError, match="at least one year"):
        ContractTerms(prepared_by="am", term_months=11, support_contract_reference="SUP-1")


def test_goals_are_measurable_and_unique() -> None:
    with pytest.raises(ValidationError):
        GoalsSet(
            agreed_by="x", goals=[Goal(metric="deals_closed", quarter_target=2, year_target=8)] * 2
        )
    with pytest.raises(ValidationError, match="year target"):
        Goal(metric="deals_closed", quarter_target=5, year_target=4)
    with pytest.raises(ValidationError, match="needs notes"):
        ReviewDecision(reviewer="r", quarter=1, outcome="warning")


def test_dates_quarters_reports_training() -> None:
    signed = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert add_months(signed, 3) == datetime(2027, 2, 28, 15, 0, tzinfo=UTC)
    start, end = quarter_bounds(signed, 2)
    assert (start, end) == (
        datetime(2027, 2, 28, 15, tzinfo=UTC),
        datetime(2027, 5, 30, 15, tzinfo=UTC),
    )
    assert report_due_at("2026-12") == datetime(2027, 1, 10, tzinfo=UTC)
    term_end = add_months(signed, 12)
    assert months_due_in(signed, term_end, *quarter_bounds(signed, 1)) == [
        "2026-11",
        "2026-12",
        "2027-01",
    ]
    reminders, deadline, escalation = training_schedule(signed)
    assert [(r - signed).days for r in reminders] == [30, 45, 55]
    assert (deadline - signed).days == 60 and (escalation - signed).days == 61


def _summary(month: str, deals: int, cents: int, staff: int) -> ReportSummary:
    return ReportSummary(
        month=month,
        submitted_at=datetime(2027, 1, 1, tzinfo=UTC),
        deals_closed=deals,
        sales_closed_cents=cents,
        prospective_sales=2,
        certified_staff=staff,
        share_statistics=True,
        owed_to_rocketchat_cents=0,
    )


def test_goal_attainment_and_review_proposal() -> None:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    summaries = [
        _summary(m, d, c, s)
        for m, d, c, s in [("2026-11", 1, 500_00, 1), ("2026-12", 2, 250_00, 3)]
    ]
    goals = [
        Goal(metric="deals_closed", quarter_target=4, year_target=16),
        Goal(metric="revenue_cents", quarter_target=0, year_target=0),
        Goal(metric="certified_staff", quarter_target=2, year_target=2),
    ]
    assert goal_attainment(goals, summaries) == {
        "deals_closed": {"target": 4, "achieved": 3, "percent": 75},
        "revenue_cents": {"target": 0, "achieved": 750_00, "percent": 100},
        "certified_staff": {"target": 2, "achieved": 3, "percent": 150},
    }
    failed = QuarterReview(quarter=1, period_start=at, period_end=at, failures=["monthly_reports"])
    ok = QuarterReview(quarter=1, period_start=at, period_end=at)
    assert propose_outcome([], [failed]) == "compliant"
    assert propose_outcome(["fee_paid"], [ok]) == "warning"
    assert propose_outcome(["fee_paid"], []) == "warning"
    assert propose_outcome(["fee_paid"], [ok, failed]) == "removal"


def test_evaluate_goals_per_quarter_and_year() -> None:
    quarter = [_summary("2027-01", 1, 100_00, 1), _summary("2027-02", 2, 50_00, 3)]
    year = [*quarter, _summary("2026-10", 5, 0, 2), _summary("2026-11", 4, 0, 1)]
    goals = [
        Goal(metric="deals_closed", quarter_target=4, year_target=12),
        Goal(metric="revenue_cents", quarter_target=0, year_target=0),
        Goal(metric="certified_staff", quarter_target=2, year_target=3),
        Goal(metric="prospective_sales", quarter_target=4, year_target=9),
    ]
    only_quarter = evaluate_goals(goals, quarter)
    assert [(a.period, a.metric, a.reported, a.target, a.percent, a.met) for a in only_quarter] == [
        ("quarter", "deals_closed", 3, 4, 75, False),
        ("quarter", "revenue_cents", 150_00, 0, 100, True),
        ("quarter", "certified_staff", 3, 2, 150, True),
        ("quarter", "prospective_sales", 4, 4, 100, True),
    ]
    with_year = evaluate_goals(goals, quarter, year)
    assert with_year[:4] == only_quarter
    assert [(a.metric, a.reported, a.target, a.percent, a.met) for a in with_year[4:]] == [
        ("deals_closed", 12, 12, 100, True),
        ("revenue_cents", 150_00, 0, 100, True),
        ("certified_staff", 3, 3, 100, True),
        ("prospective_sales", 8, 9, 88, False),
    ]
    assert goal_line(only_quarter[0]) == "quarter deals_closed: 3 of 4 (75%), missed"
    assert evaluate_goals(goals, [])[0].reported == 0  # no reports: nothing attained
    # A missed goal with every requirement met proposes a warning, never removal by itself.
    at = datetime(2027, 1, 1, tzinfo=UTC)
    failed = QuarterReview(quarter=1, period_start=at, period_end=at, failures=["fees_paid"])
    assert propose_outcome([], [failed], only_quarter) == "warning"
    assert propose_outcome([], [failed], with_year[1:3]) == "compliant"
    assert propose_outcome(["fees_paid"], [failed], only_quarter) == "removal"


def test_percent_rounds_half_up_to_the_cent() -> None:
    assert percent_of(1, 30) == 0  # 0.3 cent
    assert percent_of(5, 30) == 2  # 1.5 cents -> 2
    assert percent_of(15, 30) == 5  # 4.5 cents -> 5
    assert percent_of(12_345_67, 30) == 3_703_70  # 370,370.1 cents -> 370,370
    with pytest.raises(ValueError):
        percent_of(-1, 30)


def test_hosting_partner_pays_30_percent_of_hosting_revenue() -> None:
    share = revenue_share(
        "hosting",
        report(
            hosting_revenue_cents=10_000_05, referred_projects=[{"name": "X", "amount_cents": 1000}]
        ),
    )
    [line] = share.lines  # referred projects are a Technology Provider rule
    assert (
        line.rocketchat_cents == 3_000_02 and line.partner_cents == 7_000_03
    )  # 300,001.5 -> 300,002
    assert share.owed_to_rocketchat_cents == 3_000_02


def test_technology_provider_referred_projects_30_70() -> None:
    share = revenue_share(
        "technology_provider",
        report(
            hosting_revenue_cents=999_99,
            referred_projects=[
                {"name": "Hospital chat", "amount_cents": 40_000_00},
                {"name": "Odd", "amount_cents": 3_33},
            ],
        ),
    )
    assert [(line.rocketchat_cents, line.partner_cents) for line in share.lines] == [
        (12_000_00, 28_000_00),
        (1_00, 2_33),
    ]  # 99.9 -> 100
    assert share.owed_to_rocketchat_cents == 12_001_00
    assert all(
        line.rocketchat_cents + line.partner_cents == line.gross_cents for line in share.lines
    )


@pytest.mark.parametrize(
    ("partner_type", "owed"),
    [
        ("technology_provider", 2_000_00 * 3 - 1_200_00 + 7_999_99 - 1_600_00),
        ("value_added", 2_000_00 * 3 - 1_200_00 + 7_999_99 - 1_600_00),
        ("hosting", 2_000_00 * 3 + 7_999_99),
    ],
)
def test_premium_offers_get_20_percent_off_for_tp_and_vap(partner_type: str, owed: int) -> None:
    offers = [
        {
            "product": "support_plan",
            "description": "Pro support",
            "quantity": 3,
            "list_price_cents": 2_000_00,
        },
        {
            "product": "enterprise_license",
            "description": "Enterprise",
            "quantity": 1,
            "list_price_cents": 7_999_99,
        },
    ]
    share = revenue_share(partner_type, report(premium_offers=offers))
    assert share.owed_to_rocketchat_cents == owed
    if partner_type != "hosting":
        assert [line.discount_cents for line in share.lines] == [
            1_200_00,
            1_600_00,
        ]  # 159,999.8 -> 160,000


def test_value_added_partner_keeps_referred_projects_and_hosting() -> None:
    share = revenue_share(
        "value_added",
        report(
            hosting_revenue_cents=5_000_00,
            referred_projects=[{"name": "X", "amount_cents": 1_000_00}],
        ),
    )
    assert share.lines == [] and share.owed_to_rocketchat_cents == 0


def test_yearly_program_fee() -> None:
    assert program_fee_cents() == 1_200_00 and program_fee_cents(3) == 3_600_00
    assert fee_years(12) == 1 and fee_years(13) == 2 and fee_years(36) == 3
