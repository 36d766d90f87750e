"""Insights: the facts of human tasks (opened, reminded, escalated, decided) with due times

Revision ID: 0010_insights
Revises: 0007
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_insights"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = ("insights",)
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", STR(length=255), nullable=False),
        sa.Column("workflow_id", STR(length=200), nullable=False),
        sa.Column("workflow_type", STR(length=100), nullable=False),
        sa.Column("program", STR(length=20), nullable=False),
        sa.Column("partner_id", STR(length=64), nullable=True),
        sa.Column("task", STR(length=100), nullable=False),
        sa.Column("event", STR(length=20), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("actor", STR(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        for column in ("workflow_id", "program", "partner_id", "task", "at"):
            batch_op.create_index(f"ix_task_events_{column}", [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_events", schema=None) as batch_op:
        for column in ("at", "task", "partner_id", "program", "workflow_id"):
            batch_op.drop_index(f"ix_task_events_{column}")
    op.drop_table("task_events")
