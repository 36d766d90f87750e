"""The partner portal's rules, without I/O: who a sign-in link and a session belong to, how
long each lives, and how a link's token is kept (only its hash is stored, so the records
database never holds a usable link)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from models.programs import ProgramKey

LINK_TTL = timedelta(minutes=30)  # issue 15: "a one-time link valid for 30 minutes"
SESSION_TTL = timedelta(hours=12)
MAX_EMAIL_LENGTH = 320


@dataclass(frozen=True)
class PortalIdentity:
    """Who a portal session is: one contact of one partner of one program. Every portal
    route answers only about this partner."""

    program: ProgramKey
    partner_id: str
    email: str


def normalize_email(raw: str) -> str | None:
    """The address as the contacts are keyed (trimmed, lower-case), or None when it cannot be
    an address (empty, too long, no single `@` with text on both sides, spaces or controls)."""
    email = raw.strip().lower()
    if not email or len(email) > MAX_EMAIL_LENGTH or email.count("@") != 1:
        return None
    local, domain = email.split("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in "<>\"'," for ch in email):
        return None
    return email


def token_hash(token: str) -> str:
    """What the records keep of a sign-in link's token."""
    return hashlib.sha256(token.encode()).hexdigest()
