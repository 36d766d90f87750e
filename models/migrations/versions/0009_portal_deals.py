"""portal deals: the reseller's partner id on orders (the partner portal lists a partner's
orders by it); orders recorded before it take the partner id of their deal registration

Revision ID: 0009_portal_deals
Revises: 0007
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_portal_deals"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = ("portal_deals",)
depends_on: str | Sequence[str] | None = "0003"  # the backfill reads deal_registrations

INDEX = "ix_orders_reseller_partner_id"


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reseller_partner_id",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=True,
            )
        )
        batch_op.create_index(INDEX, ["reseller_partner_id"], unique=False)
    orders = sa.table(
        "orders",
        sa.column("deal_number", sa.String),
        sa.column("reseller_partner_id", sa.String),
    )
    deals = sa.table(
        "deal_registrations",
        sa.column("deal_number", sa.String),
        sa.column("partner_id", sa.String),
    )
    of_the_deal = (
        sa.select(deals.c.partner_id)
        .where(deals.c.deal_number == orders.c.deal_number)
        .scalar_subquery()
    )
    op.execute(
        orders.update()
        .where(orders.c.reseller_partner_id.is_(None), orders.c.deal_number.is_not(None))
        .values(reseller_partner_id=of_the_deal)
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("reseller_partner_id")
