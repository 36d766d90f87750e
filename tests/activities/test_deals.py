"""Deal records: numbers allocated once under concurrency, conflicts, approval claims, fees."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deals import DealActivities, allocate_deal_number, get_referral_fee, list_claims
from models.deals import ApprovalClaim, DealConflictQuery, DealRecord, ReferralFeeRecord
from models.settings import Settings

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL, with the same results."""
    return db_settings


def test_same_submission_gets_the_same_number(settings: Settings) -> None:
    first = allocate_deal_number(settings, "sub-a", "p1", 2026)
    assert first == "DR-2026-000001"
    assert allocate_deal_number(settings, "sub-a", "p1", 2026) == first
    assert allocate_deal_number(settings, "sub-b", "p1", 2026) == "DR-2026-000002"
    assert allocate_deal_number(settings, "sub-c", "p1", 2027) == "DR-2027-000001"


def test_concurrent_submissions_get_unique_numbers(settings: Settings) -> None:
    keys = [f"sub-{i % 20}" for i in range(60)]  # 20 submissions, each delivered 3 times
    with ThreadPoolExecutor(12) as pool:
        numbers = list(pool.map(lambda key: allocate_deal_number(settings, key, "p1", 2026), keys))
    by_key: dict[str, set[str]] = {}
    for key, number in zip(keys, numbers, strict=True):
        by_key.setdefault(key, set()).add(number)
    assert all(len(found) == 1 for found in by_key.values())  # same submission, same number
    distinct = {next(iter(found)) for found in by_key.values()}
    assert len(distinct) == 20
    assert sorted(distinct) == [f"DR-2026-{n:06d}" for n in range(1, 21)]


def _record(
    acts: DealActivities,
    number: str,
    partner: str,
    name: str,
    email: str,
    status: str,
    sku: str = "MM-ENT-1Y",
) -> None:
    ActivityEnvironment().run(
        acts.record_deal,
        DealRecord(
            deal_number=number,
            workflow_id=f"deal-{number}",
            partner_id=partner,
            partner_company=partner.title(),
            end_customer_name=name,
            contact_email=email,
            sku=sku,
            status=status,
            at=NOW,
        ),
    )


def test_conflicts_by_normalized_name_or_email_domain(settings: Settings) -> None:
    acts = DealActivities(settings)
    _record(acts, "DR-2026-000001", "alpha", "Hanse Logistik AG", "a@hanse.example", "approved")
    _record(
        acts, "DR-2026-000002", "beta", "Hanse Logistics Holding", "b@hanse.example", "in_review"
    )
    _record(acts, "DR-2026-000003", "gamma", "HANSE-LOGISTIK", "c@gmail.com", "rejected")  # closed
    _record(
        acts,
        "DR-2026-000004",
        "delta",
        "Hanse Logistik",
        "d@other.example",
        "approved",
        sku="MM-PRO-1Y",
    )  # other product
    _record(
        acts, "DR-2026-000005", "mine", "Hanse Logistik AG", "e@hanse.example", "in_review"
    )  # same partner
    query = DealConflictQuery(
        deal_number="DR-2026-000009",
        partner_id="mine",
        end_customer_name="hanse logistik",
        contact_email="x@hanse.example",
        sku="mm-ent-1y",
    )
    conflicts = ActivityEnvironment().run(acts.find_deal_conflicts, query)
    assert [(c.deal_number, c.matched_on) for c in conflicts] == [
        ("DR-2026-000001", "customer name"),
        ("DR-2026-000002", "email domain hanse.example"),
    ]


def test_two_approvals_of_one_opportunity_are_impossible(settings: Settings) -> None:
    acts = DealActivities(settings)
    env = ActivityEnvironment()
    first = ApprovalClaim(
        deal_number="DR-2026-000001",
        end_customer_name="Hanse Logistik AG",
        contact_email="a@hanse.example",
        sku="MM-ENT-1Y",
    )
    second = ApprovalClaim(
        deal_number="DR-2026-000002",
        end_customer_name="Other Name GmbH",
        contact_email="b@hanse.example",
        sku="MM-ENT-1Y",
    )
    assert env.run(acts.claim_deal_approval, first).granted
    assert env.run(acts.claim_deal_approval, first).granted  # idempotent
    refused = env.run(acts.claim_deal_approval, second)
    assert (
        not refused.granted
        and refused.held_by == "DR-2026-000001"
        and refused.matched_on.startswith("domain:")
    )
    assert {c.deal_number for c in list_claims(settings)} == {"DR-2026-000001"}  # all or nothing
    env.run(acts.release_deal_claims, "DR-2026-000001")
    assert env.run(acts.claim_deal_approval, second).granted


def test_concurrent_approvals_grant_exactly_one(settings: Settings) -> None:
    acts = DealActivities(settings)
    claims = [
        ApprovalClaim(
            deal_number=f"DR-2026-{n:06d}",
            end_customer_name="Hanse Logistik AG",
            contact_email=f"x{n}@hanse.example",
            sku="MM-ENT-1Y",
        )
        for n in range(1, 9)
    ]
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda c: ActivityEnvironment().run(acts.claim_deal_approval, c), claims)
        )
    assert sum(r.granted for r in results) == 1


def test_referral_fee_payable_then_paid_once(settings: Settings) -> None:
    acts = DealActivities(settings)
    env = ActivityEnvironment()
    fee = ReferralFeeRecord(
        deal_number="DR-2026-000001",
        workflow_id="deal-DR-2026-000001",
        partner_id="alpha",
        amount_cents=600_000,
        note="Referral fee for deal registration DR-2026-000001",
        status="payable",
        at=NOW,
    )
    env.run(acts.record_referral_fee, fee)
    env.run(acts.record_referral_fee, fee)  # retried
    row = get_referral_fee(settings, "DR-2026-000001")
    assert row is not None and row.status == "payable" and row.amount_cents == 600_000
    env.run(
        acts.record_referral_fee, fee.model_copy(update={"status": "paid", "reference": "PAY-1"})
    )
    env.run(acts.record_referral_fee, fee)  # a late "payable" never reopens it
    row = get_referral_fee(settings, "DR-2026-000001")
    assert (
        row is not None
        and row.status == "paid"
        and row.reference == "PAY-1"
        and row.paid_at is not None
    )
    with pytest.raises(ApplicationError, match="not 1"):
        env.run(acts.record_referral_fee, fee.model_copy(update={"amount_cents": 1}))
