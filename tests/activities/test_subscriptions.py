"""The subscriptions records (SQLite and PostgreSQL) and the finance reads of renewals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from activities.database import migrate
from activities.subscriptions import SubscriptionActivities
from models.renewals import SubscriptionRecord
from models.settings import Settings
from starters.finance import list_lapsed_subscriptions, list_upcoming_renewals
from tests.models.test_migrations import database_url  # noqa: F401 (fixture)

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def record(subscription_id: str, expires_in_days: int, **changes: Any) -> SubscriptionRecord:
    expires_at = NOW + timedelta(days=expires_in_days)
    data: dict[str, Any] = {
        "subscription_id": subscription_id,
        "term": 1,
        "workflow_id": f"renewal-{subscription_id}-1",
        "order_id": subscription_id,
        "license_id": f"lic-{subscription_id}",
        "end_customer_name": f"Customer {subscription_id}",
        "end_customer_email": "it@customer.example",
        "reseller_company": "Nordlicht IT GmbH",
        "partner_id": "P-NORDLICHT",
        "starts_at": expires_at - timedelta(days=365),
        "expires_at": expires_at,
        "value_cents": 500_000,
        "currency": "usd",
        "status": "active",
        "at": NOW - timedelta(days=300),
    }
    return SubscriptionRecord.model_validate({**data, **changes})


def settings_for(url: str, tmp_path: Path) -> Settings:
    migrate(url)
    return Settings(PARTNERFLOW_DATA_DIR=tmp_path / "data", DATABASE_URL=url, _env_file=None)


def test_terms_are_recorded_once_and_never_moved_back(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = settings_for(database_url, tmp_path)
    acts = SubscriptionActivities(settings)
    soon = record("ORD-SOON", 40)
    acts.record_subscription(soon)
    acts.record_subscription(soon)  # a retried activity: still one row
    acts.record_subscription(record("ORD-LATER", 200))
    acts.record_subscription(record("ORD-GRACE", -5))  # expired, in its grace period
    acts.record_subscription(record("ORD-RENEWED", 20))
    acts.record_subscription(record("ORD-RENEWED", 20, status="renewed", at=NOW))
    acts.record_subscription(record("ORD-GONE", -40))
    acts.record_subscription(record("ORD-GONE", -40, status="lapsed", at=NOW))
    # A late retry of the first write does not bring the lapsed term back.
    acts.record_subscription(record("ORD-GONE", -40, at=NOW - timedelta(days=1)))

    upcoming = list_upcoming_renewals(settings, NOW)
    assert [r.subscription_id for r in upcoming] == ["ORD-GRACE", "ORD-SOON"]
    assert upcoming[1].value_cents == 500_000 and upcoming[1].currency == "USD"
    assert upcoming[1].reseller == "Nordlicht IT GmbH" and upcoming[1].days_left(NOW) == 40
    assert upcoming[0].days_left(NOW) < 0
    [lapsed] = list_lapsed_subscriptions(settings)
    assert lapsed.subscription_id == "ORD-GONE" and lapsed.status == "lapsed"


def test_the_grace_period_comes_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path / "data", PARTNERFLOW_RENEWAL_GRACE_DAYS=12, _env_file=None
    )
    assert SubscriptionActivities(settings).renewal_policy("ORD-1").grace_days == 12
