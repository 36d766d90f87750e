"""The local mailer: each email becomes an `.eml` file in the outbox directory and a row in
the `emails` table, once per idempotency key, in one transaction."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from activities.database import session_scope
from activities.email.records import find_email, new_row, receipt
from activities.email.render import RenderedEmail
from models.contracts import EmailReceipt, EmailRequest
from models.settings import Settings
from models.tables import utcnow


def build_message(request: EmailRequest, email: RenderedEmail, message_id: str) -> EmailMessage:
    """The RFC 5322 message: text with an HTML alternative, attachments, Partnerflow headers."""
    message = EmailMessage()
    message["From"] = email.from_addr
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    message["X-Partnerflow-Key"] = request.idempotency_key
    message["X-Partnerflow-Workflow"] = request.workflow_id
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content.encode("utf-8"),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


class OutboxMailer:
    """The local default: each email becomes an `.eml` file and a row, once per key."""

    name = "outbox"

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, request: EmailRequest, render: Callable[[], RenderedEmail]) -> EmailReceipt:
        key = request.idempotency_key
        try:
            with session_scope(self.settings.resolved_database_url) as session:
                existing = find_email(session, key)
                if existing is not None:
                    return receipt(existing, "already_sent")
                email = render()
                digest = hashlib.sha256(key.encode()).hexdigest()[:24]
                domain = parseaddr(email.from_addr)[1].rpartition("@")[2] or "partnerflow.local"
                message_id = f"<pf-{digest}@{domain}>"
                path = self._write(
                    f"{_slug(request.workflow_id)}-{digest}.eml",
                    build_message(request, email, message_id),
                )
                row = new_row(self.name, "sent", request, email)
                row.provider_message_id, row.eml_path, row.sent_at = message_id, str(path), utcnow()
                session.add(row)
                session.flush()
                return receipt(row, "sent")
        except IntegrityError:  # a concurrent attempt inserted the same key first
            with session_scope(self.settings.resolved_database_url) as session:
                stored = find_email(session, key)
                assert stored is not None, "the concurrent attempt committed its row"
                return receipt(stored, "already_sent")

    def _write(self, filename: str, message: EmailMessage) -> Path:
        outbox = self.settings.outbox_dir
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / filename
        partial = path.with_suffix(".eml.partial")
        partial.write_bytes(message.as_bytes())
        partial.replace(path)  # same name per key: a racing duplicate overwrites, never adds
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]
