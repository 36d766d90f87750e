"""deal registrations: deal numbers, registrations, opportunity claims, referral fees

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = ("deals",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deal_numbers",
        sa.Column("deal_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("submission_key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("deal_number"),
        sa.UniqueConstraint("submission_key"),
        sa.UniqueConstraint("year", "sequence", name="uq_deal_numbers_year_sequence"),
    )
    op.create_table(
        "deal_registrations",
        sa.Column("deal_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("partner_company", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "end_customer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("customer_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email_domain", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("protected_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("deal_number"),
    )
    with op.batch_alter_table("deal_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deal_registrations_workflow_id"), ["workflow_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deal_registrations_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deal_registrations_customer_key"), ["customer_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deal_registrations_email_domain"), ["email_domain"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deal_registrations_status"), ["status"], unique=False)

    op.create_table(
        "deal_claims",
        sa.Column("opportunity_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("deal_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_key"),
    )
    with op.batch_alter_table("deal_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deal_claims_deal_number"), ["deal_number"], unique=False
        )

    op.create_table(
        "referral_fees",
        sa.Column("deal_number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("paid_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("deal_number"),
    )
    with op.batch_alter_table("referral_fees", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_fees_workflow_id"), ["workflow_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_referral_fees_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referral_fees_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("referral_fees")
    op.drop_table("deal_claims")
    op.drop_table("deal_registrations")
    op.drop_table("deal_numbers")
