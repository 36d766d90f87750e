"""0009_portal_deals on SQLite and PostgreSQL: orders get the reseller's partner id; orders
recorded before it take the partner id of their deal registration (none without one), and
the schema then matches the models; downgrading drops the column again."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from activities.database import alembic_config, get_engine, migrate
from models.tables import DealRegistrationRow, OrderRow
from tests.models.test_migrations import database_url, schema_differences

__all__ = ["database_url"]
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _order(order_id: str, deal_number: str | None) -> dict[str, object]:
    return {
        "order_id": order_id, "workflow_id": f"order-{order_id}", "channel": "value_added_reseller",
        "deal_number": deal_number, "reseller_company": "Nordlicht IT GmbH",
        "end_customer_name": "Hanse Logistik AG", "end_customer_country": "DE",
        "amount_cents": 100, "currency": "usd", "status": "paid", "created_at": AT,
        "updated_at": AT,
    }  # fmt: skip


def test_orders_take_the_partner_id_of_their_deal(database_url: str) -> None:
    config = alembic_config(database_url)
    migrate(database_url)
    command.downgrade(config, "0009_portal_deals-1")  # the schema before it
    engine = get_engine(database_url)
    orders = sa.Table("orders", sa.MetaData(), autoload_with=engine)
    assert "reseller_partner_id" not in orders.c
    deals = DealRegistrationRow.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            deals.insert(),
            [{"deal_number": "DR-2026-000311", "workflow_id": "deal-DR-2026-000311",
              "partner_id": "nordlicht", "partner_company": "Nordlicht IT GmbH",
              "end_customer_name": "Hanse Logistik AG", "customer_key": "hanse logistik",
              "sku": "MM-ENT-1Y", "status": "ordered", "created_at": AT, "updated_at": AT}],
        )  # fmt: skip
        conn.execute(orders.insert(), [_order("DR-2026-000311", "DR-2026-000311")])
        conn.execute(orders.insert(), [_order("ORD-DIRECT-1", None)])

    migrate(database_url)
    table = OrderRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(table.c.order_id, table.c.reseller_partner_id)).all())
    assert rows == {"DR-2026-000311": "nordlicht", "ORD-DIRECT-1": None}
    assert schema_differences(database_url) == []

    command.downgrade(config, "0009_portal_deals-1")
    columns = {c["name"] for c in sa.inspect(get_engine(database_url)).get_columns("orders")}
    assert "reseller_partner_id" not in columns
