"""Click-sign agreements: render the exact text from a template, keep it with its hash, and
record who signed which version, when and from where.

The signer is shown the stored text (sign page); their signature names the text's SHA-256,
so what was signed is provable later even if the templates change.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity

from activities.database import session_scope
from activities.errors import AgreementInvalid
from models.contracts import AgreementDraft, AgreementRequest, AgreementSignature, SignedAgreement
from models.settings import Settings
from models.tables import AgreementRow

TEMPLATES = Path(__file__).resolve().parent / "templates" / "agreements"
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")
_INLINE_MARKUP = re.compile(r"([\\`*|\[\]<>])")


def inline_text(value: Any) -> Any:
    """Every value a template prints, as one line of plain text: line breaks and control
    characters become a space, Markdown markup is escaped, a leading `#`, `>`, `-`, `+` or
    `=` cannot start a block. A partner's or customer's name can then add no heading, no
    clause and no emphasis to a document that is hashed and signed."""
    if not isinstance(value, str):
        return value
    text = _INLINE_MARKUP.sub(r"\\\1", _LINE_BREAKS.sub(" ", value).strip())
    return "\\" + text if text[:1] in "#>-+=" and text else text


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=inline_text,
)


def _money(cents: int, currency: str = "usd") -> str:
    return f"{currency.upper()} {cents // 100:,}.{cents % 100:02d}"


_ENV.filters["money"] = _money


def agreement_id_for(idempotency_key: str) -> str:
    """`agr_<20 hex>`: the same key always names the same agreement."""
    return "agr_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def render_agreement(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, text) of the agreement; the first line of the template is its title."""
    try:
        text = _ENV.get_template(f"{template}.md").render(context).strip() + "\n"
    except TemplateNotFound:
        raise AgreementInvalid(f"unknown agreement template {template!r}") from None
    except UndefinedError as exc:
        raise AgreementInvalid(f"agreement {template!r}: {exc.message}") from None
    title = text.splitlines()[0].lstrip("# ").strip()
    return title, text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AgreementActivities:
    """Agreement texts and signatures, bound to one records database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url

    @activity.defn(name="prepare_agreement")
    def prepare_agreement(self, request: AgreementRequest) -> AgreementDraft:
        """Render and store the agreement once per idempotency key (a retry returns it)."""
        with session_scope(self.url) as session:
            existing = session.exec(
                select(AgreementRow).where(AgreementRow.idempotency_key == request.idempotency_key)
            ).first()
            if existing is not None:
                return _draft(existing)
        title, text = render_agreement(request.template, request.context)
        row = AgreementRow(
            agreement_id=agreement_id_for(request.idempotency_key),
            idempotency_key=request.idempotency_key,
            workflow_id=request.workflow_id,
            kind=request.kind,
            title=title,
            signer_email=request.signer_email,
            text=text,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            status="awaiting_signature",
            expires_at=request.expires_at,
        )
        try:
            with session_scope(self.url) as session:
                session.add(row)
        except IntegrityError:  # a concurrent attempt stored it first
            with session_scope(self.url) as session:
                row = session.exec(
                    select(AgreementRow).where(
                        AgreementRow.idempotency_key == request.idempotency_key
                    )
                ).one()
        return _draft(row)

    @activity.defn(name="record_signature")
    def record_signature(self, signature: AgreementSignature) -> SignedAgreement:
        """Store the signature on the agreement; idempotent. The signed text's hash must be
        the stored one (the signer saw this exact version)."""
        with session_scope(self.url) as session:
            row = session.get(AgreementRow, signature.agreement_id)
            if row is None:
                raise AgreementInvalid(f"unknown agreement {signature.agreement_id}")
            if row.sha256 != signature.sha256:
                raise AgreementInvalid("the signed text differs from the agreement on record")
            if row.status != "signed":
                row.status = "signed"
                row.signed_at = _aware(signature.signed_at or datetime.now(UTC))
                row.signer_name = signature.name
                row.signer_title = signature.title
                row.signer_ip = signature.ip
                row.signer_user_agent = signature.user_agent
                session.add(row)
            assert row.signed_at and row.signer_name and row.signer_title
            return SignedAgreement(
                agreement_id=row.agreement_id,
                kind=row.kind,
                sha256=row.sha256,
                signer_name=row.signer_name,
                signer_title=row.signer_title,
                signer_email=signature.email,
                signed_at=_aware(row.signed_at),
            )


def get_agreement(settings: Settings, agreement_id: str) -> AgreementRow | None:
    """The stored agreement (for the sign page and audits)."""
    with session_scope(settings.resolved_database_url) as session:
        return session.get(AgreementRow, agreement_id)


def _draft(row: AgreementRow) -> AgreementDraft:
    return AgreementDraft(
        agreement_id=row.agreement_id,
        kind=row.kind,
        title=row.title,
        sha256=row.sha256,
        expires_at=_aware(row.expires_at),
    )
