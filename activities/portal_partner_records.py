"""The records the partner portal's listing and evaluation-license pages read: the
partner's own logos and license files, and whether its renewal request was sent.

Called by the web service (not by workflows); each function is one short read, and each
takes the workflow id or the partner's logo ids the caller derived from the session, so it
never answers about another partner."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlmodel import col, select

from activities.database import session_scope
from models.settings import Settings
from models.tables import DirectoryLogoRow, EmailRow, LicenseRow


def own_logo(settings: Settings, logo_id: str, owned: Collection[str]) -> DirectoryLogoRow | None:
    """The stored logo `logo_id`, only when it is one of `owned` (the partner's listing's
    logos: published, submitted); None otherwise."""
    if logo_id not in owned:
        return None
    with session_scope(settings.resolved_database_url) as session:
        return session.get(DirectoryLogoRow, logo_id)


def licenses_of(settings: Settings, workflow_id: str) -> list[LicenseRow]:
    """The licenses issued by `workflow_id` (the partner's `eval-license-{partner_id}`),
    newest first."""
    with session_scope(settings.resolved_database_url) as session:
        query = (
            select(LicenseRow)
            .where(LicenseRow.workflow_id == workflow_id)
            .order_by(col(LicenseRow.expires_at).desc())
        )
        return [LicenseRow.model_validate(row) for row in session.exec(query)]


def license_of(settings: Settings, workflow_id: str, license_id: str) -> LicenseRow | None:
    """The license `license_id`, only when `workflow_id` issued it."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.exec(
            select(LicenseRow).where(
                LicenseRow.license_id == license_id, LicenseRow.workflow_id == workflow_id
            )
        ).first()
        return None if row is None else LicenseRow.model_validate(row)


def email_sent_at(settings: Settings, idempotency_key: str) -> datetime | None:
    """When the email of `idempotency_key` was recorded, or None when it was not."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.exec(
            select(EmailRow).where(EmailRow.idempotency_key == idempotency_key)
        ).first()
        if row is None:
            return None
        at = row.sent_at or row.created_at
        return at if at.tzinfo else at.replace(tzinfo=UTC)
