"""The records database: engine per URL, Alembic migrations, short transactions, and the
idempotent writes every records module shares.

SQLite is the embedded default; PostgreSQL is production. Both run the same migrations.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError
from sqlmodel import Session, create_engine

from activities.errors import InvalidRecord

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "models" / "migrations"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One pooled engine per database URL for the life of the process."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30}
                )
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True)
            _engines[url] = engine
        return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the migrations under `models/migrations`, run on `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema at `url` to the newest migrations (safe to call on every start).

    Each process domain may add its tables on its own branch of migrations, so all heads
    are applied."""
    get_engine(url)  # creates the SQLite directory
    command.upgrade(alembic_config(url), "heads")


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# --- idempotent writes -------------------------------------------------------------------------


def upsert_statement(engine: Engine, table: Table) -> Any:
    """A dialect `insert()` that supports `on_conflict_do_*` (SQLite, PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"records need SQLite or PostgreSQL, not {engine.dialect.name}")


def require_aware(value: datetime, what: str) -> datetime:
    """`value` itself; a naive time is a permanent `InvalidRecord` (`what` names the field)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecord(f"{what} must be timezone-aware, got {value.isoformat()}")
    return value


def execute_write(engine: Engine, stmt: Any) -> None:
    """Run one write; a value the column cannot hold is a permanent (non-retryable) error."""
    try:
        with engine.begin() as conn:
            conn.execute(stmt)
    except DataError as exc:
        raise InvalidRecord(str(exc.orig)) from exc
