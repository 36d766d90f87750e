"""Subscription records (the `subscriptions` table) and the renewal settings, for
`SubscriptionRenewal`; plus the finance reads of upcoming and lapsed renewals.

A term's row is keyed by `{subscription_id}:{term}` and written with one `INSERT ... ON
CONFLICT` statement: a retried activity never makes a second row, and a write older than
the stored one (`record.at` before `updated_at`) never moves the term back to an earlier
status.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table
from sqlmodel import col, select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from models.renewals import RenewalPolicy, SubscriptionRecord
from models.settings import Settings
from models.tables import SubscriptionRow


class SubscriptionActivities:
    """Activities bound to one records database and the renewal settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn(name="record_subscription")
    def record_subscription(self, record: SubscriptionRecord) -> None:
        """Insert the term, or update its status, expiry, value and renewal order."""
        at = require_aware(record.at, "SubscriptionRecord.at")
        engine = get_engine(self.settings.resolved_database_url)
        table: Table = SubscriptionRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"at"}) | {
            "id": f"{record.subscription_id}:{record.term}",
            "currency": record.currency.lower(),
            "created_at": at,
            "updated_at": at,
        }
        stmt = upsert_statement(engine, table).values(**values)
        changed = ("status", "expires_at", "value_cents", "renewal_order_id", "updated_at")
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={name: stmt.excluded[name] for name in changed},
            where=table.c.updated_at <= stmt.excluded.updated_at,
        )
        execute_write(engine, stmt)

    @activity.defn(name="renewal_policy")
    def renewal_policy(self, subscription_id: str) -> RenewalPolicy:
        """The grace period after expiry before an unrenewed subscription lapses
        (`PARTNERFLOW_RENEWAL_GRACE_DAYS`)."""
        return RenewalPolicy(grace_days=self.settings.renewal_grace_days)


def upcoming_renewal_rows(
    settings: Settings, now: datetime, *, within_days: int = 90
) -> list[SubscriptionRow]:
    """Active terms expiring in the next `within_days` days (or expired, still in their
    grace period), soonest first."""
    until = now + timedelta(days=within_days)
    with session_scope(settings.resolved_database_url) as session:
        query = (
            select(SubscriptionRow)
            .where(SubscriptionRow.status == "active")
            .where(col(SubscriptionRow.expires_at) <= until)
            .order_by(col(SubscriptionRow.expires_at), col(SubscriptionRow.id))
        )
        return list(session.exec(query))


def lapsed_subscription_rows(settings: Settings, limit: int = 200) -> list[SubscriptionRow]:
    """Lapsed terms, most recently expired first."""
    with session_scope(settings.resolved_database_url) as session:
        query = (
            select(SubscriptionRow)
            .where(SubscriptionRow.status == "lapsed")
            .order_by(col(SubscriptionRow.expires_at).desc(), col(SubscriptionRow.id))
            .limit(limit)
        )
        return list(session.exec(query))
