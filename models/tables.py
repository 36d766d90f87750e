"""SQLModel tables: the business records. Schema changes go through Alembic (models/migrations).

Every row written by an activity carries a unique `idempotency_key` (workflow id + step) so
that a retried activity finds its earlier write instead of making a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"

    order_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(index=True, max_length=200)
    channel: str = Field(max_length=40)
    deal_number: str | None = Field(default=None, max_length=40)
    reseller_company: str = Field(max_length=200)
    # the reseller's Mattermost partner id (orders recorded before it: from their deal)
    reseller_partner_id: str | None = Field(default=None, index=True, max_length=64)
    end_customer_name: str = Field(max_length=200)
    end_customer_country: str = Field(max_length=2)
    amount_cents: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class LicenseRow(SQLModel, table=True):
    __tablename__ = "licenses"

    license_id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    licensee: str = Field(max_length=200)
    customer: str = Field(max_length=200)
    customer_email: str = Field(max_length=320)
    sku: str = Field(max_length=64)
    users: int
    starts_at: datetime
    expires_at: datetime
    issued_at: datetime
    filename: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    content: str = Field(sa_column=Column(Text, nullable=False))


class InvoiceRow(SQLModel, table=True):
    """An invoice as the billing backend last reported it (the local ledger's own invoices,
    or the mirror of a Stripe invoice)."""

    __tablename__ = "invoices"

    id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    backend: str = Field(max_length=20)
    number: str | None = Field(default=None, max_length=64)
    customer_name: str = Field(max_length=200)
    customer_email: str = Field(max_length=320)
    status: str = Field(index=True, max_length=20)
    currency: str = Field(max_length=3)
    amount_due_cents: int
    amount_paid_cents: int = 0
    days_until_due: int = 30
    due_at: datetime | None = None
    description: str | None = Field(default=None, sa_column=Column(Text))
    lines_json: str = Field(sa_column=Column(Text, nullable=False))
    metadata_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    hosted_url: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    marked_uncollectible_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class EmailRow(SQLModel, table=True):
    """Every process email: the local outbox, and the send log of the SendGrid adapter."""

    __tablename__ = "emails"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    step: str = Field(max_length=100)
    backend: str = Field(max_length=20)
    # sending -> sent; a send that failed with a retryable error is deleted so it can retry;
    # "unconfirmed" marks a crash between the provider call and the write (never resent).
    status: str = Field(max_length=20)
    from_addr: str = Field(max_length=320)
    to_addrs: str = Field(max_length=2000)
    subject: str = Field(max_length=500)
    template: str = Field(max_length=100)
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    attachments: str = Field(default="", max_length=2000, description="attachment filenames")
    provider_message_id: str | None = Field(default=None, max_length=200)
    eml_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class DecisionRow(SQLModel, table=True):
    """Audit trail: every human decision and every automatic refusal, once."""

    __tablename__ = "decisions"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    step: str = Field(max_length=100)
    actor: str = Field(max_length=200)
    decision: str = Field(max_length=100)
    detail_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    at: datetime


class PartnerRow(SQLModel, table=True):
    """A partner of a program: the certified-reseller database of the seed, and more.

    Program-specific facts (territory, industries, services, goals) live in
    `attributes_json` so each process can keep what it needs without a schema change."""

    __tablename__ = "partners"

    # Keyed by program: the same slug in Mattermost and Rocket.Chat is two partners.
    program: str = Field(primary_key=True, index=True, max_length=20)  # mattermost | rocketchat
    partner_id: str = Field(primary_key=True, max_length=64)
    partner_type: str = Field(index=True, max_length=40)
    company: str = Field(max_length=200)
    country: str = Field(max_length=2)
    website: str | None = Field(default=None, max_length=500)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=320)
    # applicant -> active -> (suspended) -> removed
    status: str = Field(index=True, max_length=20)
    discount_percent: int = 0
    attributes_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AgreementRow(SQLModel, table=True):
    """A click-sign document: the exact text shown, its hash, and who signed it when."""

    __tablename__ = "agreements"

    agreement_id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    kind: str = Field(max_length=60)
    title: str = Field(max_length=300)
    signer_email: str = Field(max_length=320)
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    status: str = Field(max_length=20)  # awaiting_signature | signed
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    signed_at: datetime | None = None
    signer_name: str | None = Field(default=None, max_length=200)
    signer_title: str | None = Field(default=None, max_length=200)
    signer_ip: str | None = Field(default=None, max_length=64)
    signer_user_agent: str | None = Field(default=None, max_length=500)


# --- the public partner directory (DirectoryListing) ----------------------------------------


class DirectoryListingRow(SQLModel, table=True):
    """A published listing of the public partner directory (removed when the partner leaves)."""

    __tablename__ = "directory_listings"

    # Keyed by program, like the partner: one program's removal never delists the other's.
    program: str = Field(primary_key=True, index=True, max_length=20)
    partner_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(index=True, max_length=200)
    partner_type: str = Field(index=True, max_length=40)
    name: str = Field(max_length=120)
    description: str = Field(sa_column=Column(Text, nullable=False))
    city: str = Field(max_length=100)
    state: str | None = Field(default=None, max_length=100)
    country: str = Field(index=True, max_length=2)
    website: str = Field(max_length=500)
    logo_id: str = Field(max_length=32)
    logo_content_type: str = Field(max_length=40)
    territory_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    industries_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    version: int = 1
    published_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DirectoryLogoRow(SQLModel, table=True):
    """An uploaded directory logo, checked with Pillow; stored in the records so every web
    replica can serve it. Content-addressed: the id is a SHA-256 prefix of the file."""

    __tablename__ = "directory_logos"

    logo_id: str = Field(primary_key=True, max_length=32)
    content_type: str = Field(max_length=40)
    width: int
    height: int
    size_bytes: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- deal registrations ----------------------------------------------------------------------


class DealNumberRow(SQLModel, table=True):
    """One deal number per registration submission: `submission_key` (the form's content
    hash) is unique, so the same submission always gets the same number, and
    (`year`, `sequence`) is unique, so two submissions never share one."""

    __tablename__ = "deal_numbers"
    __table_args__ = (UniqueConstraint("year", "sequence", name="uq_deal_numbers_year_sequence"),)

    deal_number: str = Field(primary_key=True, max_length=20)
    submission_key: str = Field(unique=True, max_length=128)
    year: int
    sequence: int
    partner_id: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class DealRegistrationRow(SQLModel, table=True):
    """A registration as its workflow last reported it; channel-conflict lookups read it."""

    __tablename__ = "deal_registrations"

    deal_number: str = Field(primary_key=True, max_length=20)
    workflow_id: str = Field(index=True, max_length=200)
    partner_id: str = Field(index=True, max_length=64)
    partner_company: str = Field(max_length=200)
    end_customer_name: str = Field(max_length=200)
    customer_key: str = Field(index=True, max_length=200)
    email_domain: str | None = Field(default=None, index=True, max_length=255)
    sku: str = Field(max_length=64)
    status: str = Field(index=True, max_length=40)
    protected_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class DealClaimRow(SQLModel, table=True):
    """An approved registration's hold on its opportunity (customer name or email domain,
    and product): the primary key makes two approvals of one opportunity impossible."""

    __tablename__ = "deal_claims"

    opportunity_key: str = Field(primary_key=True, max_length=300)
    deal_number: str = Field(index=True, max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class ReferralFeeRow(SQLModel, table=True):
    """A referral fee Mattermost owes a partner (an approved deal's customer bought online)."""

    __tablename__ = "referral_fees"

    deal_number: str = Field(primary_key=True, max_length=20)
    workflow_id: str = Field(index=True, max_length=200)
    partner_id: str = Field(index=True, max_length=64)
    amount_cents: int
    currency: str = Field(max_length=3)
    note: str = Field(max_length=200)
    status: str = Field(index=True, max_length=20)  # payable | paid
    reference: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None


# --- Rocket.Chat partnership (community workgroups, monthly sales reports) -----------------


class RocketChatWorkgroupRow(SQLModel, table=True):
    """A partner's workgroup on the Rocket.Chat community server (or its local record)."""

    __tablename__ = "rocketchat_workgroups"

    room_name: str = Field(primary_key=True, max_length=100)
    idempotency_key: str = Field(unique=True, max_length=255)
    partner_id: str = Field(index=True, max_length=64)
    workflow_id: str = Field(max_length=200)
    room_id: str = Field(max_length=100)
    room_type: str = Field(max_length=10)  # private (groups.create) | public (channels.create)
    backend: str = Field(max_length=10)  # local | rest
    server_url: str = Field(max_length=500)
    members_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class RocketChatSalesReportRow(SQLModel, table=True):
    """A partner's monthly sales report and the revenue share computed from it."""

    __tablename__ = "rocketchat_sales_reports"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    partner_id: str = Field(index=True, max_length=64)
    workflow_id: str = Field(max_length=200)
    month: str = Field(index=True, max_length=7)
    partner_type: str = Field(max_length=40)
    report_json: str = Field(sa_column=Column(Text, nullable=False))
    share_json: str = Field(sa_column=Column(Text, nullable=False))
    owed_to_rocketchat_cents: int
    invoice_id: str | None = Field(default=None, max_length=100)
    submitted_at: datetime


# --- form intake (deliveries of the forms that advance a running process) -----------------


class FormDeliveryRow(SQLModel, table=True):
    """One delivery of a form that advances a running process: `delivery_id` (a hash of the
    form name and the signed body) is the key, so a repeated webhook finds its first delivery.
    `status` is `claimed` from before the signal is sent until it is `delivered`."""

    __tablename__ = "form_deliveries"

    delivery_id: str = Field(primary_key=True, max_length=64)
    form: str = Field(max_length=64)
    workflow_id: str = Field(index=True, max_length=200)
    signal: str = Field(max_length=100)
    status: str = Field(max_length=10)  # claimed | delivered
    claimed_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class OperatorSessionRow(SQLModel, table=True):
    """A signed-in operator's session: the cookie names `sid`; signing out (or an
    administrator) sets `revoked_at`, after which the cookie is refused even though its
    signature and expiry are still good."""

    __tablename__ = "operator_sessions"

    sid: str = Field(primary_key=True, max_length=64)
    operator: str = Field(index=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


# --- Mattermost subscription renewals --------------------------------------------------------


class SubscriptionRow(SQLModel, table=True):
    """One term of an end customer's subscription (the first order's id names the
    subscription; its first order is term 1): `active` while licensed, then `renewed` (the
    next term's order issued a license) or `lapsed` (nobody renewed by expiry plus the grace
    period). Written by the term's `SubscriptionRenewal`."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscription_id", "term"),)

    id: str = Field(primary_key=True, max_length=80)  # "{subscription_id}:{term}"
    subscription_id: str = Field(index=True, max_length=64)
    term: int
    workflow_id: str = Field(index=True, max_length=200)
    order_id: str = Field(max_length=64)
    license_id: str = Field(max_length=64)
    end_customer_name: str = Field(max_length=200)
    end_customer_email: str = Field(max_length=320)
    reseller_company: str = Field(max_length=200)
    partner_id: str | None = Field(default=None, max_length=64)
    starts_at: datetime
    expires_at: datetime = Field(index=True)
    value_cents: int
    currency: str = Field(max_length=3)
    status: str = Field(index=True, max_length=20)  # active | renewed | lapsed
    renewal_order_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RocketChatPortalAccessRow(SQLModel, table=True):
    """A partner's account on Rocket.Chat's opportunities portal (the local adapter's record
    of the grant: one per idempotency key)."""

    __tablename__ = "rocketchat_portal_access"

    account_id: str = Field(primary_key=True, max_length=100)
    idempotency_key: str = Field(unique=True, max_length=255)
    partner_id: str = Field(index=True, max_length=64)
    workflow_id: str = Field(max_length=200)
    contact_email: str = Field(max_length=320)
    url: str = Field(max_length=500)
    backend: str = Field(max_length=10)
    granted_at: datetime = Field(default_factory=utcnow)
    # Revoked when the partnership ends (the partner leaves the program).
    revoked_at: datetime | None = None
    revocation_reason: str | None = Field(default=None, max_length=2000)


class RocketChatSiteListingRow(SQLModel, table=True):
    """A partner on Rocket.Chat's own partner page (`/rocketchat/partners`): listed when its
    onboarding completes, `removed_at` set when it leaves the program."""

    __tablename__ = "rocketchat_site_listings"

    partner_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(max_length=200)
    company: str = Field(max_length=200)
    partner_type: str = Field(max_length=40)
    services_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    country: str = Field(max_length=2)
    website: str = Field(max_length=500)
    listed_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None
    removal_reason: str | None = Field(default=None, max_length=2000)


# The partner portal's tables live in their own module; importing the records' tables
# registers them too (migrations, schema checks).
import models.portal_tables  # noqa: E402, F401


class TaskEventRow(SQLModel, table=True):
    """Facts of human tasks for the insights reports: a task's opening, reminders, escalation
    and decision, each once, with the due time it had then (so reports never read workflow
    histories)."""

    __tablename__ = "task_events"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True, max_length=255)
    workflow_id: str = Field(index=True, max_length=200)
    workflow_type: str = Field(max_length=100)
    program: str = Field(index=True, max_length=20)
    partner_id: str | None = Field(default=None, index=True, max_length=64)
    task: str = Field(index=True, max_length=100)
    event: str = Field(max_length=20)  # opened | reminded | escalated | decided
    at: datetime = Field(index=True)
    due_at: datetime | None = None
    actor: str = Field(default="system", max_length=200)
