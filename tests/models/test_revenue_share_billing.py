"""The pure rules of the revenue share to the bank: a Technology Provider's split from
Rocket.Chat's own referrals and special splits, and what counts against `fees_paid`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.revenue_share import month_end, revenue_share, unpaid_dues
from models.rocketchat import FeeInvoice, SalesReport
from models.rocketchat_billing import Referral, ShareInvoice, SpecialSplit

NOW = datetime(2027, 2, 15, 12, 0, tzinfo=UTC)


def _report(*projects: tuple[str, int]) -> SalesReport:
    return SalesReport(
        month="2026-11",
        submitted_by="ana@partner.example",
        deals_closed=1,
        sales_closed_cents=0,
        prospective_sales=0,
        share_statistics=True,
        referred_projects=[{"name": n, "amount_cents": c} for n, c in projects],  # type: ignore[misc]
    )


def _referral(project: str, on: date = date(2026, 11, 2)) -> Referral:
    return Referral(client="Clinic", project=project, referred_on=on, recorded_by="sales@rc")


def test_only_rocketchats_referrals_are_split_and_the_partners_report_alone_is_not() -> None:
    report = _report(("Clinic chat", 1_000_001), ("Own shop", 50_000), ("Late one", 10_000))
    referrals = [_referral(" clinic  CHAT"), _referral("Late one", date(2026, 12, 1))]
    share = revenue_share("technology_provider", report, referrals, [])
    assert [(line.kind, line.rocketchat_cents, line.partner_cents) for line in share.lines] == [
        ("referred_project", 300_000, 700_001),
        ("unreferred_project", 0, 50_000),
        ("unreferred_project", 0, 10_000),  # referred after the reported month
    ]
    # Without referrals asked (histories from before), the report alone decides.
    assert revenue_share("technology_provider", report).owed_to_rocketchat_cents == 318_000


def test_a_special_split_replaces_30_70_for_its_project_the_last_one_set_wins() -> None:
    report = _report(("Clinic chat", 200_001))
    splits = [
        SpecialSplit(
            project="Clinic chat", rocketchat_percent=10, partner_percent=90, approved_by="a"
        ),
        SpecialSplit(
            project="CLINIC chat", rocketchat_percent=25, partner_percent=75, approved_by="b"
        ),
    ]
    [line] = revenue_share("technology_provider", report, [_referral("Clinic chat")], splits).lines
    assert (line.rocketchat_cents, line.partner_cents) == (50_000, 150_001)  # 50,000.25 -> 50,000
    assert "special split 25/75 approved by b" in line.description


def test_a_special_split_adds_up_to_100_naming_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        SpecialSplit(project="p", rocketchat_percent=20, partner_percent=70, approved_by="a")
    assert error.value.errors()[0]["loc"] == ("partner_percent",)


def test_month_end() -> None:
    assert [month_end(m) for m in ("2026-11", "2026-12", "2028-02")] == [
        date(2026, 11, 30),
        date(2026, 12, 31),
        date(2028, 2, 29),
    ]


def _share(month: str, stage: str, due: datetime) -> ShareInvoice:
    return ShareInvoice(
        month=month,
        workflow_id=f"rc-revenue-share-p-{month}",
        invoice_id=f"in_{month}",
        invoice_number=f"PF-{month}",
        amount_cents=75_002,
        due_at=due,
        stage=stage,  # type: ignore[arg-type]
    )


def test_unpaid_dues_name_each_share_and_fee_past_due() -> None:
    shares = [
        _share("2026-12", "open", NOW + timedelta(days=3)),  # not yet due
        _share("2026-11", "open", NOW - timedelta(hours=1)),  # past due, not yet marked
        _share("2026-10", "uncollectible", NOW - timedelta(days=40)),
        _share("2026-09", "paid", NOW - timedelta(days=70)),
        _share("2026-08", "void", NOW - timedelta(days=100)),
    ]
    fees = [
        FeeInvoice(year=1, invoice_id="in_fee1", amount_cents=120_000, due_at=NOW, paid=False),
        FeeInvoice(year=2, invoice_id="in_fee2", amount_cents=120_000, due_at=NOW + timedelta(1)),
    ]
    assert unpaid_dues(shares, fees, NOW) == [
        "revenue share 2026-10 (invoice PF-2026-10, USD 750.02) is uncollectible",
        "revenue share 2026-11 (invoice PF-2026-11, USD 750.02) is overdue",
        "program fee year 1 (invoice in_fee1, USD 1,200.00) is unpaid",
    ]
    assert unpaid_dues([], [], NOW) == []
