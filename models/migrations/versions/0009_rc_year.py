"""Rocket.Chat opportunities-portal access revoked when the partnership ends

Revision ID: 0009_rc_year
Revises: 0007 (depends on 0008_rc_summary, which creates the table)
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_rc_year"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = ("rc_year",)
depends_on: str | Sequence[str] | None = "0008_rc_summary"


def upgrade() -> None:
    with op.batch_alter_table("rocketchat_portal_access", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "revocation_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("rocketchat_portal_access", schema=None) as batch_op:
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_at")
