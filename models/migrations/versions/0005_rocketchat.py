"""Rocket.Chat partnership: community workgroups and monthly sales reports

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = ("rocketchat",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rocketchat_workgroups",
        sa.Column("room_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("room_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("room_type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("backend", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("server_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("members_json", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("room_name"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("rocketchat_workgroups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rocketchat_workgroups_partner_id"), ["partner_id"], unique=False
        )

    op.create_table(
        "rocketchat_sales_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("partner_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("share_json", sa.Text(), nullable=False),
        sa.Column("owed_to_rocketchat_cents", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("rocketchat_sales_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rocketchat_sales_reports_month"), ["month"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rocketchat_sales_reports_partner_id"), ["partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rocketchat_sales_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rocketchat_sales_reports_partner_id"))
        batch_op.drop_index(batch_op.f("ix_rocketchat_sales_reports_month"))
    op.drop_table("rocketchat_sales_reports")
    with op.batch_alter_table("rocketchat_workgroups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rocketchat_workgroups_partner_id"))
    op.drop_table("rocketchat_workgroups")
