"""The Rocket.Chat program summary's steps that the seven onboarding steps did not cover
(seed 002, "Program summary": "a statement of work, followed by training and test sessions,
certification per type of service provided, contract signing, access to the opportunities
portal, inclusion on the Rocket.Chat website, definition of goals, market strategy, discount
and prices"), the program-documents folder and Rocket.Chat's own partner page.

Pure models and rules only (no I/O): workflows import this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, HttpUrl, field_validator, model_validator

from models.contracts import COUNTRY_CODES, Contract
from models.revenue_share import DISCOUNTED_TYPES, PREMIUM_DISCOUNT_PERCENT

# The summary's steps in the seed's order, with what each is in this system: `onboarding`
# (one of the seven onboarding steps), `task` (a person completes it), `automatic`.
SUMMARY_STEPS: tuple[tuple[str, str], ...] = (
    ("statement_of_work", "task"),
    ("training", "onboarding"),
    ("test_sessions", "task"),
    ("certification", "onboarding"),
    ("contract", "onboarding"),
    ("opportunities_portal", "automatic"),
    ("partner_page", "automatic"),
    ("goals", "onboarding"),
    ("market_strategy", "task"),
    ("discount_and_prices", "task"),
)
StepState = Literal["not_started", "waiting", "done"]
MAX_DISCOUNT_PERCENT = 50
MAX_TEST_SESSIONS = 10


# --- human steps --------------------------------------------------------------------------------


class StatementOfWork(Contract):
    """`agree_statement_of_work`: the account manager records the statement of work agreed
    with the partner (what it will deliver, for which of its services)."""

    agreed_by: str = Field(min_length=1, max_length=200)
    scope: str = Field(
        min_length=20, max_length=5000, description="What the partner delivers, in a paragraph"
    )
    services: list[str] = Field(
        min_length=1, description="The partner's registered services the statement covers"
    )
    document_url: HttpUrl | None = Field(default=None, description="The signed document, if any")

    @field_validator("services")
    @classmethod
    def _once(cls, services: list[str]) -> list[str]:
        if len(set(services)) != len(services):
            raise ValueError("services are listed twice")
        return services


class TestSession(Contract):
    at: datetime
    topic: str = Field(min_length=3, max_length=200)


class TestSessionsScheduled(Contract):
    """`schedule_test_sessions`: the trainer schedules the partner's test sessions (after the
    basic training, before certification)."""

    recorded_by: str = Field(min_length=1, max_length=200)
    sessions: list[TestSession] = Field(min_length=1, max_length=MAX_TEST_SESSIONS)

    @field_validator("sessions")
    @classmethod
    def _distinct(cls, sessions: list[TestSession]) -> list[TestSession]:
        times = [s.at for s in sessions]
        if len(set(times)) != len(times):
            raise ValueError("two sessions at the same time")
        return sorted(sessions, key=lambda s: s.at)


class TestSessionsHeld(Contract):
    """`record_test_sessions`: the sessions were held (with who attended), or must be
    scheduled again (with the reason)."""

    recorded_by: str = Field(min_length=1, max_length=200)
    outcome: Literal["held", "reschedule"]
    attendees: list[str] = Field(default_factory=list, max_length=50)
    notes: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _outcome(self) -> TestSessionsHeld:
        if self.outcome == "held" and not self.attendees:
            raise ValueError("held test sessions name their attendees")
        if self.outcome == "reschedule" and not self.notes:
            raise ValueError("a reschedule needs notes saying why")
        return self


class MarketStrategy(Contract):
    """`submit_market_strategy`: the partner's market strategy (segments, regions, plan)."""

    submitted_by: str = Field(min_length=1, max_length=200)
    target_segments: list[str] = Field(min_length=1, max_length=20)
    regions: list[str] = Field(
        min_length=1, max_length=50, description="ISO 3166-1 alpha-2 countries it sells in"
    )
    plan: str = Field(min_length=30, max_length=10000, description="How it will reach them")

    @field_validator("regions")
    @classmethod
    def _countries(cls, regions: list[str]) -> list[str]:
        codes = [r.strip().upper() for r in regions]
        unknown = [r for r in codes if r not in COUNTRY_CODES]
        if unknown:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country codes {unknown}")
        return list(dict.fromkeys(codes))


class DiscountAndPrices(Contract):
    """`record_discount_and_prices`: the account manager records the discount agreed on
    Rocket.Chat's premium offers and the partner's price list."""

    recorded_by: str = Field(min_length=1, max_length=200)
    premium_discount_percent: int = Field(ge=0, le=MAX_DISCOUNT_PERCENT)
    price_list_url: HttpUrl
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    reason: str | None = Field(
        default=None, max_length=2000, description="Why the discount differs from the program's"
    )


def standard_discount(partner_type: str) -> int:
    """The program's discount on premium offers: 20% for Technology Providers and Value Added
    Partners; a Hosting Partner pays the market price (it sets its own hosting prices)."""
    return PREMIUM_DISCOUNT_PERCENT if partner_type in DISCOUNTED_TYPES else 0


def discount_problem(partner_type: str, entry: DiscountAndPrices) -> str | None:
    """Why the recorded discount is refused, if it is: another discount than the program's
    needs the special requirement that justifies it (seed: "contact us with special
    requirements ... we'll work with you to define the revenue split")."""
    standard = standard_discount(partner_type)
    if entry.premium_discount_percent != standard and not entry.reason:
        return (
            f"the program's discount for this partner type is {standard}%; "
            f"{entry.premium_discount_percent}% needs a reason (the special requirement)"
        )
    return None


# --- automatic steps ----------------------------------------------------------------------------


class PortalAccessRequest(Contract):
    idempotency_key: str
    workflow_id: str
    partner_id: str
    company: str
    contact_email: str


class PortalAccess(Contract):
    account_id: str
    url: str
    backend: str
    granted_at: datetime


class SiteListing(Contract):
    """The partner on Rocket.Chat's own partner page (`/rocketchat/partners`)."""

    partner_id: str
    workflow_id: str
    company: str
    partner_type: str
    services: list[str]
    country: str
    website: str
    at: datetime


class SiteDelisting(Contract):
    partner_id: str
    workflow_id: str
    reason: str
    at: datetime


class PortalRevocation(Contract):
    """`revoke_portal_access`: the partner's opportunities-portal accounts closed (the
    partnership ended)."""

    partner_id: str
    workflow_id: str
    reason: str
    at: datetime


def documents_folder_url(base_url: str, partner_id: str) -> str | None:
    """The partner's folder of program documents under the shared folder's base URL (None
    when no base is configured)."""
    base = base_url.strip().rstrip("/")
    return f"{base}/{partner_id}" if base else None
