"""partners and directory listings are keyed by (program, partner_id): the same slug in
Mattermost and Rocket.Chat is two partners, with two listings

Every row is carried over with the program it already names (the column existed and was
never empty); only the primary key changes. SQLite rebuilds the table (batch mode),
PostgreSQL swaps the constraint in place.

Downgrade: back to one partner per id. Where an id is in both programs, the Mattermost row
stays and the other program's is deleted (the old key cannot hold both).

Revision ID: 0008_program_partners
Revises: 0007
Create Date: 2026-12-02 14:00:00
"""

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_program_partners"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = ("program_partners",)
# The partners table comes from 0002 and the listings from 0004 (another branch than 0007).
depends_on: str | Sequence[str] | None = ("0004",)

TABLES = ("partners", "directory_listings")


def _rekey(table: str, columns: list[str]) -> None:
    name = f"{table}_pkey"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a primary key: the table is copied into a new one with the new
        # key (its unnamed old key is replaced), rows and indexes included. SQLAlchemy warns
        # that the copied columns' key flags differ from the new key, which is the point.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Table '_alembic_tmp_", sa.exc.SAWarning)
            with op.batch_alter_table(table, recreate="always") as batch_op:
                batch_op.create_primary_key(name, columns)
    else:
        op.drop_constraint(name, table, type_="primary")
        op.create_primary_key(name, table, columns)


def upgrade() -> None:
    for table in TABLES:
        _rekey(table, ["program", "partner_id"])


def downgrade() -> None:
    for table in TABLES:
        t = sa.table(table, sa.column("program"), sa.column("partner_id"))
        kept = sa.select(t.c.partner_id).where(t.c.program == "mattermost")
        op.execute(t.delete().where(t.c.program != "mattermost", t.c.partner_id.in_(kept)))
        _rekey(table, ["partner_id"])
