"""The partner portal's tables: partner contacts (who may sign in for which partner), the
one-time sign-in links (hashed) and the portal sessions."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class PartnerContactRow(SQLModel, table=True):
    """A person who may sign in to the portal for a partner, besides the partner record's own
    contact (added and removed by operators; removal keeps the row for the record)."""

    __tablename__ = "partner_contacts"

    program: str = Field(primary_key=True, max_length=20)
    partner_id: str = Field(primary_key=True, max_length=64)
    email: str = Field(primary_key=True, max_length=320)
    name: str = Field(default="", max_length=200)
    added_by: str = Field(max_length=200)
    added_at: datetime = Field(default_factory=utcnow)
    removed_by: str | None = Field(default=None, max_length=200)
    removed_at: datetime | None = None


class PortalLinkRow(SQLModel, table=True):
    """A sign-in link sent by email: used at most once, before `expires_at`."""

    __tablename__ = "portal_links"

    token_sha256: str = Field(primary_key=True, max_length=64)
    program: str = Field(max_length=20)
    partner_id: str = Field(max_length=64)
    email: str = Field(index=True, max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class PortalSessionRow(SQLModel, table=True):
    """A signed-in partner contact's session (the cookie carries `sid`)."""

    __tablename__ = "portal_sessions"

    sid: str = Field(primary_key=True, max_length=64)
    program: str = Field(max_length=20)
    partner_id: str = Field(index=True, max_length=64)
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
