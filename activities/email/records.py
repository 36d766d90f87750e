"""The `emails` table: one row per idempotency key, whichever mailer sent it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from activities.database import session_scope
from activities.email.render import RenderedEmail
from models.contracts import EmailReceipt, EmailRequest
from models.settings import Settings
from models.tables import EmailRow


def receipt(row: EmailRow, status: str) -> EmailReceipt:
    """What the workflow learns about the email's delivery."""
    return EmailReceipt(
        idempotency_key=row.idempotency_key,
        status=status,
        backend=row.backend,
        message_id=row.provider_message_id,
        subject=row.subject,
    )


def find_email(session: Session, key: str) -> EmailRow | None:
    """The email stored under the idempotency key, if any."""
    return session.exec(select(EmailRow).where(EmailRow.idempotency_key == key)).first()


# The local outbox is the offline stack's mailbox: its rows are how the email is read, links
# and all. Every other backend delivers elsewhere; its send log keeps no live token.
MAILBOX_BACKENDS = {"outbox"}
TOKEN_NOT_KEPT = "[token-not-kept]"


def without_tokens(body: str, tokens: tuple[str, ...]) -> str:
    """`body` with each signed link or proof token replaced: a send log is not a key ring."""
    for token in tokens:
        if token:
            body = body.replace(token, TOKEN_NOT_KEPT)
    return body


def new_row(backend: str, status: str, request: EmailRequest, email: RenderedEmail) -> EmailRow:
    """The row of a rendered email, before delivery (without its tokens unless the row is
    the local mailbox itself)."""
    kept = () if backend in MAILBOX_BACKENDS else email.tokens
    recipients = ", ".join(email.to) + (f"; cc: {', '.join(email.cc)}" if email.cc else "")
    return EmailRow(
        idempotency_key=request.idempotency_key,
        workflow_id=request.workflow_id,
        step=request.step[:100],
        backend=backend,
        status=status,
        from_addr=email.from_addr,
        to_addrs=recipients[:2000],
        subject=email.subject[:500],
        template=email.template,
        text_body=without_tokens(email.text, kept),
        html_body=without_tokens(email.html, kept),
        attachments=", ".join(a.filename for a in email.attachments)[:2000],
    )


def list_outbox(
    settings: Settings, limit: int = 50, workflow_id: str | None = None
) -> list[EmailRow]:
    """The newest emails first (all backends), optionally for one workflow only."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(EmailRow)
        if workflow_id is not None:
            query = query.where(EmailRow.workflow_id == workflow_id)
        newest_first = (col(EmailRow.created_at).desc(), col(EmailRow.id).desc())
        return list(session.exec(query.order_by(*newest_first).limit(limit)).all())
