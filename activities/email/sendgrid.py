"""The SendGrid mailer (v3 mail send). It claims the key in the `emails` table before calling
SendGrid, so an email is never sent twice: a claim left over by a crash is reported as
"unconfirmed", not resent."""

from __future__ import annotations

import base64
import http.client
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete

from activities.database import session_scope
from activities.email.records import find_email, new_row, receipt
from activities.email.render import RenderedEmail
from activities.errors import EmailRejected, EmailSendFailed
from models.contracts import EmailReceipt, EmailRequest
from models.settings import Settings
from models.tables import EmailRow, utcnow

log = logging.getLogger(__name__)

SENDGRID_TIMEOUT_SECONDS = 30.0


class SendGridMailer:
    """SendGrid v3 mail send, with a claim row so a key is sent at most once."""

    name = "sendgrid"

    def __init__(self, settings: Settings):
        if settings.sendgrid_api_key is None:
            raise ValueError("SENDGRID_API_KEY is required when EMAIL_BACKEND=sendgrid")
        self.settings = settings
        self.client = SendGridAPIClient(
            api_key=settings.sendgrid_api_key.get_secret_value(), host=settings.sendgrid_host
        )

    def send(self, request: EmailRequest, render: Callable[[], RenderedEmail]) -> EmailReceipt:
        key = request.idempotency_key
        email = self._claim(request, render)
        if email is None:
            return self._earlier_attempt(key)
        try:
            response = self.client.client.mail.send.post(
                request_body=sendgrid_body(request, email), timeout=SENDGRID_TIMEOUT_SECONDS
            )
        except HTTPError as exc:
            raise self._failed(
                key, exc.status_code, _sendgrid_errors(exc.body), exc.headers
            ) from None
        except TimeoutError as exc:
            # The request may have reached SendGrid: sending again could send it twice.
            log.warning(
                "email %s: SendGrid timed out (%s); outcome unknown, not resending", key, exc
            )
            return self._mark_unconfirmed(key)
        except (OSError, http.client.HTTPException) as exc:
            self._release(key)
            raise EmailSendFailed(f"SendGrid unreachable: {exc}") from None
        # A crash before this commit leaves the claim "sending": the retry reports "unconfirmed".
        with session_scope(self.settings.resolved_database_url) as session:
            row = find_email(session, key)
            assert row is not None, "the claim is released only when the send failed"
            row.status, row.sent_at = "sent", utcnow()
            row.provider_message_id = response.headers.get("X-Message-Id")
            session.add(row)
        return receipt(row, "sent")

    def _claim(
        self, request: EmailRequest, render: Callable[[], RenderedEmail]
    ) -> RenderedEmail | None:
        """Commit a "sending" row for the key; None when an earlier attempt already has one."""
        try:
            with session_scope(self.settings.resolved_database_url) as session:
                if find_email(session, request.idempotency_key) is not None:
                    return None
                email = render()
                session.add(new_row(self.name, "sending", request, email))
                session.flush()
                return email
        except IntegrityError:  # a concurrent attempt claimed it first
            return None

    def _mark_unconfirmed(self, key: str) -> EmailReceipt:
        with session_scope(self.settings.resolved_database_url) as session:
            row = find_email(session, key)
            assert row is not None, "the claim stays when the outcome is unknown"
            row.status = "unconfirmed"
            session.add(row)
            return receipt(row, "unconfirmed")

    def _earlier_attempt(self, key: str) -> EmailReceipt:
        """A retry: report the earlier outcome, never send again."""
        with session_scope(self.settings.resolved_database_url) as session:
            row = find_email(session, key)
            if row is None:  # the claim was released meanwhile: let Temporal retry
                raise EmailSendFailed("email claim vanished; retrying")
            if row.status == "rejected":
                raise EmailRejected(f"SendGrid rejected email {key!r} earlier; not sending again")
            if row.status in ("sending", "unconfirmed"):
                log.warning("email %s: earlier send outcome unknown, not resending", key)
                row.status = "unconfirmed"
                session.add(row)
                return receipt(row, "unconfirmed")
            return receipt(row, "already_sent")

    def _failed(
        self, key: str, status: int, detail: str, headers: Any
    ) -> EmailSendFailed | EmailRejected:
        if status == 429 or status >= 500:
            self._release(key)
            retry_after = (headers or {}).get("Retry-After", "")
            delay = timedelta(seconds=int(retry_after)) if str(retry_after).isdigit() else None
            return EmailSendFailed(f"SendGrid answered {status}: {detail}", next_retry_delay=delay)
        with session_scope(self.settings.resolved_database_url) as session:
            row = find_email(session, key)
            if row is not None:
                row.status = "rejected"
                session.add(row)
        return EmailRejected(f"SendGrid rejected the email ({status}): {detail}")

    def _release(self, key: str) -> None:
        with session_scope(self.settings.resolved_database_url) as session:
            session.exec(
                delete(EmailRow).where(
                    col(EmailRow.idempotency_key) == key, col(EmailRow.status) == "sending"
                )
            )


def sendgrid_body(request: EmailRequest, email: RenderedEmail) -> dict[str, Any]:
    """The `POST /v3/mail/send` request body for one rendered email."""
    from_name, from_email = parseaddr(email.from_addr)
    personalization: dict[str, Any] = {
        "to": [{"email": address} for address in email.to],
        "custom_args": {
            "workflow_id": request.workflow_id,
            "step": request.step,
            "idempotency_key": request.idempotency_key,
        },
    }
    if email.cc:
        personalization["cc"] = [{"email": address} for address in email.cc]
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": {"email": from_email, **({"name": from_name} if from_name else {})},
        **({"reply_to": {"email": email.reply_to}} if email.reply_to else {}),
        "subject": email.subject,
        "content": [
            {"type": "text/plain", "value": email.text},
            {"type": "text/html", "value": email.html},
        ],
        "categories": [email.template],
        "headers": {"X-Partnerflow-Key": request.idempotency_key},
    }
    if email.attachments:
        body["attachments"] = [
            {
                "content": base64.b64encode(a.content.encode("utf-8")).decode("ascii"),
                "type": a.mime_type,
                "filename": a.filename,
                "disposition": "attachment",
            }
            for a in email.attachments
        ]
    return body


def _sendgrid_errors(body: Any) -> str:
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        errors = json.loads(raw)["errors"]
        return "; ".join(
            e.get("message", "?") + (f" (field {e['field']})" if e.get("field") else "")
            for e in errors
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return raw[:500] or "no details"
