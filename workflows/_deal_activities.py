"""Typed calls to the deal-registration activities, by name (see workflows/_activities.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.deals import (
        ApprovalClaim,
        ClaimResult,
        DealConflict,
        DealConflictQuery,
        DealRecord,
        ReferralFeeRecord,
    )

from temporalio.common import RetryPolicy

from workflows._activities import EXTERNAL, HEARTBEAT

# Reading a child's progress only feeds what operators see: a few quick tries, then the
# next poll.
GLANCE = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)


async def record_deal(record: DealRecord) -> None:
    await workflow.execute_activity(
        "record_deal",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"record deal {record.deal_number} ({record.status})",
    )


async def find_deal_conflicts(query: DealConflictQuery) -> list[DealConflict]:
    return await workflow.execute_activity(
        "find_deal_conflicts",
        query,
        result_type=list[DealConflict],
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"channel conflicts: {query.end_customer_name} / {query.sku}",
    )


async def claim_deal_approval(claim: ApprovalClaim) -> ClaimResult:
    return await workflow.execute_activity(
        "claim_deal_approval",
        claim,
        result_type=ClaimResult,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"hold the opportunity for {claim.deal_number}",
    )


async def release_deal_claims(deal_number: str) -> None:
    await workflow.execute_activity(
        "release_deal_claims",
        deal_number,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"release the opportunity of {deal_number}",
    )


async def record_referral_fee(record: ReferralFeeRecord) -> None:
    await workflow.execute_activity(
        "record_referral_fee",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"referral fee {record.deal_number}: {record.status}",
    )
