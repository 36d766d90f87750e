"""partner directory: published listings and logos

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = ("lifecycle",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_listings",
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("partner_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("logo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("logo_content_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("territory_json", sa.Text(), nullable=False),
        sa.Column("industries_json", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    with op.batch_alter_table("directory_listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_listings_country"), ["country"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_listings_partner_type"), ["partner_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_listings_program"), ["program"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_directory_listings_workflow_id"), ["workflow_id"], unique=False
        )

    op.create_table(
        "directory_logos",
        sa.Column("logo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("logo_id"),
    )


def downgrade() -> None:
    op.drop_table("directory_logos")
    with op.batch_alter_table("directory_listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_listings_workflow_id"))
        batch_op.drop_index(batch_op.f("ix_directory_listings_program"))
        batch_op.drop_index(batch_op.f("ix_directory_listings_partner_type"))
        batch_op.drop_index(batch_op.f("ix_directory_listings_country"))

    op.drop_table("directory_listings")
