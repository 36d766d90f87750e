"""Pydantic contracts shared by workflows, activities and starters.

Workflows import only this module (and `models.tasks`): no SQL, no I/O. Money is always
integer cents; timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pycountry
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from models.programs import ProgramKey
from models.tasks import LinkSpec

# Loaded once at import: validation inside workflows must not read pycountry's data files.
COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)

InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]
# What finance sees: Stripe's statuses plus "overdue" (an open invoice past its due date).
InvoiceStage = Literal["draft", "open", "overdue", "paid", "void", "uncollectible"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- parties -------------------------------------------------------------------------------


class Address(Contract):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str | None = Field(default=None, max_length=100, description="State or province")
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2 country code, e.g. DE"
    )
    subdivision: str | None = Field(
        default=None,
        max_length=6,
        description="ISO 3166-2 subdivision code when known, e.g. UA-43",
    )

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        code = value.upper()
        if code not in COUNTRY_CODES:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        return code

    @field_validator("subdivision")
    @classmethod
    def _upper_subdivision(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class Contact(Contract):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr


class EndCustomer(Contract):
    """The end customer is always named (seed FAQ): legal name, address and a contact."""

    legal_name: str = Field(min_length=1, max_length=200)
    address: Address
    contact: Contact


class Reseller(Contract):
    company: str = Field(min_length=1, max_length=200)
    partner_id: str | None = Field(default=None, max_length=64)
    contact: Contact
    address: Address | None = None


class PurchaseOrder(Contract):
    number: str = Field(min_length=1, max_length=64)
    issued_by: Literal["reseller", "end_customer"] = Field(
        description="Mattermost does not accept end-customer purchase orders on resale orders"
    )
    custom_terms: str | None = Field(
        default=None, description="Any terms beyond the standard ones; refused on resale orders"
    )


class OrderLine(Contract):
    sku: str = Field(min_length=1, max_length=64, examples=["MM-ENT-1Y"])
    description: str = Field(min_length=1, max_length=200)
    seats: int = Field(gt=0, le=1_000_000)
    unit_price_cents: int = Field(gt=0, description="Net price per seat per year, in cents")

    @property
    def amount_cents(self) -> int:
        return self.seats * self.unit_price_cents


# --- OrderFulfillment ------------------------------------------------------------------------


class SubscriptionTerm(Contract):
    """A renewal order's place in its subscription: the subscription (the first order's id)
    and the term this order licenses (the first order is term 1)."""

    subscription_id: str = Field(min_length=1, max_length=64)
    term: int = Field(ge=2, le=100)


class OrderFulfillmentInput(Contract):
    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    channel: Literal["value_added_reseller", "authorized_reseller"] = "authorized_reseller"
    deal_number: str | None = None
    reseller: Reseller
    end_customer: EndCustomer
    purchase_order: PurchaseOrder
    lines: list[OrderLine] = Field(min_length=1)
    currency: Literal["usd"] = "usd"
    license_term_days: int = Field(default=365, gt=0, le=3 * 366)
    # Timings are business days on the calendar; defaults follow the seed where it has one.
    acceptance_reminder_business_days: list[int] = Field(default_factory=lambda: [3, 6])
    acceptance_expiry_business_days: int = Field(default=10, gt=0)
    license_review_business_days: int = Field(default=1, gt=0)
    invoice_days_until_due: int = Field(default=30, gt=0)
    # A renewal order (SubscriptionRenewal): its license starts at the previous term's
    # expiry (no gap, no overlap), and it belongs to the subscription of the first order.
    license_starts_at: datetime | None = None
    subscription: SubscriptionTerm | None = None

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def seats(self) -> int:
        return sum(line.seats for line in self.lines)


class OrderFulfillmentResult(Contract):
    order_id: str
    outcome: Literal["paid", "void", "uncollectible", "refused", "expired", "embargoed"]
    reason: str | None = None
    license_id: str | None = None
    invoice_id: str | None = None
    invoice_number: str | None = None
    amount_cents: int = 0


# --- activity contracts ------------------------------------------------------------------------


class EmailAttachment(Contract):
    filename: str
    content: str = Field(description="UTF-8 text content (license files are text)")
    mime_type: str = "application/octet-stream"


class EmailRequest(Contract):
    """One process email. `idempotency_key` (workflow id + step) is sent at most once."""

    idempotency_key: str
    workflow_id: str
    step: str
    to: list[str] = Field(
        min_length=1,
        description=(
            "Addresses, or roles like `role:finance` that the adapter resolves from settings"
        ),
    )
    cc: list[str] = Field(default_factory=list)
    template: str = Field(description="Template name under activities/templates/email/")
    context: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, LinkSpec] = Field(
        default_factory=dict,
        description="Context names rendered as signed URLs at send time (kept out of history)",
    )
    attachments: list[EmailAttachment] = Field(default_factory=list)
    # The program whose identity (sender, roles, brand) the email carries; the default
    # keeps requests recorded before programs had their own identity decoding.
    program: ProgramKey = "mattermost"

    @field_validator("to", "cc")
    @classmethod
    def _addresses_or_roles(cls, values: list[str]) -> list[str]:
        for value in values:
            if not (value.startswith("role:") or "@" in value):
                raise ValueError(f"{value!r} is neither an email address nor role:<name>")
        return values


class EmailReceipt(Contract):
    idempotency_key: str
    status: Literal["sent", "already_sent", "unconfirmed"]
    backend: str
    message_id: str | None = None
    subject: str


class InvoiceLine(Contract):
    description: str
    quantity: int = Field(gt=0)
    unit_amount_cents: int = Field(gt=0)


class InvoiceRequest(Contract):
    idempotency_key: str = Field(description="workflow id + step; prefix of every Stripe key")
    workflow_id: str
    customer_name: str
    customer_email: EmailStr
    customer_country: str | None = None
    lines: list[InvoiceLine] = Field(min_length=1)
    currency: str = "usd"
    days_until_due: int = 30
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    issued_at: datetime | None = Field(
        default=None, description="The workflow's now; the local ledger dates the invoice by it"
    )


class InvoiceInfo(Contract):
    id: str
    number: str | None
    status: InvoiceStatus
    amount_due_cents: int
    amount_paid_cents: int = 0
    currency: str = "usd"
    due_at: datetime | None
    hosted_url: str | None = None
    backend: str


class InvoiceAction(Contract):
    invoice_id: str
    idempotency_key: str
    action: Literal["pay", "void", "mark_uncollectible"]
    reason: str | None = None


class LicenseRequest(Contract):
    idempotency_key: str
    workflow_id: str
    licensee: str = Field(description="The partner or company the license is issued to")
    customer: str = Field(description="The end customer's legal name")
    customer_email: EmailStr
    sku: str = "mattermost-enterprise"
    users: int = Field(gt=0)
    starts_at: datetime
    expires_at: datetime


class IssuedLicense(Contract):
    license_id: str
    licensee: str
    customer: str
    sku: str
    users: int
    starts_at: datetime
    expires_at: datetime
    issued_at: datetime
    filename: str
    content: str = Field(description="The signed license file, ready to attach")
    sha256: str


class ScreeningRequest(Contract):
    country: str
    subdivision: str | None = None
    party: str = ""
    on: datetime


class ScreeningResult(Contract):
    allowed: bool
    reason: str | None = None
    program: str | None = None
    data_version: str


class DeadlineRequest(Contract):
    start: datetime
    business_days: int
    country: str = "US"


class DecisionRecord(Contract):
    """One audited decision or event of a workflow (records activity, idempotent by key)."""

    idempotency_key: str
    workflow_id: str
    step: str
    actor: str
    decision: str
    detail: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class OrderRecord(Contract):
    order_id: str
    workflow_id: str
    channel: str
    deal_number: str | None = None
    reseller_company: str
    reseller_partner_id: str | None = None
    end_customer_name: str
    end_customer_country: str
    amount_cents: int
    currency: str
    status: str
    at: datetime


# --- signals: what people send to OrderFulfillment -------------------------------------------


class TermsAcceptance(Contract):
    """`accept_terms`: the end customer agrees to the Enterprise Subscription Terms."""

    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    email: EmailStr
    agreed: Literal[True] = Field(description="Must be true: the customer ticked 'I agree'")
    ip: str | None = None
    user_agent: str | None = Field(default=None, max_length=500)
    via: Literal["page", "operator"] = "operator"


class LicenseReview(Contract):
    """`review_license`: the license desk approves issuing the license, or rejects it."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=2000)


class PaymentRecorded(Contract):
    """`record_payment`: finance saw the customer's payment arrive (out of band)."""

    recorded_by: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(gt=0)
    reference: str = Field(min_length=1, max_length=200, description="Bank or wire reference")


class InvoiceClosure(Contract):
    """`void_invoice` / `mark_uncollectible`: finance closes an unpaid invoice."""

    decided_by: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=3, max_length=2000)


class InvoiceEvent(Contract):
    """`invoice_event`: a billing-provider event about this workflow's invoice (webhook)."""

    event_id: str
    type: str = Field(description="e.g. invoice.paid, invoice.voided")
    invoice_id: str
    status: InvoiceStatus
    amount_paid_cents: int = 0


# --- email delivery (SendGrid event webhook) ------------------------------------------------

EmailDeliveryEvent = Literal["bounce", "blocked", "dropped"]


class EmailEvent(Contract):
    """`email_event`: a process email was not delivered (sent by the SendGrid webhook)."""

    sg_event_id: str = Field(min_length=1, max_length=200, description="SendGrid's event id")
    event: EmailDeliveryEvent = Field(
        description="bounce, blocked (a bounce of type blocked) or dropped"
    )
    email: str = Field(min_length=1, max_length=320, description="The recipient")
    reason: str | None = Field(default=None, max_length=2000)
    step: str = Field(min_length=1, max_length=200, description="The process step that sent it")
    timestamp: int | None = Field(default=None, description="Unix time of the event at SendGrid")


class EmailDeliveryFixed(Contract):
    """`email_delivery_fixed`: operations dealt with the undelivered email(s)."""

    decided_by: str = Field(min_length=1, max_length=200)
    action: Literal["resent", "contact_updated", "ignored"]
    note: str | None = Field(default=None, max_length=2000)


# --- partners and click-sign agreements (shared by the process workflows) -------------------

# "offboarding" and "ended": mirrored from the partner entity (workflows/partner.py).
PartnerStatus = Literal["applicant", "active", "suspended", "removed", "offboarding", "ended"]


class PartnerRecord(Contract):
    partner_id: str = Field(min_length=1, max_length=64)
    program: Literal["mattermost", "rocketchat"]
    partner_type: str = Field(
        description="authorized_reseller, value_added_reseller, system_integrator (Mattermost); "
        "hosting, technology_provider, value_added (Rocket.Chat)"
    )
    company: str
    country: str
    website: str | None = None
    contact_name: str
    contact_email: EmailStr
    status: PartnerStatus
    discount_percent: int = Field(default=0, ge=0, le=100)
    attributes: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class PartnerRef(Contract):
    """A partner by its key, the `get_partner` activity's input: partners are per program,
    so the same id in Mattermost and Rocket.Chat is two partners. (Histories from before
    passed the bare id: the activity takes it as the calling workflow's program.)"""

    program: ProgramKey
    partner_id: str = Field(min_length=1, max_length=64)


class AgreementRequest(Contract):
    """Render a click-sign document from a template and keep it, once per key."""

    idempotency_key: str
    workflow_id: str
    kind: str = Field(description="e.g. authorized_reseller_agreement, quotation")
    template: str = Field(description="Template name under activities/templates/agreements/")
    context: dict[str, Any] = Field(default_factory=dict)
    signer_email: EmailStr
    expires_at: datetime


class AgreementDraft(Contract):
    agreement_id: str
    kind: str
    title: str
    sha256: str = Field(description="Hash of the exact text the signer is shown")
    expires_at: datetime


class AgreementSignature(Contract):
    """`sign_agreement`: the signer's click-sign of one agreement (sent by the sign page)."""

    agreement_id: str
    sha256: str = Field(description="Hash of the text the signer saw; must match the draft")
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    email: EmailStr
    agreed: Literal[True] = Field(description="Must be true: the signer ticked 'I agree'")
    signed_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = Field(default=None, max_length=500)
    via: Literal["page", "operator"] = "operator"


class SignedAgreement(Contract):
    agreement_id: str
    kind: str
    sha256: str
    signer_name: str
    signer_title: str
    signer_email: str
    signed_at: datetime


class OrderProgress(Contract):
    """`order_progress`: what a child `OrderFulfillment` tells its parent process (a deal
    or a resale) at every change, so the parent shows the order's stage and invoice."""

    seq: int = Field(description="Increases with every update; an older one is ignored")
    workflow_id: str
    stage: str
    pending_tasks: list[str] = Field(default_factory=list)
    invoice_stage: str | None = None
    invoice_number: str | None = None
    amount_due_cents: int | None = None
    invoice_due_at: datetime | None = None
