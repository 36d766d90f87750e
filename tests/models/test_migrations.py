"""Migrations produce exactly the schema of `models/tables.py`, on SQLite and PostgreSQL.

PostgreSQL runs use the server at `PARTNERFLOW_TEST_POSTGRES_URL` (default
`postgresql://postgres@127.0.0.1:5432/test`), each in a fresh schema dropped afterwards;
they are skipped, with the connection error, when the server is not reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from activities.database import alembic_config, get_engine, migrate
from activities.records import RecordActivities, get_order, list_decisions
from models.contracts import DecisionRecord, OrderRecord
from models.settings import Settings
from tests.postgres import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (nothing migrated yet) of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        with postgres_schema() as url:
            yield url


def schema_differences(url: str) -> list:
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def table_names(url: str) -> set[str]:
    return set(sa.inspect(get_engine(url)).get_table_names())


def test_migrated_schema_matches_models(database_url: str) -> None:
    migrate(database_url)
    assert schema_differences(database_url) == []
    assert table_names(database_url) == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_migrate_is_repeatable_and_reversible(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # safe on every start
    command.downgrade(alembic_config(database_url), "base")
    assert table_names(database_url) == {"alembic_version"}
    migrate(database_url)
    assert schema_differences(database_url) == []


def test_records_work_on_migrated_schema(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path / "data", DATABASE_URL=database_url, _env_file=None
    )
    records = RecordActivities(settings)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    order = OrderRecord(
        order_id="PO-1",
        workflow_id="order-PO-1",
        channel="authorized_reseller",
        reseller_company="Reseller GmbH",
        end_customer_name="Customer AG",
        end_customer_country="DE",
        amount_cents=123_400,
        currency="usd",
        status="received",
        at=at,
    )
    records.record_order(order)
    decision = DecisionRecord(
        idempotency_key="order-PO-1/review",
        workflow_id="order-PO-1",
        step="review",
        actor="ops@example.com",
        decision="approve",
        detail={"notes": "ok"},
        at=at,
    )
    records.record_decision(decision)
    records.record_decision(decision)
    assert get_order(settings, "PO-1") == order
    assert list_decisions(settings, "order-PO-1") == [decision]
