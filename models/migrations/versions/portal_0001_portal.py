"""portal: partner contacts, one-time sign-in links, partner sessions

Revision ID: portal_0001
Revises: 0002
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "portal_0001"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = ("portal",)
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "partner_contacts",
        sa.Column("program", _text(length=20), nullable=False),
        sa.Column("partner_id", _text(length=64), nullable=False),
        sa.Column("email", _text(length=320), nullable=False),
        sa.Column("name", _text(length=200), nullable=False),
        sa.Column("added_by", _text(length=200), nullable=False),
        sa.Column("added_at", _time(), nullable=False),
        sa.Column("removed_by", _text(length=200), nullable=True),
        sa.Column("removed_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("program", "partner_id", "email"),
    )
    op.create_table(
        "portal_links",
        sa.Column("token_sha256", _text(length=64), nullable=False),
        sa.Column("program", _text(length=20), nullable=False),
        sa.Column("partner_id", _text(length=64), nullable=False),
        sa.Column("email", _text(length=320), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("used_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_links_email"), ["email"], unique=False)
    op.create_table(
        "portal_sessions",
        sa.Column("sid", _text(length=64), nullable=False),
        sa.Column("program", _text(length=20), nullable=False),
        sa.Column("partner_id", _text(length=64), nullable=False),
        sa.Column("email", _text(length=320), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("sid"),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_sessions_partner_id"), ["partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_partner_id"))
    op.drop_table("portal_sessions")
    with op.batch_alter_table("portal_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_links_email"))
    op.drop_table("portal_links")
    op.drop_table("partner_contacts")
