"""form intake: deliveries of the forms that advance a running process

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("intake",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_deliveries",
        sa.Column("delivery_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("signal", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    with op.batch_alter_table("form_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_deliveries_workflow_id"), ["workflow_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("form_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_deliveries_workflow_id"))
    op.drop_table("form_deliveries")
