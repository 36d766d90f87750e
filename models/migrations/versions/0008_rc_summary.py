"""Rocket.Chat program summary: opportunities-portal access and Rocket.Chat's partner page

Revision ID: 0008_rc_summary
Revises: 0007
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_rc_summary"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rocketchat_portal_access",
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("backend", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("granted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("rocketchat_portal_access", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rocketchat_portal_access_partner_id"), ["partner_id"], unique=False
        )
    op.create_table(
        "rocketchat_site_listings",
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("company", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("partner_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("services_json", sa.Text(), nullable=False),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("listed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("removal_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("partner_id"),
    )


def downgrade() -> None:
    op.drop_table("rocketchat_site_listings")
    with op.batch_alter_table("rocketchat_portal_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rocketchat_portal_access_partner_id"))
    op.drop_table("rocketchat_portal_access")
