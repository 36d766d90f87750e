"""Who may use the partner portal, in the records database: partner contacts (the partner
record's own contact, plus those operators add), one-time sign-in links and sessions.

Called by the web service (not by workflows): each function is one short transaction."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from activities.database import session_scope
from models.portal import LINK_TTL, SESSION_TTL, PortalIdentity, token_hash
from models.portal_tables import PartnerContactRow, PortalLinkRow, PortalSessionRow
from models.settings import Settings
from models.tables import PartnerRow

ACTIVE = "active"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def partners_of_contact(settings: Settings, email: str) -> list[PortalIdentity]:
    """The active partners `email` may sign in for (program, partner), by program and id:
    the partner record's contact address, and contacts operators added and did not remove."""
    with session_scope(settings.resolved_database_url) as db:
        own = db.exec(
            select(PartnerRow.program, PartnerRow.partner_id).where(
                PartnerRow.contact_email == email, PartnerRow.status == ACTIVE
            )
        ).all()
        added = db.exec(
            select(PartnerContactRow.program, PartnerContactRow.partner_id)
            .join(
                PartnerRow,
                (col(PartnerRow.partner_id) == col(PartnerContactRow.partner_id))
                & (col(PartnerRow.program) == col(PartnerContactRow.program)),
            )
            .where(
                PartnerContactRow.email == email,
                col(PartnerContactRow.removed_at).is_(None),
                PartnerRow.status == ACTIVE,
            )
        ).all()
    found = {(program, partner_id) for program, partner_id in [*own, *added]}
    return [PortalIdentity(p, pid, email) for p, pid in sorted(found)]  # type: ignore[arg-type]


def partner_row(settings: Settings, identity: PortalIdentity) -> PartnerRow | None:
    """The signed-in partner's record (of its own program only)."""
    with session_scope(settings.resolved_database_url) as db:
        row = db.exec(
            select(PartnerRow).where(
                PartnerRow.program == identity.program,
                PartnerRow.partner_id == identity.partner_id,
            )
        ).first()
        return None if row is None else PartnerRow.model_validate(row)


def add_contact(
    settings: Settings, program: str, partner_id: str, email: str, *, name: str, by: str
) -> None:
    """Let `email` sign in for the partner (again, if it was removed)."""
    now = datetime.now(UTC)
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(PartnerContactRow, (program, partner_id, email))
        if row is None:
            db.add(
                PartnerContactRow(
                    program=program, partner_id=partner_id, email=email, name=name,
                    added_by=by, added_at=now,
                )
            )  # fmt: skip
        else:
            row.name, row.added_by, row.added_at = name or row.name, by, now
            row.removed_by = row.removed_at = None
            db.add(row)


def remove_contact(
    settings: Settings, program: str, partner_id: str, email: str, *, by: str
) -> bool:
    """Stop `email` signing in for the partner and end its open sessions; False if it was
    not a contact added by an operator."""
    now = datetime.now(UTC)
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(PartnerContactRow, (program, partner_id, email))
        if row is None or row.removed_at is not None:
            return False
        row.removed_by, row.removed_at = by, now
        db.add(row)
        db.execute(
            update(PortalSessionRow)
            .where(
                col(PortalSessionRow.program) == program,
                col(PortalSessionRow.partner_id) == partner_id,
                col(PortalSessionRow.email) == email,
                col(PortalSessionRow.revoked_at).is_(None),
            )
            .values(revoked_at=now)
        )
    return True


def list_contacts(settings: Settings, program: str, partner_id: str) -> list[PartnerContactRow]:
    """The contacts operators added for the partner, removed ones included, by address."""
    with session_scope(settings.resolved_database_url) as db:
        rows = db.exec(
            select(PartnerContactRow)
            .where(PartnerContactRow.program == program, PartnerContactRow.partner_id == partner_id)
            .order_by(col(PartnerContactRow.email))
        ).all()
        return [PartnerContactRow.model_validate(row) for row in rows]


def issue_link(settings: Settings, identity: PortalIdentity) -> str:
    """A new one-time sign-in token for `identity` (only its hash is stored); expired links
    are deleted on the way."""
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    with session_scope(settings.resolved_database_url) as db:
        db.execute(delete(PortalLinkRow).where(col(PortalLinkRow.expires_at) < now))
        db.add(
            PortalLinkRow(
                token_sha256=token_hash(token), program=identity.program,
                partner_id=identity.partner_id, email=identity.email,
                created_at=now, expires_at=now + LINK_TTL,
            )
        )  # fmt: skip
    return token


def redeem_link(settings: Settings, token: str) -> PortalIdentity | None:
    """The identity of an unused, unexpired link, marking it used (once, even when two
    requests race); None otherwise. The contact must still be allowed to sign in."""
    now = datetime.now(UTC)
    digest = token_hash(token)
    with session_scope(settings.resolved_database_url) as db:
        claimed = db.execute(
            update(PortalLinkRow)
            .where(
                col(PortalLinkRow.token_sha256) == digest,
                col(PortalLinkRow.used_at).is_(None),
                col(PortalLinkRow.expires_at) > now,
            )
            .values(used_at=now)
        )
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            return None
        row = db.get(PortalLinkRow, digest)
        assert row is not None
        identity = PortalIdentity(row.program, row.partner_id, row.email)  # type: ignore[arg-type]
    return identity if identity in partners_of_contact(settings, identity.email) else None


def link_is_usable(settings: Settings, token: str) -> bool:
    """Is the link unused and unexpired (the confirmation page, before it is used)?"""
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(PortalLinkRow, token_hash(token))
    return row is not None and row.used_at is None and _aware(row.expires_at) > datetime.now(UTC)


def open_session(settings: Settings, identity: PortalIdentity) -> str:
    """A new session id for `identity`, valid for SESSION_TTL unless ended; expired sessions
    are deleted on the way."""
    now = datetime.now(UTC)
    sid = secrets.token_urlsafe(24)
    with session_scope(settings.resolved_database_url) as db:
        db.execute(delete(PortalSessionRow).where(col(PortalSessionRow.expires_at) < now))
        db.add(
            PortalSessionRow(
                sid=sid, program=identity.program, partner_id=identity.partner_id,
                email=identity.email, created_at=now, expires_at=now + SESSION_TTL,
            )
        )  # fmt: skip
    return sid


def session_identity(settings: Settings, sid: str) -> PortalIdentity | None:
    """Who the session is, while it is open and the contact may still sign in."""
    if not sid or len(sid) > 64:
        return None
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(PortalSessionRow, sid)
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    identity = PortalIdentity(row.program, row.partner_id, row.email)  # type: ignore[arg-type]
    return identity if identity in partners_of_contact(settings, identity.email) else None


def end_session(settings: Settings, sid: str) -> None:
    """Signing out: the session stops working on every replica."""
    with session_scope(settings.resolved_database_url) as db:
        db.execute(
            update(PortalSessionRow)
            .where(col(PortalSessionRow.sid) == sid, col(PortalSessionRow.revoked_at).is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
