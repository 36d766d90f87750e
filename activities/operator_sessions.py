"""Operators' sessions, kept in the records database so that signing out ends a session on
every replica at once (a stolen cookie stops working), and an administrator can end all of
an operator's sessions. The cookie itself stays signed and expiring (starters/web/operators.py).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select

from activities.database import session_scope
from models.settings import Settings
from models.tables import OperatorSessionRow


def open_session(settings: Settings, operator: str, ttl_seconds: int) -> str:
    """A new session id for `operator`, valid for `ttl_seconds` unless revoked. Sessions
    that have expired are deleted on the way."""
    now = datetime.now(UTC)
    sid = secrets.token_urlsafe(24)
    with session_scope(settings.resolved_database_url) as db:
        db.execute(delete(OperatorSessionRow).where(col(OperatorSessionRow.expires_at) < now))
        db.add(
            OperatorSessionRow(
                sid=sid,
                operator=operator,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
        )
    return sid


def session_is_active(settings: Settings, sid: str, operator: str) -> bool:
    """Is `sid` a session of `operator` that has neither expired nor been revoked?"""
    if not sid:
        return False
    with session_scope(settings.resolved_database_url) as db:
        row = db.exec(select(OperatorSessionRow).where(OperatorSessionRow.sid == sid)).first()
    if row is None or row.operator != operator or row.revoked_at is not None:
        return False
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return expires > datetime.now(UTC)


def revoke_session(settings: Settings, sid: str) -> None:
    """End one session (signing out)."""
    with session_scope(settings.resolved_database_url) as db:
        db.execute(
            update(OperatorSessionRow)
            .where(col(OperatorSessionRow.sid) == sid, col(OperatorSessionRow.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
        )


def revoke_operator_sessions(settings: Settings, operator: str) -> int:
    """End every open session of `operator` (a lost laptop, a person who left); how many."""
    with session_scope(settings.resolved_database_url) as db:
        result = db.execute(
            update(OperatorSessionRow)
            .where(
                col(OperatorSessionRow.operator) == operator,
                col(OperatorSessionRow.revoked_at).is_(None),
            )
            .values(revoked_at=datetime.now(UTC))
        )
    return int(getattr(result, "rowcount", 0) or 0)
