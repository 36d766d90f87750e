"""Rendering a process email: its Jinja2 template (subject, text and HTML) from
`activities/templates/email/`, in its program's identity (sender, reply-to, brand), with
`role:NAME` recipients resolved to that program's addresses, and signed links rendered at
send time."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from activities.errors import EmailRequestInvalid
from models.contracts import EmailAttachment, EmailRequest
from models.forms import FORMS
from models.forms.spec import PROOF_FIELD
from models.links import link_url
from models.notices import PORTAL_PAGES
from models.programs import ProgramIdentity, program_identity
from models.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


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
    reply_to: str = ""
    # The signed link and proof tokens in the bodies: delivered, never kept in a send log.
    tokens: tuple[str, ...] = ()


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


def resolve_recipients(
    settings: Settings, values: list[str], identity: ProgramIdentity | None = None
) -> list[str]:
    """Turn `role:NAME` items into the program's addresses (Mattermost's unless `identity`);
    keep plain addresses as they are."""
    identity = identity or program_identity(settings, "mattermost")
    addresses = []
    for value in values:
        if value.startswith("role:"):
            address = identity.role_address(value.removeprefix("role:"))
            if address is None:
                raise EmailRequestInvalid(f"unknown recipient role {value!r}")
            addresses.append(address)
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


def portal_links(settings: Settings, request: EmailRequest) -> dict[str, str]:
    """Where the partner portal shows what the email is about (computed at send time, so
    emails of running workflows get them too): `portal_url`, the portal's page of the email's
    kind (`models.notices.PORTAL_PAGES`) or its home ("" when its reader cannot sign in);
    and, for a task the partner owns (its context's `assignee` is `partner`),
    `portal_task_url`, the task's page (reached after signing in)."""
    base = settings.public_base_url.rstrip("/")
    context = request.context
    page = PORTAL_PAGES.get(str(context.get("kind") or ""), "/portal/home")
    links = {"portal_url": base + page if page else ""}
    handler = context.get("handler")
    if context.get("assignee") == "partner" and isinstance(handler, str) and handler:
        workflow, task = quote(request.workflow_id, safe=""), quote(handler, safe="")
        links["portal_task_url"] = f"{base}/portal/tasks/{workflow}/{task}"
    return links


def form_proof(settings: Settings, request: EmailRequest) -> dict[str, str] | None:
    """For an email that asks for the input of a form that advances its process (the
    form's `proof_emails`): the form, its URL and the proof token the form must carry."""
    sent = f"{request.workflow_id} {request.step}"
    for spec in FORMS.values():
        if spec.proof_emails and re.fullmatch(spec.proof_emails, sent):
            return {
                "form": spec.name,
                "url": f"{settings.public_base_url.rstrip('/')}/webhooks/forms/{spec.name}",
                "field": PROOF_FIELD,
                "token": spec.proof_token(settings, request.workflow_id),
            }
    return None


def render_email(settings: Settings, request: EmailRequest) -> RenderedEmail:
    """Render the request's template with its context, signed links and the global context.

    Raises a non-retryable `EmailRequestInvalid` for an unknown
    template or role, or a context variable the template needs but the request lacks.
    """
    name = request.template
    if not re.fullmatch(r"[a-z0-9_]+", name) or name not in available_templates():
        raise EmailRequestInvalid(
            f"unknown email template {name!r}; known: {', '.join(available_templates())}"
        )
    identity = program_identity(settings, request.program)
    to = _unique(resolve_recipients(settings, request.to, identity))
    cc = _unique(resolve_recipients(settings, request.cc, identity), exclude=to)
    context = dict(request.context)
    tokens: list[str] = []
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
            raise EmailRequestInvalid(
                f"link {key!r} has unknown purpose {spec.purpose!r}"
            ) from None
        tokens.append(str(context[key]).rsplit("/", 1)[-1])
    if (proof := form_proof(settings, request)) is not None:
        context["form_proof"] = proof
        tokens.append(proof["token"])
    context.update(portal_links(settings, request))
    context.update(
        public_base_url=settings.public_base_url.rstrip("/"),
        temporal_ui_url=settings.temporal_ui_url.rstrip("/"),
        workflow_id=request.workflow_id,
        workflow_url=workflow_url(settings, request.workflow_id),
        brand=identity,
    )
    try:
        subject = " ".join(_ENV.get_template(f"{name}.subject.txt").render(context).split())
        text = _tidy_text(_ENV.get_template(f"{name}.txt").render(context))
        html = _ENV.get_template(f"{name}.html").render(context)
    except jinja2.UndefinedError as exc:
        given = ", ".join(sorted(request.context)) or "none"
        raise EmailRequestInvalid(
            f"template {name!r}: {exc.message} (context keys given: {given})"
        ) from None
    except (TypeError, ValueError) as exc:
        raise EmailRequestInvalid(f"template {name!r}: bad context value: {exc}") from None
    return RenderedEmail(
        name,
        subject,
        text,
        html,
        identity.email_from,
        to,
        cc,
        request.attachments,
        identity.reply_to,
        tuple(tokens),
    )


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
