"""Mattermost partner applications: the VAR and System Integrator forms, the decisions people
send, and the pure pre-screen rules of a VAR application (seed: "Becoming a Mattermost
Value-Added Reseller").

Pre-screen criteria, each reported with its evidence:

- an existing customer asked to buy Mattermost Enterprise through resale (named);
- at least two years of operating history at the date of the review;
- in a non-English-speaking country, first- and second-tier support in a local language;
- no business with US-embargoed countries and regions (`models.screening`).

Which countries are English-speaking, and which languages are "local", comes from the
Unicode CLDR territory data (`territoryInfo`: official and de-facto official languages per
territory) as shipped by the `babel` package (`babel.languages.get_official_languages(...,
de_facto=True)`): a country is English-speaking when English is one of its official or
de-facto official languages (US, GB, IE, CA, IN, SG, AU, ...). The lookup runs in the
`prescreen_application` activity, never in workflow code, so a babel upgrade cannot change
the replay of a running workflow; the pure rules here take the languages as input.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any, Literal

import pycountry
from pydantic import ConfigDict, Field, HttpUrl, field_validator, model_validator

from models.contracts import COUNTRY_CODES, Contact, Contract, PartnerRecord, ScreeningResult
from models.partner_identity import email_mismatch, organization_mismatch
from models.pricing import DiscountBounds

LANGUAGE_CODES = frozenset(
    code
    for language in pycountry.languages
    for code in (getattr(language, "alpha_2", None), language.alpha_3)
    if code
)
COUNTRY_NAMES = {country.alpha_2: country.name for country in pycountry.countries}
MIN_OPERATING_YEARS = 2
PARTNER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


def slug(text: str) -> str:
    """`Nordlicht IT-Systemhaus GmbH` → `nordlicht-it-systemhaus-gmbh` (a partner id)."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (value or "partner")[:64].rstrip("-")


def _languages(values: list[str]) -> list[str]:
    codes = []
    for value in values:
        code = value.strip().lower()
        if code not in LANGUAGE_CODES:
            raise ValueError(f"unknown ISO 639 language code {value!r}")
        codes.append(code)
    return codes


def _countries(values: list[str]) -> list[str]:
    codes = []
    for value in values:
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        codes.append(code)
    return codes


# --- VAR application ---------------------------------------------------------------------------

VAR_APPLICATION_EXAMPLE: dict[str, Any] = {
    "application_id": "VAR-2026-0042",
    "company": "Nordlicht IT-Systemhaus GmbH",
    "partner_id": "nordlicht-it",
    "country": "DE",
    "city": "Berlin",
    "founded_on": "2015-03-01",
    "website": "https://nordlicht-it.example.com",
    "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@example.com"},
    "existing_customer": "Hanse Logistik AG",
    "first_tier_support_languages": ["de", "en"],
    "second_tier_support_languages": ["de"],
    "territory": ["DE", "AT", "CH"],
    "industries": ["public sector", "manufacturing"],
}


class VarApplicationForm(Contract):
    """The Value-Added Reseller contact form: who applies, for which territory and industries."""

    model_config = ConfigDict(
        title="VarApplicationForm", json_schema_extra={"examples": [VAR_APPLICATION_EXAMPLE]}
    )

    application_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Business key: the workflow id is `var-application-{application_id}`",
    )
    company: str = Field(min_length=1, max_length=200, description="Legal name")
    partner_id: str | None = Field(
        default=None,
        pattern=PARTNER_ID_PATTERN,
        description="Mattermost partner id once approved; defaults to the company name as a "
        "slug (a Rocket.Chat partner with the same id is another partner)",
    )
    country: str = Field(
        min_length=2, max_length=2, description="ISO 3166-1 alpha-2 country of the company's seat"
    )
    subdivision: str | None = Field(
        default=None, max_length=6, description="ISO 3166-2 subdivision, when known"
    )
    city: str = Field(min_length=1, max_length=100)
    founded_on: date = Field(description="Date the company started operating")
    website: HttpUrl
    contact: Contact
    existing_customer: str | None = Field(
        default=None,
        max_length=200,
        description="The existing customer who asked to buy Mattermost Enterprise through resale",
    )
    first_tier_support_languages: list[str] = Field(min_length=1, description="ISO 639 codes")
    second_tier_support_languages: list[str] = Field(min_length=1, description="ISO 639 codes")
    territory: list[str] = Field(min_length=1, description="ISO 3166-1 alpha-2 countries sought")
    industries: list[str] = Field(min_length=1)

    _country = field_validator("country")(lambda v: _countries([v])[0])
    _territory = field_validator("territory")(_countries)
    _langs = field_validator("first_tier_support_languages", "second_tier_support_languages")(
        _languages
    )

    @property
    def resolved_partner_id(self) -> str:
        return self.partner_id or slug(self.company)


class Criterion(Contract):
    """One pre-screen criterion: passed or not, and the evidence for it."""

    name: Literal["existing_customer", "operating_history", "local_language_support", "embargo"]
    passed: bool
    evidence: str


def years_between(start: date, end: date) -> int:
    """Whole years from `start` to `end` (birthday rule; 29 February counts on 28 February)."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def check_existing_customer(application: VarApplicationForm) -> Criterion:
    name = (application.existing_customer or "").strip()
    if name:
        return Criterion(
            name="existing_customer", passed=True, evidence=f"existing customer named: {name}"
        )
    return Criterion(
        name="existing_customer",
        passed=False,
        evidence=(
            "no existing customer who asked to buy Mattermost Enterprise through resale is named"
        ),
    )


def check_operating_history(application: VarApplicationForm, review_date: date) -> Criterion:
    years = years_between(application.founded_on, review_date)
    ok = application.founded_on <= review_date and years >= MIN_OPERATING_YEARS
    evidence = (
        f"operating since {application.founded_on.isoformat()}: {max(years, 0)} full year(s) "
        f"at the review date {review_date.isoformat()} (minimum {MIN_OPERATING_YEARS})"
    )
    return Criterion(name="operating_history", passed=ok, evidence=evidence)


def check_local_language(
    application: VarApplicationForm, official_languages: tuple[str, ...]
) -> Criterion:
    """English-speaking country (English official or de-facto official, CLDR): no
    requirement. Otherwise both support tiers must offer one of the country's languages."""
    country = application.country
    if "en" in official_languages:
        return Criterion(
            name="local_language_support",
            passed=True,
            evidence=(
                f"{country} is English-speaking (CLDR official languages: "
                f"{', '.join(official_languages)}): no local-language requirement"
            ),
        )
    if not official_languages:
        return Criterion(
            name="local_language_support",
            passed=False,
            evidence=(
                f"no official language is known for {country} (CLDR): "
                "a reviewer must check local-language support"
            ),
        )
    missing = [
        tier
        for tier, offered in (
            ("first-tier", application.first_tier_support_languages),
            ("second-tier", application.second_tier_support_languages),
        )
        if not set(offered) & set(official_languages)
    ]
    local = ", ".join(official_languages)
    if missing:
        return Criterion(
            name="local_language_support",
            passed=False,
            evidence=(
                f"{country} is not English-speaking (CLDR official languages: {local}); "
                f"{' and '.join(missing)} support is not offered in a local language"
            ),
        )
    return Criterion(
        name="local_language_support",
        passed=True,
        evidence=(
            f"{country} is not English-speaking (CLDR official languages: {local}); "
            "first- and second-tier support offered in a local language"
        ),
    )


def check_embargo(screening: ScreeningResult, country: str) -> Criterion:
    if screening.allowed:
        return Criterion(
            name="embargo",
            passed=True,
            evidence=f"{country} is not under US embargo (data {screening.data_version})",
        )
    return Criterion(
        name="embargo",
        passed=False,
        evidence=f"{screening.reason or 'embargoed'} (data {screening.data_version})",
    )


def prescreen(
    application: VarApplicationForm,
    review_date: date,
    official_languages: tuple[str, ...],
    screening: ScreeningResult,
) -> list[Criterion]:
    """All criteria, in the seed's order, each with its evidence."""
    return [
        check_existing_customer(application),
        check_operating_history(application, review_date),
        check_local_language(application, official_languages),
        check_embargo(screening, application.country),
    ]


class PrescreenRequest(Contract):
    application: VarApplicationForm
    review_date: date


class PrescreenResult(Contract):
    criteria: list[Criterion]
    official_languages: list[str]
    data_source: str
    # The program's bounds of the reseller discount at the time of the review (settings); the
    # approval agrees a discount within them. None in histories recorded before the approval
    # carried the agreed discount (their approvals keep the former fixed 20%).
    discount_bounds: DiscountBounds | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failed(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]


# --- decisions people send ---------------------------------------------------------------------


class ApplicationReview(Contract):
    """`review_application`: approve, reject with a reason, or ask for more information."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject", "request_information"]
    reason: str | None = Field(default=None, max_length=2000, description="Required to reject")
    questions: str | None = Field(
        default=None, max_length=4000, description="Required to request information"
    )
    notes: str | None = Field(default=None, max_length=2000)
    territory: list[str] | None = Field(
        default=None,
        description=(
            "On approval: the approved territory (ISO countries), "
            "when it differs from the one sought"
        ),
    )
    industries: list[str] | None = Field(
        default=None,
        description="On approval: the approved industries, when they differ from the ones sought",
    )
    discount_percent: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(
            "On approval, required (ignored otherwise): the agreed reseller discount off list "
            "prices, within the "
            "program's bounds (PARTNERFLOW_MATTERMOST_DISCOUNT_MIN_PERCENT/MAX_PERCENT); it "
            "goes into the agreement and the partner record"
        ),
    )

    @field_validator("territory")
    @classmethod
    def _territory(cls, value: list[str] | None) -> list[str] | None:
        return _countries(value) if value else None

    @model_validator(mode="after")
    def _needs_text(self) -> ApplicationReview:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        if self.decision == "request_information" and not self.questions:
            raise ValueError("a request for information needs the questions")
        return self


class InformationProvided(Contract):
    """`provide_information`: the applicant answers the reviewer's questions."""

    answers: str = Field(min_length=1, max_length=8000)
    provided_by: str = Field(min_length=1, max_length=200)


class Person(Contract):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class SalesManagerAssignment(Contract):
    """`assign_sales_manager`: the Sales Manager the reseller works with."""

    sales_manager: Person
    assigned_by: str = Field(min_length=1, max_length=200)


class TrainingCompleted(Contract):
    """`confirm_training`: the reseller completed the online training."""

    completed_on: date
    confirmed_by: str = Field(min_length=1, max_length=200)
    certificate: str | None = Field(default=None, max_length=200)


class LocalSupportConfirmed(Contract):
    """`confirm_local_support`: the reseller's local support process is in place."""

    process_summary: str = Field(min_length=10, max_length=4000)
    languages: list[str] = Field(min_length=1)
    confirmed_by: str = Field(min_length=1, max_length=200)

    _langs = field_validator("languages")(_languages)


class VarApplicationResult(Contract):
    application_id: str
    partner_id: str
    outcome: Literal["active", "declined", "rejected", "agreement_expired", "embargoed"]
    reason: str | None = None


# --- System Integrator application -------------------------------------------------------------

SI_APPLICATION_EXAMPLE: dict[str, Any] = {
    "application_id": "SI-2026-0007",
    "company": "Fjord Integrations AS",
    "partner_id": "fjord-integrations",
    "country": "NO",
    "city": "Oslo",
    "website": "https://fjord-integrations.example.com",
    "contact": {"name": "Ingrid Berg", "email": "ingrid.berg@example.com"},
    "expertise": (
        "We deploy and operate Mattermost for public agencies and integrate it with GitLab, "
        "Jira and on-premise identity providers."
    ),
    "organization_type": "commercial",
}

BENEFITS: dict[str, tuple[str, str]] = {
    # benefit: (owner role, what the owner does)
    "directory_inclusion": (
        "partner_manager",
        "Include the partner in the Mattermost partner directory (the partner submits its listing)",
    ),
    "guest_blog_post": (
        "partner_manager",
        "Publish the partner's guest post on the Mattermost blog",
    ),
    "co_hosted_webinar": ("partner_manager", "Hold a webinar co-hosted with the partner"),
    "social_promotion": ("partner_manager", "Promote the partner on Mattermost's social media"),
    "evaluation_license": (
        "license_desk",
        "Deliver the partner's Evaluation License for Mattermost Enterprise",
    ),
}
BenefitName = Literal[
    "directory_inclusion",
    "guest_blog_post",
    "co_hosted_webinar",
    "social_promotion",
    "evaluation_license",
]


class SiApplicationForm(Contract):
    """The System Integrators Partner Program contact form."""

    model_config = ConfigDict(
        title="SiApplicationForm", json_schema_extra={"examples": [SI_APPLICATION_EXAMPLE]}
    )

    application_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Business key: the workflow id is `si-application-{application_id}`",
    )
    company: str = Field(min_length=1, max_length=200)
    partner_id: str | None = Field(default=None, pattern=PARTNER_ID_PATTERN)
    country: str = Field(min_length=2, max_length=2)
    city: str = Field(min_length=1, max_length=100)
    website: HttpUrl
    contact: Contact
    expertise: str = Field(
        min_length=10,
        max_length=4000,
        description=(
            "How the company deploys, manages, extends, customizes and integrates Mattermost"
        ),
    )
    organization_type: Literal["commercial", "open_source"] = "commercial"

    _country = field_validator("country")(lambda v: _countries([v])[0])

    @property
    def resolved_partner_id(self) -> str:
        return self.partner_id or slug(self.company)


class DiscussionHeld(Contract):
    """`record_discussion`: the partner manager met the applicant."""

    held_on: date
    held_by: str = Field(min_length=1, max_length=200)
    notes: str = Field(min_length=1, max_length=8000)


class SiDecision(Contract):
    """`decide_application`: approve or reject (with a reason)."""

    decided_by: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _needs_reason(self) -> SiDecision:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class BenefitDone(Contract):
    """`complete_benefit`: the owner delivered one partner benefit."""

    benefit: BenefitName
    done_by: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(
        default=None, max_length=500, description="e.g. the blog post or webinar URL"
    )


class SiApplicationResult(Contract):
    application_id: str
    partner_id: str
    outcome: Literal["active", "rejected", "embargoed"]
    reason: str | None = None
    benefits_done: list[str] = Field(default_factory=list)


class PartnerLeft(Contract):
    """`partner_left`: the partner left the program (or was removed)."""

    reason: str = Field(min_length=1, max_length=2000)
    decided_by: str = Field(min_length=1, max_length=200)


def fresh_application(example: dict[str, Any]) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:10]
    example["application_id"] = f"{example['application_id'].split('-')[0]}-{suffix.upper()}"
    example["partner_id"] = f"{example['partner_id']}-{suffix}"
    return example


# --- EvaluationLicense ---------------------------------------------------------------------------

RESELLER_SUFFIX = "[RESELLER]"
EVALUATION_USERS = 50
EVALUATION_TERM_DAYS = 365
EVALUATION_SKU = "mattermost-enterprise-evaluation"

EVALUATION_EXAMPLE: dict[str, Any] = {
    "partner_id": "nordlicht-it",
    "organization_name": "Nordlicht IT-Systemhaus GmbH [RESELLER]",
    "where_are_you_with_mattermost": "Other",
    "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@nordlicht-it.example.com"},
    "country": "DE",
}


class EvaluationLicenseForm(Contract):
    """The trial form of a partner's Evaluation License: `[RESELLER]` after the organisation
    name and "Other" as "Where are you with Mattermost"; only active VAR and SI partners, and
    the request must be the partner's own: the organisation name is the partner's name on
    record and the contact email is at one of the partner's domains (`models.partner_identity`).
    """

    model_config = ConfigDict(
        title="EvaluationLicenseForm", json_schema_extra={"examples": [EVALUATION_EXAMPLE]}
    )

    partner_id: str = Field(
        min_length=1,
        max_length=64,
        description="The Mattermost partner id (an active VAR or SI). Business key: the "
        "workflow id is `eval-license-{partner_id}`",
    )
    organization_name: str = Field(
        min_length=1,
        max_length=220,
        description=(
            "The partner's organisation name as in the partner records, followed by [RESELLER]; "
            "case, whitespace, punctuation and the legal form (GmbH, Ltd, Inc, LLC, S.A., ...) "
            "do not matter, any other difference is refused (422)"
        ),
    )
    where_are_you_with_mattermost: str = Field(
        min_length=1, max_length=100, description="Must be `Other`"
    )
    contact: Contact = Field(
        description=(
            "Who receives the license. `contact.email` must be at one of the partner's domains "
            "(the domain of its registered contact email or of its website, or a subdomain of "
            "one; public mail services do not count), or be the registered contact address "
            "itself: otherwise refused (422)"
        )
    )
    country: str = Field(min_length=2, max_length=2)

    _country = field_validator("country")(lambda v: _countries([v])[0])

    @field_validator("organization_name")
    @classmethod
    def _reseller_suffix(cls, value: str) -> str:
        if (
            not value.rstrip().endswith(RESELLER_SUFFIX)
            or not value.rstrip().removesuffix(RESELLER_SUFFIX).strip()
        ):
            raise ValueError(
                f"add {RESELLER_SUFFIX} after your organization name, "
                f"e.g. 'Example GmbH {RESELLER_SUFFIX}'"
            )
        return value

    @field_validator("where_are_you_with_mattermost")
    @classmethod
    def _other(cls, value: str) -> str:
        if value != "Other":
            raise ValueError(
                "select 'Other' in 'Where are you with Mattermost' for a partner evaluation license"
            )
        return value

    @property
    def company(self) -> str:
        return self.organization_name.rstrip().removesuffix(RESELLER_SUFFIX).strip()


def evaluation_refusal(partner: Any, partner_id: str) -> str | None:
    """Why the partner may not have an evaluation license (None: it may). Only active
    Value-Added Resellers and System Integrators, by the Mattermost program's partner records
    (`partner` is the Mattermost partner `partner_id`, or None)."""
    if partner is None:
        return (
            f"no active Mattermost partner {partner_id!r}: "
            f"{partner_id} is not in the certified-reseller records"
        )
    if partner.program != "mattermost" or partner.partner_type not in (
        "value_added_reseller",
        "system_integrator",
    ):
        kind = partner.partner_type.replace("_", " ")
        return (
            f"{partner_id} is a {partner.program} {kind}, "
            "not a Mattermost Value-Added Reseller or System Integrator"
        )
    if partner.status != "active":
        return (
            f"no active Mattermost partner {partner_id!r}: "
            f"{partner_id} is not an active partner (status {partner.status})"
        )
    return None


class FormProblem(Contract):
    """One reason a form is refused: the field (a dotted path) and why."""

    field: str
    message: str


class EvaluationCheck(Contract):
    """The evaluation-license request checked against the partner's record as it is now."""

    partner_type: str | None = None
    problems: list[FormProblem] = Field(default_factory=list)

    @property
    def refusal(self) -> str | None:
        """The problems in one line (`field: why; ...`), None when there are none."""
        return "; ".join(f"{p.field}: {p.message}" for p in self.problems) or None


def evaluation_check(form: EvaluationLicenseForm, partner: PartnerRecord | None) -> EvaluationCheck:
    """May this partner have the license this form asks for, by its record? An active
    Mattermost VAR or SI (`partner_id`), and the request is the partner's own: the
    organisation name is the one on record (`organization_name`) and the contact email is at
    one of the partner's domains (`contact.email`)."""
    if refusal := evaluation_refusal(partner, form.partner_id):
        return EvaluationCheck(problems=[FormProblem(field="partner_id", message=refusal)])
    assert partner is not None
    problems = []
    if why := organization_mismatch(form.company, partner.company):
        problems.append(FormProblem(field="organization_name", message=why))
    if why := email_mismatch(form.contact.email, partner.contact_email, partner.website):
        problems.append(FormProblem(field="contact.email", message=why))
    return EvaluationCheck(partner_type=partner.partner_type, problems=problems)


class EvaluationLicenseInput(Contract):
    """The workflow input; each license year is one run (continue-as-new carries this on)."""

    form: EvaluationLicenseForm
    license_year: int = Field(default=1, ge=1)
    renewed_by: str | None = Field(
        default=None, description="Set on renewal runs: who approved the renewal"
    )
    starts_at: datetime | None = Field(
        default=None,
        description="Renewal runs: the new license starts when the previous one expires",
    )
    licenses: list[str] = Field(
        default_factory=list, description="Ids of the licenses issued so far"
    )
    review_business_days: int = Field(default=3, gt=0)
    review_reminder_business_days: int = Field(default=2, gt=0)
    expiry_reminder_days: int = Field(default=30, gt=0)


class EvaluationReview(Contract):
    """`review_evaluation_license`: the license desk approves or rejects the request."""

    reviewer: str = Field(min_length=1, max_length=200)
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _needs_reason(self) -> EvaluationReview:
        if self.decision == "reject" and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class EvaluationRenewal(Contract):
    """`renew_evaluation_license`: renew for another year, or let it expire."""

    decided_by: str = Field(min_length=1, max_length=200)
    decision: Literal["renew", "stop"]
    reason: str | None = Field(default=None, max_length=2000)


class EvaluationLicenseResult(Contract):
    partner_id: str
    outcome: Literal["refused", "rejected", "expired", "stopped", "partner_left"]
    reason: str | None = None
    licenses: list[str] = Field(default_factory=list)
    license_years: int = 0
