"""Process email: templates, recipients, and two delivery adapters behind one activity.

`EmailActivities.send_email` renders a Jinja2 template (subject, text and HTML) from
`activities/templates/email/`, resolves `role:NAME` recipients from settings, renders signed
links at send time, and hands the message to a `Mailer`:

- `OutboxMailer` (the local default) writes an `.eml` file and an `EmailRow`, once per
  idempotency key, in one transaction.
- `SendGridMailer` claims the key in the `emails` table before calling SendGrid, so an email
  is never sent twice: a claim left over by a crash is reported as "unconfirmed", not resent.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import jinja2
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.database import session_scope
from models.contracts import EmailAttachment, EmailReceipt, EmailRequest
from models.links import link_url
from models.settings import Settings
from models.tables import EmailRow, utcnow

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "email"
OPERATIONS_ROLES = (
    "operations",
    "license_desk",
    "partner_manager",
    "sales_manager",
    "account_manager",
    "reviewer",
)
SENDGRID_TIMEOUT_SECONDS = 30.0


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedEmail:
    """A message ready to deliver: roles resolved, links rendered, bodies rendered."""

    template: str
    subject: str
    text: str
    html: str
    from_addr: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    attachments: list[EmailAttachment] = field(default_factory=list)


def invalid(message: str) -> ApplicationError:
    """The permanent error for a request that can never be sent as it is."""
    return ApplicationError(message, type="EmailRequestInvalid", non_retryable=True)


def _as_datetime(value: Any) -> datetime | date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return value
    raise TypeError(f"not a date: {value!r}")


def format_date(value: Any, with_time: bool = False) -> str:
    """`date` filter: "March 5, 2026" (or "March 5, 2026, 14:00 UTC"); ISO strings accepted."""
    if value is None:
        return "—"
    moment = _as_datetime(value)
    text = f"{moment:%B} {moment.day}, {moment.year}"
    if with_time and isinstance(moment, datetime):
        text += f", {moment:%H:%M} UTC"
    return text


def format_money(cents: Any, currency: str) -> str:
    """`money` filter: integer cents to "USD 1,234.50"."""
    amount = int(cents)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 100)
    return f"{currency.upper()} {sign}{whole:,}.{frac:02d}"


def pluralize(count: Any, singular: str, plural: str | None = None) -> str:
    """`plural` filter: 1 → "1 seat", 1500 → "1,500 seats"."""
    number = int(count)
    return f"{number:,} {singular if number == 1 else (plural or singular + 's')}"


def ordinal(number: Any) -> str:
    """`ordinal` filter: 2 → "second", 11 → "11th"."""
    n = int(number)
    words = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    if n in words:
        return words[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        date=format_date,
        money=format_money,
        plural=pluralize,
        ordinal=ordinal,
        pretty_json=lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str),
        compact_json=lambda value: json.dumps(value, separators=(",", ":"), default=str),
        shell_quote=shlex.quote,
    )
    return env


_ENV = _environment()


def available_templates() -> list[str]:
    """Names of the email templates (each has NAME.subject.txt, NAME.txt and NAME.html)."""
    return sorted(p.name.removesuffix(".subject.txt") for p in TEMPLATES_DIR.glob("*.subject.txt"))


def resolve_recipients(settings: Settings, values: list[str]) -> list[str]:
    """Turn `role:NAME` items into addresses from settings; keep plain addresses as they are."""
    addresses = []
    for value in values:
        if value.startswith("role:"):
            role = value.removeprefix("role:")
            if role == "finance":
                addresses.append(settings.finance_email)
            elif role in OPERATIONS_ROLES:
                addresses.append(settings.operations_email)
            else:
                raise invalid(f"unknown recipient role {value!r}")
        else:
            addresses.append(value.strip())
    return addresses


def _unique(addresses: list[str], exclude: Iterable[str] = ()) -> list[str]:
    seen = {a.lower() for a in exclude}
    result = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            result.append(address)
    return result


def workflow_url(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    base = settings.temporal_ui_url.rstrip("/")
    namespace, workflow = quote(settings.temporal_namespace, safe=""), quote(workflow_id, safe="")
    return f"{base}/namespaces/{namespace}/workflows/{workflow}"


def render_email(settings: Settings, request: EmailRequest) -> RenderedEmail:
    """Render the request's template with its context, signed links and the global context.

    Raises a non-retryable `ApplicationError(type="EmailRequestInvalid")` for an unknown
    template or role, or a context variable the template needs but the request lacks.
    """
    name = request.template
    if not re.fullmatch(r"[a-z0-9_]+", name) or name not in available_templates():
        raise invalid(f"unknown email template {name!r}; known: {', '.join(available_templates())}")
    to = _unique(resolve_recipients(settings, request.to))
    cc = _unique(resolve_recipients(settings, request.cc), exclude=to)
    context = dict(request.context)
    for key, spec in request.links.items():
        secret = settings.secret("link_secret")
        try:
            context[key] = link_url(
                settings.public_base_url,
                secret,
                request.workflow_id,
                spec.purpose,
                spec.expires_at,
                spec.subject,
            )
        except KeyError:
            raise invalid(f"link {key!r} has unknown purpose {spec.purpose!r}") from None
    context.update(
        public_base_url=settings.public_base_url.rstrip("/"),
        temporal_ui_url=settings.temporal_ui_url.rstrip("/"),
        workflow_id=request.workflow_id,
        workflow_url=workflow_url(settings, request.workflow_id),
    )
    try:
        subject = " ".join(_ENV.get_template(f"{name}.subject.txt").render(context).split())
        text = _tidy_text(_ENV.get_template(f"{name}.txt").render(context))
        html = _ENV.get_template(f"{name}.html").render(context)
    except jinja2.UndefinedError as exc:
        given = ", ".join(sorted(request.context)) or "none"
        raise invalid(f"template {name!r}: {exc.message} (context keys given: {given})") from None
    except (TypeError, ValueError) as exc:
        raise invalid(f"template {name!r}: bad context value: {exc}") from None
    return RenderedEmail(
        name, subject, text, html, settings.email_from, to, cc, request.attachments
    )


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


# --- delivery --------------------------------------------------------------------------------


class Mailer(Protocol):
    """A delivery adapter. `render` is called only when the key has not been sent yet."""

    name: str

    def send(self, request: EmailRequest, render: Callable[[], RenderedEmail]) -> EmailReceipt: ...


def _receipt(row: EmailRow, status: str) -> EmailReceipt:
    return EmailReceipt(
        idempotency_key=row.idempotency_key,
        status=status,  # type: ignore[arg-type]
        backend=row.backend,
        message_id=row.provider_message_id,
        subject=row.subject,
    )


def _find(session: Any, key: str) -> EmailRow | None:
    return session.exec(select(EmailRow).where(EmailRow.idempotency_key == key)).first()


def _new_row(backend: str, status: str, request: EmailRequest, email: RenderedEmail) -> EmailRow:
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
        text_body=email.text,
        html_body=email.html,
        attachments=", ".join(a.filename for a in email.attachments)[:2000],
    )


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def build_message(request: EmailRequest, email: RenderedEmail, message_id: str) -> EmailMessage:
    """The RFC 5322 message: text with an HTML alternative, attachments, Partnerflow headers."""
    message = EmailMessage()
    message["From"] = email.from_addr
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
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
                existing = _find(session, key)
                if existing is not None:
                    return _receipt(existing, "already_sent")
                email = render()
                digest = _key_digest(key)
                domain = parseaddr(email.from_addr)[1].rpartition("@")[2] or "partnerflow.local"
                message_id = f"<pf-{digest}@{domain}>"
                path = self._write(
                    f"{_slug(request.workflow_id)}-{digest}.eml",
                    build_message(request, email, message_id),
                )
                row = _new_row(self.name, "sent", request, email)
                row.provider_message_id, row.eml_path, row.sent_at = message_id, str(path), utcnow()
                session.add(row)
                session.flush()
                return _receipt(row, "sent")
        except IntegrityError:  # a concurrent attempt inserted the same key first
            with session_scope(self.settings.resolved_database_url) as session:
                return _receipt(_find(session, key), "already_sent")  # type: ignore[arg-type]

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
            raise ApplicationError(f"SendGrid unreachable: {exc}", type="EmailSendFailed") from None
        # A crash before this commit leaves the claim "sending": the retry reports "unconfirmed".
        with session_scope(self.settings.resolved_database_url) as session:
            row = _find(session, key)
            row.status, row.sent_at = "sent", utcnow()  # type: ignore[union-attr]
            row.provider_message_id = response.headers.get("X-Message-Id")  # type: ignore[union-attr]
            session.add(row)
        return _receipt(row, "sent")  # type: ignore[arg-type]

    def _claim(
        self, request: EmailRequest, render: Callable[[], RenderedEmail]
    ) -> RenderedEmail | None:
        """Commit a "sending" row for the key; None when an earlier attempt already has one."""
        try:
            with session_scope(self.settings.resolved_database_url) as session:
                if _find(session, request.idempotency_key) is not None:
                    return None
                email = render()
                session.add(_new_row(self.name, "sending", request, email))
                session.flush()
                return email
        except IntegrityError:  # a concurrent attempt claimed it first
            return None

    def _mark_unconfirmed(self, key: str) -> EmailReceipt:
        with session_scope(self.settings.resolved_database_url) as session:
            row = _find(session, key)
            row.status = "unconfirmed"  # type: ignore[union-attr]
            session.add(row)
            return _receipt(row, "unconfirmed")  # type: ignore[arg-type]

    def _earlier_attempt(self, key: str) -> EmailReceipt:
        """A retry: report the earlier outcome, never send again."""
        with session_scope(self.settings.resolved_database_url) as session:
            row = _find(session, key)
            if row is None:  # the claim was released meanwhile: let Temporal retry
                raise ApplicationError("email claim vanished; retrying", type="EmailSendFailed")
            if row.status == "rejected":
                raise ApplicationError(
                    f"SendGrid rejected email {key!r} earlier; not sending again",
                    type="EmailRejected",
                    non_retryable=True,
                )
            if row.status in ("sending", "unconfirmed"):
                log.warning("email %s: earlier send outcome unknown, not resending", key)
                row.status = "unconfirmed"
                session.add(row)
                return _receipt(row, "unconfirmed")
            return _receipt(row, "already_sent")

    def _failed(self, key: str, status: int, detail: str, headers: Any) -> ApplicationError:
        if status == 429 or status >= 500:
            self._release(key)
            retry_after = (headers or {}).get("Retry-After", "")
            delay = timedelta(seconds=int(retry_after)) if str(retry_after).isdigit() else None
            return ApplicationError(
                f"SendGrid answered {status}: {detail}",
                type="EmailSendFailed",
                next_retry_delay=delay,
            )
        with session_scope(self.settings.resolved_database_url) as session:
            row = _find(session, key)
            if row is not None:
                row.status = "rejected"
                session.add(row)
        return ApplicationError(
            f"SendGrid rejected the email ({status}): {detail}",
            type="EmailRejected",
            non_retryable=True,
        )

    def _release(self, key: str) -> None:
        with session_scope(self.settings.resolved_database_url) as session:
            session.exec(  # type: ignore[call-overload]
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


# --- activity and queries --------------------------------------------------------------------


class EmailActivities:
    """The `send_email` activity; the mailer follows `settings.email_backend` unless given."""

    def __init__(self, settings: Settings, mailer: Mailer | None = None):
        self.settings = settings
        if mailer is None:
            mailer = (
                SendGridMailer(settings)
                if settings.email_backend == "sendgrid"
                else OutboxMailer(settings)
            )
        self.mailer = mailer

    @activity.defn(name="send_email")
    def send_email(self, request: EmailRequest) -> EmailReceipt:
        """Send one process email at most once per idempotency key (sync: runs in a thread)."""
        receipt = self.mailer.send(request, lambda: render_email(self.settings, request))
        log.info("email %s: %s via %s", request.idempotency_key, receipt.status, receipt.backend)
        return receipt


def list_outbox(
    settings: Settings, limit: int = 50, workflow_id: str | None = None
) -> list[EmailRow]:
    """The newest emails first (all backends), optionally for one workflow only."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(EmailRow)
        if workflow_id is not None:
            query = query.where(EmailRow.workflow_id == workflow_id)
        query = query.order_by(col(EmailRow.created_at).desc(), col(EmailRow.id).desc()).limit(
            limit
        )
        return list(session.exec(query).all())
