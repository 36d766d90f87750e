"""Mattermost deal registration and one-time authorized resale: contracts and pure rules.

Seed ("Mattermost Value-Added Reseller Program"): for each customer opportunity the VAR
completes a deal registration form to qualify for the reseller discount; a quotation from
the Sales Manager includes the customer's contact email for the license key (the purchase
order's end-customer contact must be that address: `license_contact_mismatch`); the customer
signs the quotation before any purchase order; when an approved deal's customer buys online,
the partner may invoice a referral fee with the note
`Referral fee for deal registration [DEAL_REGISTRATION_NUMBER]` sent to payments@mattermost.com.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from models.contracts import (
    Contact,
    Contract,
    EndCustomer,
    OrderProgress,  # noqa: F401  (re-exported)
    Reseller,
)
from models.pricing import purchase_list_cents

DEAL_NUMBER_PATTERN = r"^DR-\d{4}-\d{6}$"
_DEAL_NUMBER = re.compile(DEAL_NUMBER_PATTERN)
PAYMENTS_EMAIL = "payments@mattermost.com"
VAR_TYPE = "value_added_reseller"
# Registration statuses that block another partner's registration of the same opportunity.
OPEN_STATUSES = ("in_review", "information_requested", "approved", "quoted", "ordered")

# Free-mail domains say nothing about which company a contact works for.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "t-online.de",
    }
)
# Legal-form words dropped when comparing company names ("Hanse Logistik AG" = "hanse logistik").
LEGAL_FORMS = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "ag",
        "kg",
        "ug",
        "se",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "oy",
        "ab",
        "as",
        "aps",
        "pty",
        "pte",
        "kk",
        "the",
        "und",
        "and",
        "mbh",
    }
)


def format_deal_number(year: int, sequence: int) -> str:
    """`DR-2026-000123`."""
    if not 1 <= sequence <= 999_999 or not 1000 <= year <= 9999:
        raise ValueError(f"no deal number for year {year}, sequence {sequence}")
    return f"DR-{year:04d}-{sequence:06d}"


def parse_deal_number(number: str) -> tuple[int, int]:
    if not _DEAL_NUMBER.match(number):
        raise ValueError(f"{number!r} is not a deal number like DR-2026-000123")
    _, year, sequence = number.split("-")
    return int(year), int(sequence)


def normalize_company(name: str) -> str:
    """A company name reduced for comparison: accents, case, punctuation and legal forms
    removed ("Hanse-Logistik AG" and "HANSE LOGISTIK" are the same customer)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ").replace("ß", "ss")
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    return " ".join(kept or words)


def email_domain(email: str) -> str | None:
    """The company domain of a contact email; None for free-mail addresses."""
    domain = email.rsplit("@", 1)[-1].strip().casefold().rstrip(".")
    if not domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


def opportunity_keys(end_customer_name: str, contact_email: str, sku: str) -> list[str]:
    """The keys under which two registrations are the same opportunity: the same product
    for the same customer, by normalized name or by the contact's email domain."""
    product = sku.strip().upper()
    keys = [f"name:{normalize_company(end_customer_name)}|{product}"]
    if domain := email_domain(contact_email):
        keys.append(f"domain:{domain}|{product}")
    return keys


def referral_fee_note(deal_number: str) -> str:
    """The exact invoice note the seed asks the partner to use."""
    return f"Referral fee for deal registration {deal_number}"


# --- deal registration: form and workflow input --------------------------------------------

DEAL_FORM_EXAMPLE: JsonDict = {
    "partner_id": "nordlicht-it",
    "registered_by": {"name": "Lena Hoffmann", "email": "lena.hoffmann@nordlicht-it.example"},
    "end_customer": {
        "legal_name": "Hanse Logistik AG",
        "address": {
            "line1": "Am Sandtorkai 50",
            "city": "Hamburg",
            "postal_code": "20457",
            "country": "DE",
        },
        "contact": {"name": "Jonas Weber", "email": "jonas.weber@hanse-logistik.example"},
    },
    "sku": "MM-ENT-1Y",
    "product": "Mattermost Enterprise, 1 year",
    "seats": 250,
    "list_unit_price_cents": 12000,
    "expected_close_date": "2027-03-31",
}


class DealRegistrationForm(Contract):
    """A Value-Added Reseller registers a customer opportunity to qualify for the reseller
    discount. The deal number (DR-YYYY-NNNNNN) is assigned at intake."""

    model_config = {
        "title": "DealRegistrationForm",
        "json_schema_extra": {"examples": [DEAL_FORM_EXAMPLE]},
    }

    partner_id: str = Field(
        min_length=1,
        max_length=64,
        description="The registering VAR's partner id in the Mattermost program",
    )
    registered_by: Contact = Field(description="The partner's person registering the deal")
    end_customer: EndCustomer = Field(description="Always named: legal name, address, contact")
    sku: str = Field(default="MM-ENT-1Y", min_length=1, max_length=64)
    product: str = Field(default="Mattermost Enterprise, 1 year", min_length=1, max_length=200)
    seats: int = Field(gt=0, le=1_000_000)
    list_unit_price_cents: int = Field(gt=0, description="List price per seat per year, in cents")
    expected_close_date: date
    notes: str | None = Field(default=None, max_length=2000)
    industry: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "The end customer's industry (e.g. public sector), compared with the industries of "
            "the reseller agreement"
        ),
    )


class DealRegistrationInput(Contract):
    """What DealRegistration runs on: the form, the deal number and the partner's terms
    as the partner records had them at intake."""

    deal_number: str = Field(pattern=DEAL_NUMBER_PATTERN)
    partner: Reseller
    partner_tier: str | None = None
    end_customer: EndCustomer
    sku: str
    product: str
    seats: int = Field(gt=0)
    list_unit_price_cents: int = Field(gt=0)
    expected_close_date: date
    notes: str | None = None
    industry: str | None = None
    discount_percent: int = Field(default=20, ge=0, le=100)
    protection_days: int = Field(default=90, gt=0)
    protection_reminder_days: int = Field(default=14, ge=0)
    review_business_days: int = Field(default=2, gt=0)
    answer_business_days: int = Field(default=5, gt=0)
    purchase_order_business_days: int = Field(default=10, gt=0)
    referral_fee_payment_days: int = Field(default=30, gt=0)

    @property
    def program(self) -> str:
        return "mattermost"


# --- deal registration: what people send ------------------------------------------------------


class DealReview(Contract):
    """`review_deal`: the sales manager approves, rejects (reason) or asks (question)."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject", "request_information"]
    reason: str | None = Field(default=None, max_length=2000)
    question: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _needs_reason_or_question(self) -> DealReview:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        if self.decision == "request_information" and not self.question:
            raise ValueError("a request for more information needs a question")
        return self


class DealInformation(Contract):
    """`provide_deal_information`: the partner answers the reviewer's question."""

    model_config = {
        "title": "DealInformationForm",
        "json_schema_extra": {
            "examples": [
                {
                    "deal_number": "DR-2026-000123",
                    "answered_by": "lena.hoffmann@nordlicht-it.example",
                    "answer": "The customer runs a 250-seat pilot; budget approved for Q1.",
                }
            ]
        },
    }

    deal_number: str | None = Field(default=None, pattern=DEAL_NUMBER_PATTERN)
    answered_by: str = Field(min_length=1, max_length=320)
    answer: str = Field(min_length=1, max_length=5000)


class Quotation(Contract):
    """`submit_quotation`: the Sales Manager's quotation; the discount must be the approved
    registration's and the net price must follow from it."""

    quote_number: str = Field(min_length=1, max_length=64)
    prepared_by: str = Field(min_length=1, max_length=200)
    seats: int = Field(gt=0)
    list_unit_price_cents: int = Field(gt=0)
    discount_percent: int = Field(ge=0, le=100)
    net_price_cents: int = Field(gt=0, description="Total net price of the quote, in cents")
    license_contact_email: EmailStr = Field(
        description="The customer's contact for the license key"
    )


class DealPurchaseOrder(Contract):
    """`submit_purchase_order`: the partner's purchase order for the signed quotation."""

    number: str = Field(min_length=1, max_length=64)
    submitted_by: str = Field(min_length=1, max_length=320)
    amount_cents: int = Field(gt=0)
    bill_to: str = Field(
        min_length=1, max_length=200, description="The reseller, never the end customer"
    )
    issued_by: Literal["reseller", "end_customer"] = "reseller"
    custom_terms: str | None = None
    end_customer: EndCustomer


def license_contact_mismatch(po: DealPurchaseOrder, quotation: Quotation) -> str | None:
    """The license goes to the quotation's license contact (the customer's contact email for
    the license key), and the order sends it to the purchase order's end-customer contact: a
    purchase order naming another contact is refused, with both addresses (compared without
    regard to case). None when they are the same."""
    ordered, quoted = str(po.end_customer.contact.email), str(quotation.license_contact_email)
    if ordered.casefold() == quoted.casefold():
        return None
    return (
        f"the end customer's contact {ordered} is not the license contact {quoted} of quotation "
        f"{quotation.quote_number}: the license goes to the quotation's license contact, so the "
        f"purchase order must name {quoted}"
    )


class PurchasedOnline(Contract):
    """`customer_purchased_online`: the registered customer bought online instead."""

    model_config = {
        "title": "CustomerPurchasedOnlineForm",
        "json_schema_extra": {
            "examples": [
                {
                    "deal_number": "DR-2026-000123",
                    "reported_by": "sales@mattermost.com",
                    "online_order_reference": "WEB-2026-4411",
                    "seats": 250,
                    "list_unit_price_cents": 12000,
                    "term_months": 12,
                    "amount_paid_cents": 3000000,
                }
            ]
        },
    }

    deal_number: str | None = Field(default=None, pattern=DEAL_NUMBER_PATTERN)
    reported_by: str = Field(min_length=1, max_length=320)
    online_order_reference: str = Field(min_length=1, max_length=100)
    # What the customer bought. None in reports recorded before the purchase was carried
    # (their fee follows the registered seats); the form requires seats and list price.
    seats: int | None = Field(default=None, gt=0, le=1_000_000, description="Seats bought")
    list_unit_price_cents: int | None = Field(
        default=None,
        gt=0,
        validate_default=True,
        description="List price per seat per year, in cents",
    )
    term_months: int = Field(
        default=12, ge=12, le=60, description="Subscription term in months: whole years"
    )
    amount_paid_cents: int | None = Field(
        default=None,
        gt=0,
        description=(
            "What the customer paid, if known: online purchases are at list price, so it must "
            "equal list price × seats × years"
        ),
    )

    @field_validator("list_unit_price_cents")
    @classmethod
    def _price_with_seats(cls, value: int | None, info: ValidationInfo) -> int | None:
        if (value is None) != (info.data.get("seats") is None) and "seats" in info.data:
            raise ValueError("the purchase's seats and list price are given together")
        return value

    @field_validator("term_months")
    @classmethod
    def _whole_years(cls, value: int) -> int:
        if value % 12:
            raise ValueError(f"{value} months is not a whole number of years (12, 24, 36…)")
        return value

    @field_validator("amount_paid_cents")
    @classmethod
    def _paid_at_list_price(cls, value: int | None, info: ValidationInfo) -> int | None:
        purchase = ("seats", "list_unit_price_cents", "term_months")
        if value is None or any(name not in info.data for name in purchase):
            return value  # nothing to check, or a purchase field is already named as invalid
        seats, unit = info.data["seats"], info.data["list_unit_price_cents"]
        term = info.data["term_months"]
        if seats is None or unit is None:
            raise ValueError("the amount paid needs the purchase's seats and list price")
        expected = purchase_list_cents(unit, seats, term)
        if value != expected:
            raise ValueError(
                f"the amount paid {value} cents is not the list price of the purchase "
                f"({unit} × {seats} seats × {term // 12} year(s) = {expected} cents): "
                "online purchases are at list price"
            )
        return value

    @property
    def has_purchase(self) -> bool:
        return self.seats is not None and self.list_unit_price_cents is not None


class Withdrawal(Contract):
    """`withdraw`: the partner withdraws the registration (any stage before the PO)."""

    withdrawn_by: str = Field(min_length=1, max_length=320)
    reason: str = Field(min_length=1, max_length=2000)


class ReferralFeePaid(Contract):
    """`record_referral_fee_paid`: finance paid the partner's referral-fee invoice."""

    recorded_by: str = Field(min_length=1, max_length=200)
    amount_cents: int = Field(gt=0)
    reference: str = Field(min_length=1, max_length=200, description="Payment reference")


# --- routing: the partner's Sales Manager and the agreement's scope ---------------------------


def sales_manager_of(attributes: Mapping[str, Any]) -> Contact | None:
    """The Sales Manager the reseller works with (seed: "Resellers collaborate with the Sales
    Manager"), as the VAR application recorded it in the partner's attributes
    (`sales_manager`: name, email); None when none is on record (older partners) or the entry
    is not a name and a valid address."""
    entry = attributes.get("sales_manager")
    if not isinstance(entry, Mapping):
        return None
    try:
        return Contact.model_validate({"name": entry.get("name"), "email": entry.get("email")})
    except ValidationError:
        return None


def normalize_industry(name: str) -> str:
    """An industry reduced for comparison: case, punctuation and spacing ("Public-Sector" is
    "public sector"), "&" read as "and"."""
    text = name.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


class AgreementFit(Contract):
    """A deal against the reseller agreement's territory (ISO countries) and industries, as
    the partner record holds them; an empty list means the record names none (not checked)."""

    territory: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    country: str
    industry: str | None = None
    outside_territory: bool = False
    outside_industries: bool = False

    @property
    def flagged(self) -> bool:
        return self.outside_territory or self.outside_industries

    def findings(self) -> list[str]:
        """What lies outside the agreement, with the facts on both sides."""
        found = []
        if self.outside_territory:
            found.append(
                f"the customer's country {self.country} is outside the agreement's territory "
                f"({', '.join(self.territory)})"
            )
        if self.outside_industries:
            found.append(
                f"the customer's industry {self.industry!r} is outside the agreement's "
                f"industries ({', '.join(self.industries)})"
            )
        return found


def agreement_fit(
    attributes: Mapping[str, Any], country: str, industry: str | None
) -> AgreementFit | None:
    """Whether a deal lies inside the reseller agreement the VAR application recorded
    (`territory`, `industries` in the partner's attributes). A country outside a recorded
    territory, or a stated industry outside recorded industries, is outside; a deal that states
    no industry is checked on its country only. None when the record names neither."""
    territory = _strings(attributes.get("territory"))
    industries = _strings(attributes.get("industries"))
    if not territory and not industries:
        return None
    code = country.strip().upper()
    known = {normalize_industry(i) for i in industries}
    return AgreementFit(
        territory=[t.upper() for t in territory],
        industries=industries,
        country=code,
        industry=industry,
        outside_territory=bool(territory) and code not in {t.upper() for t in territory},
        outside_industries=bool(known)
        and industry is not None
        and normalize_industry(industry) not in known,
    )


def agreement_flag(fit: AgreementFit) -> str:
    """The line that opens the reviewer's task when a deal lies outside the agreement (like a
    channel conflict's); "" when it lies inside."""
    if not fit.flagged:
        return ""
    return f"OUTSIDE THE AGREEMENT: {'; '.join(fit.findings())}."


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    return [str(v).strip() for v in value if isinstance(v, str) and v.strip()]


# --- activity contracts -----------------------------------------------------------------------


class DealRecord(Contract):
    deal_number: str
    workflow_id: str
    partner_id: str
    partner_company: str
    end_customer_name: str
    contact_email: str
    sku: str
    status: str
    protected_until: datetime | None = None
    at: datetime


class DealConflictQuery(Contract):
    deal_number: str
    partner_id: str
    end_customer_name: str
    contact_email: str
    sku: str


class DealConflict(Contract):
    deal_number: str
    partner_id: str
    partner_company: str
    status: str
    matched_on: str


class ApprovalClaim(Contract):
    deal_number: str
    end_customer_name: str
    contact_email: str
    sku: str


class ClaimResult(Contract):
    granted: bool
    held_by: str | None = None
    matched_on: str | None = None


class ReferralFeeRecord(Contract):
    deal_number: str
    workflow_id: str
    partner_id: str
    amount_cents: int
    currency: str = "usd"
    note: str
    status: Literal["payable", "paid"]
    reference: str | None = None
    at: datetime


# --- authorized resale ------------------------------------------------------------------------

RESALE_FORM_EXAMPLE: JsonDict = {
    "request_id": "RS-2026-0042",
    "reseller": {
        "company": "Baltic Procurement Services OÜ",
        "contact": {"name": "Mari Tamm", "email": "mari.tamm@baltic-procurement.example"},
        "address": {
            "line1": "Narva mnt 5",
            "city": "Tallinn",
            "postal_code": "10117",
            "country": "EE",
        },
    },
    "end_customer_name": "Tallinna Sadam AS",
    "end_customer_country": "EE",
    "message": "Our customer must buy through us (public procurement framework).",
}


class AuthorizedResaleForm(Contract):
    """A company asks to resell Mattermost Enterprise once, to one named end customer."""

    model_config = {
        "title": "AuthorizedResaleForm",
        "json_schema_extra": {"examples": [RESALE_FORM_EXAMPLE]},
    }

    request_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Business key: the workflow id is `resale-{request_id}`",
    )
    reseller: Reseller
    end_customer_name: str = Field(
        min_length=1, max_length=200, description="Required: the end customer is always named"
    )
    end_customer_country: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2; screened for embargoes first"
    )
    message: str | None = Field(default=None, max_length=2000)


class AuthorizedResaleInput(AuthorizedResaleForm):
    outreach_business_days: int = Field(default=2, gt=0)
    approval_business_days: int = Field(default=2, gt=0)
    purchase_order_business_days: int = Field(default=10, gt=0)


class ReachOut(Contract):
    """`record_outreach`: the partner manager reached out to the reseller."""

    contacted_by: str = Field(min_length=1, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)


class ResaleLine(Contract):
    sku: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=200)
    seats: int = Field(gt=0)
    unit_price_cents: int = Field(gt=0)


class ResaleDecision(Contract):
    """`decide_resale`: internal approval of the one-time resale, with the purchase-order
    details for the customer that the agreement shows; a rejection needs a reason."""

    approver: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)
    lines: list[ResaleLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> ResaleDecision:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        if self.decision == "approve" and not self.lines:
            raise ValueError("an approval needs the purchase-order lines for the customer")
        return self


class ResalePurchaseOrder(Contract):
    """`submit_purchase_order`: the reseller's purchase order with the customer's name,
    address and contact information (all required)."""

    number: str = Field(min_length=1, max_length=64)
    submitted_by: str = Field(min_length=1, max_length=320)
    issued_by: Literal["reseller", "end_customer"] = "reseller"
    custom_terms: str | None = None
    end_customer: EndCustomer


class SalesOutcome(Contract):
    """The result of DealRegistration and AuthorizedResale."""

    workflow_id: str
    outcome: str = Field(
        description="e.g. paid, rejected, withdrawn, lapsed, referral_fee_paid, embargoed"
    )
    reason: str | None = None
    deal_number: str | None = None
    order_id: str | None = None
    order_outcome: str | None = None
    invoice_number: str | None = None
    referral_fee_cents: int | None = None
