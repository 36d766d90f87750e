"""PostgreSQL for the parity tests: a fresh schema per test on the server at
`PARTNERFLOW_TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/test`, which CI
and every development machine here have). Skipped, with the connection error, when the
server is not reachable; set `PARTNERFLOW_REQUIRE_POSTGRES=1` to fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from activities.database import get_engine

PG_URL = os.environ.get(
    "PARTNERFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL; yields a database URL whose search_path is
    that schema (a distinct URL, so `get_engine` caches a distinct engine). Skips the
    test when PostgreSQL is not reachable."""
    name = f"pf_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("PARTNERFLOW_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.orig}")
    separator = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{separator}options=-csearch_path%3D{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def empty_tables(url: str) -> None:
    """Delete every row (but the migration version) so the next test starts empty."""
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401  (registers the tables)

    # DELETE (children first) and restarted sequences: the same empty tables as
    # `TRUNCATE ... RESTART IDENTITY`, in 3 ms instead of 100 ms a test.
    with get_engine(url).begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.exec_driver_sql(f'DELETE FROM "{table.name}"')
        sequences = conn.exec_driver_sql(
            "SELECT sequence_name FROM information_schema.sequences"
            " WHERE sequence_schema = current_schema()"
        ).scalars()
        for sequence in list(sequences):
            conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
