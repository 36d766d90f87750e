"""Records activities: idempotent decisions and order upserts, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.records import RecordActivities, get_order, list_decisions
from models.contracts import DecisionRecord, OrderRecord
from models.settings import Settings

T0 = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def order(**changes: object) -> OrderRecord:
    base = OrderRecord(
        order_id="PO-2026-0001",
        workflow_id="order-PO-2026-0001",
        channel="value_added_reseller",
        deal_number="DR-2026-000123",
        reseller_company="Reseller GmbH",
        end_customer_name="Customer AG",
        end_customer_country="DE",
        amount_cents=500_000,
        currency="usd",
        status="received",
        at=T0,
    )
    return base.model_copy(update=changes)


def decision(key: str = "deal-DR-1/review", **changes: object) -> DecisionRecord:
    base = DecisionRecord(
        idempotency_key=key,
        workflow_id="deal-DR-1",
        step="review",
        actor="manager@example.com",
        decision="approve",
        detail={"discount_percent": 20, "notes": "Zürich customer"},
        at=T0,
    )
    return base.model_copy(update=changes)


def test_order_insert_then_read(db_settings: Settings) -> None:
    RecordActivities(db_settings).record_order(order())
    assert get_order(db_settings, "PO-2026-0001") == order()
    assert get_order(db_settings, "missing") is None


def test_order_upsert_updates_status_and_amount(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    records.record_order(order())
    later = T0 + timedelta(days=1)
    records.record_order(
        order(status="invoiced", amount_cents=450_000, reseller_company="Renamed", at=later)
    )
    stored = get_order(db_settings, "PO-2026-0001")
    assert stored == order(status="invoiced", amount_cents=450_000, at=later)


def test_order_older_update_ignored(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    records.record_order(order(status="paid", at=T0 + timedelta(hours=2)))
    records.record_order(order(status="invoiced", at=T0 + timedelta(hours=1)))  # late retry
    assert get_order(db_settings, "PO-2026-0001").status == "paid"
    records.record_order(order(status="paid", at=T0 + timedelta(hours=2)))  # same time: ok


def test_decision_once_per_idempotency_key(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    records.record_decision(decision())
    records.record_decision(decision(decision="reject"))  # a retry never rewrites
    assert list_decisions(db_settings, "deal-DR-1") == [decision()]


def test_concurrent_duplicate_decisions(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: records.record_decision(decision()), range(16)))
    assert len(list_decisions(db_settings, "deal-DR-1")) == 1


def test_decisions_listed_in_order_per_workflow(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    records.record_decision(decision("deal-DR-1/quote", step="quote", at=T0 + timedelta(1)))
    records.record_decision(decision())
    records.record_decision(decision("deal-DR-2/review", workflow_id="deal-DR-2"))
    assert [d.step for d in list_decisions(db_settings, "deal-DR-1")] == ["review", "quote"]
    assert list_decisions(db_settings, "nothing") == []


def test_naive_timestamp_is_a_permanent_error(db_settings: Settings) -> None:
    records = RecordActivities(db_settings)
    with pytest.raises(ApplicationError) as info:
        records.record_decision(decision(at=datetime(2026, 11, 23, 10)))
    assert info.value.non_retryable


def test_same_results_on_every_database(db_settings: Settings) -> None:
    """One scenario, one expected outcome, whatever the database."""
    records = RecordActivities(db_settings)
    for hour, status in enumerate(["received", "licensed", "invoiced", "paid"]):
        records.record_order(order(status=status, at=T0 + timedelta(hours=hour)))
        records.record_decision(decision(f"order/{status}", step=status, at=T0))
        records.record_decision(decision(f"order/{status}", step="dup", at=T0))
    stored = get_order(db_settings, "PO-2026-0001")
    assert stored is not None and stored.at.tzinfo is not None
    assert stored.model_dump(mode="json") == order(
        status="paid", at=T0 + timedelta(hours=3)
    ).model_dump(mode="json")
    steps = [(d.idempotency_key, d.step, d.at) for d in list_decisions(db_settings, "deal-DR-1")]
    assert steps == [(f"order/{s}", s, T0) for s in ["received", "licensed", "invoiced", "paid"]]
