"""Deal-registration records: deal numbers, the registrations that channel-conflict checks
read, the approved registrations' hold on their opportunity, and referral-fee payables.

Every write is idempotent: a retried activity finds its earlier write. Deal numbers are
allocated once per submission (unique `submission_key`) and never twice (unique year and
sequence), also under concurrent submissions on SQLite or PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from activities.errors import InvalidRecord
from models.deals import (
    OPEN_STATUSES,
    ApprovalClaim,
    ClaimResult,
    DealConflict,
    DealConflictQuery,
    DealRecord,
    ReferralFeeRecord,
    email_domain,
    format_deal_number,
    normalize_company,
    opportunity_keys,
)
from models.settings import Settings
from models.tables import (
    DealClaimRow,
    DealNumberRow,
    DealRegistrationRow,
    OrderRow,
    ReferralFeeRow,
)

ALLOCATION_ATTEMPTS = 100


def allocate_deal_number(
    settings: Settings, submission_key: str, partner_id: str, year: int | None = None
) -> str:
    """The deal number of this submission: the one it already has, else the next of the year."""
    year = year or datetime.now(UTC).year
    url = settings.resolved_database_url
    for _ in range(ALLOCATION_ATTEMPTS):
        with session_scope(url) as session:
            existing = session.exec(
                select(DealNumberRow).where(DealNumberRow.submission_key == submission_key)
            ).first()
            if existing is not None:
                return existing.deal_number
            last = session.exec(
                select(func.max(DealNumberRow.sequence)).where(DealNumberRow.year == year)
            ).one()
        sequence = (last or 0) + 1
        number = format_deal_number(year, sequence)
        try:
            with session_scope(url) as session:
                session.add(
                    DealNumberRow(
                        deal_number=number,
                        submission_key=submission_key,
                        year=year,
                        sequence=sequence,
                        partner_id=partner_id,
                    )
                )
        except IntegrityError:
            continue  # another submission took this sequence, or this one was allocated meanwhile
        return number
    raise RuntimeError(
        f"could not allocate a deal number for {submission_key} "
        f"after {ALLOCATION_ATTEMPTS} attempts"
    )


def get_registration(settings: Settings, deal_number: str) -> DealRegistrationRow | None:
    """The registration with the deal number, or None."""
    with session_scope(settings.resolved_database_url) as session:
        return session.get(DealRegistrationRow, deal_number)


def orders_naming(settings: Settings, deal_number: str) -> int:
    """How many orders on record name the deal registration (its discount's use)."""
    with session_scope(settings.resolved_database_url) as session:
        rows = session.exec(select(OrderRow.order_id).where(OrderRow.deal_number == deal_number))
        return len(rows.all())


def get_referral_fee(settings: Settings, deal_number: str) -> ReferralFeeRow | None:
    """The referral-fee payable of the deal, or None."""
    with session_scope(settings.resolved_database_url) as session:
        return session.get(ReferralFeeRow, deal_number)


def list_claims(settings: Settings) -> list[DealClaimRow]:
    """The opportunities approved registrations hold, by opportunity."""
    with session_scope(settings.resolved_database_url) as session:
        return list(session.exec(select(DealClaimRow).order_by(col(DealClaimRow.opportunity_key))))


class DealActivities:
    """Deal-registration writes and the conflict check, bound to one records database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url

    @activity.defn(name="record_deal")
    def record_deal(self, record: DealRecord) -> None:
        """Insert the registration or update its status; an older update is ignored."""
        at = require_aware(record.at, "DealRecord.at")
        engine = get_engine(self.url)
        table: Table = DealRegistrationRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"at", "contact_email"}) | {
            "customer_key": normalize_company(record.end_customer_name),
            "email_domain": email_domain(record.contact_email),
            "created_at": at,
            "updated_at": at,
        }
        stmt = upsert_statement(engine, table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.deal_number],
            set_={
                name: stmt.excluded[name] for name in ("status", "protected_until", "updated_at")
            },
            where=table.c.updated_at <= stmt.excluded.updated_at,
        )
        execute_write(engine, stmt)

    @activity.defn(name="find_deal_conflicts")
    def find_deal_conflicts(self, query: DealConflictQuery) -> list[DealConflict]:
        """Open or approved registrations of the same product for the same customer (by
        normalized name or contact email domain) by another partner."""
        key = normalize_company(query.end_customer_name)
        domain = email_domain(query.contact_email)
        sku = query.sku.strip().upper()
        matches = [col(DealRegistrationRow.customer_key) == key]
        if domain:
            matches.append(col(DealRegistrationRow.email_domain) == domain)
        with session_scope(self.url) as session:
            rows = session.exec(
                select(DealRegistrationRow).where(
                    DealRegistrationRow.deal_number != query.deal_number,
                    DealRegistrationRow.partner_id != query.partner_id,
                    col(DealRegistrationRow.status).in_(OPEN_STATUSES),
                    or_(*matches),
                )
            ).all()
        conflicts = []
        for row in rows:
            if row.sku.strip().upper() != sku:
                continue
            matched = "customer name" if row.customer_key == key else f"email domain {domain}"
            conflicts.append(
                DealConflict(
                    deal_number=row.deal_number,
                    partner_id=row.partner_id,
                    partner_company=row.partner_company,
                    status=row.status,
                    matched_on=matched,
                )
            )
        return sorted(conflicts, key=lambda c: c.deal_number)

    @activity.defn(name="claim_deal_approval")
    def claim_deal_approval(self, claim: ApprovalClaim) -> ClaimResult:
        """Hold the opportunity for this deal, all keys or none; idempotent for the same deal.
        Refused when another approved registration holds one of its keys."""
        keys = opportunity_keys(claim.end_customer_name, claim.contact_email, claim.sku)
        try:
            with session_scope(self.url) as session:
                for key in keys:
                    held = session.get(DealClaimRow, key)
                    if held is None:
                        session.add(
                            DealClaimRow(opportunity_key=key, deal_number=claim.deal_number)
                        )
                        session.flush()
                    elif held.deal_number != claim.deal_number:
                        raise _Held(held.deal_number, key)
        except _Held as held:
            return ClaimResult(granted=False, held_by=held.deal_number, matched_on=held.key)
        except IntegrityError:
            # A concurrent approval took a key between the read and the write: read again.
            return self.claim_deal_approval(claim)
        return ClaimResult(granted=True)

    @activity.defn(name="release_deal_claims")
    def release_deal_claims(self, deal_number: str) -> None:
        """Free the opportunity (the approved registration lapsed or was withdrawn)."""
        with session_scope(self.url) as session:
            claims = col(DealClaimRow.deal_number) == deal_number
            session.exec(delete(DealClaimRow).where(claims))

    @activity.defn(name="record_referral_fee")
    def record_referral_fee(self, record: ReferralFeeRecord) -> None:
        """Record the payable once per deal; `paid` updates it with the payment reference.
        A payable never goes back from paid, and its amount never changes."""
        at = require_aware(record.at, "ReferralFeeRecord.at")
        with session_scope(self.url) as session:
            row = session.get(ReferralFeeRow, record.deal_number)
            if row is None:
                session.add(
                    ReferralFeeRow(
                        deal_number=record.deal_number,
                        workflow_id=record.workflow_id,
                        partner_id=record.partner_id,
                        amount_cents=record.amount_cents,
                        currency=record.currency,
                        note=record.note,
                        status=record.status,
                        reference=record.reference,
                        created_at=at,
                        paid_at=at if record.status == "paid" else None,
                    )
                )
                return
            if row.amount_cents != record.amount_cents:
                raise InvalidRecord(
                    f"referral fee of {record.deal_number} is {row.amount_cents} cents, "
                    f"not {record.amount_cents}"
                )
            if record.status == "paid" and row.status != "paid":
                row.status, row.reference, row.paid_at = "paid", record.reference, at
                session.add(row)


class _Held(Exception):
    def __init__(self, deal_number: str, key: str) -> None:
        super().__init__(deal_number)
        self.deal_number = deal_number
        self.key = key
