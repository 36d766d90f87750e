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


def _partner_row(partner_id: str, program: str, at: datetime) -> dict[str, object]:
    return {
        "partner_id": partner_id,
        "program": program,
        "partner_type": "value_added_reseller" if program == "mattermost" else "hosting",
        "company": f"{partner_id} ({program})",
        "country": "DE",
        "contact_name": "Lena",
        "contact_email": "lena@example.com",
        "status": "active",
        "discount_percent": 20,
        "attributes_json": "{}",
        "created_at": at,
        "updated_at": at,
    }


def _listing_row(partner_id: str, program: str, at: datetime) -> dict[str, object]:
    return {
        "partner_id": partner_id,
        "workflow_id": f"directory-{partner_id}",
        "program": program,
        "partner_type": "value_added_reseller",
        "name": f"{partner_id} ({program})",
        "description": "d",
        "city": "Kiel",
        "country": "DE",
        "website": "https://example.com",
        "logo_id": "0" * 32,
        "logo_content_type": "image/png",
        "territory_json": "[]",
        "industries_json": "[]",
        "version": 1,
        "published_at": at,
        "updated_at": at,
    }


def test_program_partners_migration_carries_the_rows_over(
    database_url: str, tmp_path: Path
) -> None:
    """0008_program_partners: the partners and listings recorded when they were keyed by
    partner id alone are there after it, each with its program; then the same id can be a
    partner (and a listing) of each program. Downgrading keeps the Mattermost one."""
    from activities.directory import get_listing
    from activities.partners import get_partner
    from models.tables import DirectoryListingRow, PartnerRow

    config = alembic_config(database_url)
    migrate(database_url)
    command.downgrade(config, "0008_program_partners-1")  # the schema before it
    partners = PartnerRow.__table__  # type: ignore[attr-defined]
    listings = DirectoryListingRow.__table__  # type: ignore[attr-defined]
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    engine = get_engine(database_url)
    with engine.begin() as conn:
        conn.execute(partners.insert(), [_partner_row("acme", "mattermost", at)])
        conn.execute(partners.insert(), [_partner_row("orbit", "rocketchat", at)])
        conn.execute(listings.insert(), [_listing_row("acme", "mattermost", at)])
        with pytest.raises(sa.exc.IntegrityError):  # the old key: one partner per id
            with conn.begin_nested():
                conn.execute(partners.insert(), [_partner_row("acme", "rocketchat", at)])

    migrate(database_url)
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path / "data", DATABASE_URL=database_url, _env_file=None
    )
    acme = get_partner(settings, "mattermost", "acme")
    orbit = get_partner(settings, "rocketchat", "orbit")
    assert acme is not None and (acme.company, acme.discount_percent) == ("acme (mattermost)", 20)
    assert orbit is not None and orbit.partner_type == "hosting"
    assert get_partner(settings, "rocketchat", "acme") is None
    assert get_partner(settings, "mattermost", "orbit") is None
    listing = get_listing(settings, "mattermost", "acme")
    assert listing is not None and listing.name == "acme (mattermost)"

    with engine.begin() as conn:  # the new key: the same id in the other program
        conn.execute(partners.insert(), [_partner_row("acme", "rocketchat", at)])
        conn.execute(listings.insert(), [_listing_row("acme", "rocketchat", at)])
    rc_acme = get_partner(settings, "rocketchat", "acme")
    assert rc_acme is not None and rc_acme.company == "acme (rocketchat)"
    assert get_partner(settings, "mattermost", "acme") == acme
    assert schema_differences(database_url) == []

    command.downgrade(config, "0008_program_partners-1")
    with engine.connect() as conn:
        kept = conn.execute(sa.select(partners.c.program, partners.c.partner_id)).all()
        listed = conn.execute(sa.select(listings.c.program, listings.c.partner_id)).all()
    assert sorted(kept) == [("mattermost", "acme"), ("rocketchat", "orbit")]
    assert listed == [("mattermost", "acme")]
