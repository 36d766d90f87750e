"""Rocket.Chat revenue share and program fee, in integer cents (seed 002, "Program fees").

Rules, per report line:
- **Hosting Partner**: the partner shares 30% of its hosting revenue with Rocket.Chat.
- **Technology Provider**, projects Rocket.Chat referred: the project's total is split 30%
  Rocket.Chat / 70% partner.
- **Premium offers** (support plans, Enterprise License) that the partner sells: the partner
  pays Rocket.Chat's market price; Technology Providers and Value Added Partners get 20% off
  it. (A Hosting Partner has no discount on premium offers: it pays the market price.)
- **Yearly program fee**: USD 1,200 per year of the term.

Rounding rule (exact, documented): a percentage of an amount is computed once per line as
`amount * percent / 100` rounded half-up to the cent (`(amount * percent + 50) // 100`);
the other party's share is the remainder (`amount - share`), so both shares always add up
to the line's amount, to the cent. Totals are sums of the per-line results.
"""

from __future__ import annotations

from pydantic import Field

from models.contracts import Contract
from models.rocketchat import YEARLY_PROGRAM_FEE_CENTS, SalesReport

HOSTING_SHARE_PERCENT = 30
REFERRAL_ROCKETCHAT_PERCENT = 30
PREMIUM_DISCOUNT_PERCENT = 20
DISCOUNTED_TYPES = ("technology_provider", "value_added")


def percent_of(amount_cents: int, percent: int) -> int:
    """`percent`% of a non-negative amount, rounded half-up to the cent."""
    if amount_cents < 0 or not 0 <= percent <= 100:
        raise ValueError("amount must be >= 0 and percent within 0..100")
    return (amount_cents * percent + 50) // 100


class ShareLine(Contract):
    kind: str = Field(description="hosting_revenue | referred_project | premium_offer")
    description: str
    gross_cents: int = Field(description="The line's amount before the split or discount")
    discount_cents: int = 0
    rocketchat_cents: int = Field(description="Owed to Rocket.Chat for this line")
    partner_cents: int = Field(description="The partner keeps (or, premium offers: saves)")


class RevenueShare(Contract):
    partner_type: str
    month: str
    lines: list[ShareLine] = Field(default_factory=list)

    @property
    def owed_to_rocketchat_cents(self) -> int:
        return sum(line.rocketchat_cents for line in self.lines)

    @property
    def partner_cents(self) -> int:
        return sum(line.partner_cents for line in self.lines)


def revenue_share(partner_type: str, report: SalesReport) -> RevenueShare:
    """What a monthly report means in money, line by line."""
    lines: list[ShareLine] = []
    if partner_type == "hosting" and report.hosting_revenue_cents:
        gross = report.hosting_revenue_cents
        owed = percent_of(gross, HOSTING_SHARE_PERCENT)
        lines.append(
            ShareLine(
                kind="hosting_revenue",
                description=f"30% of hosting revenue, {report.month}",
                gross_cents=gross,
                rocketchat_cents=owed,
                partner_cents=gross - owed,
            )
        )
    if partner_type == "technology_provider":
        for project in report.referred_projects:
            owed = percent_of(project.amount_cents, REFERRAL_ROCKETCHAT_PERCENT)
            lines.append(
                ShareLine(
                    kind="referred_project",
                    description=f"30% of referred project {project.name}",
                    gross_cents=project.amount_cents,
                    rocketchat_cents=owed,
                    partner_cents=project.amount_cents - owed,
                )
            )
    for offer in report.premium_offers:
        gross = offer.list_price_cents * offer.quantity
        discount = (
            percent_of(gross, PREMIUM_DISCOUNT_PERCENT) if partner_type in DISCOUNTED_TYPES else 0
        )
        label = "support plan" if offer.product == "support_plan" else "Enterprise License"
        lines.append(
            ShareLine(
                kind="premium_offer",
                description=f"{offer.quantity} × {offer.description} ({label})"
                + (" less 20%" if discount else ""),
                gross_cents=gross,
                discount_cents=discount,
                rocketchat_cents=gross - discount,
                partner_cents=discount,
            )
        )
    return RevenueShare(partner_type=partner_type, month=report.month, lines=lines)


def program_fee_cents(years: int = 1) -> int:
    """The yearly partner program fee for `years` years."""
    if years < 1:
        raise ValueError("at least one year")
    return YEARLY_PROGRAM_FEE_CENTS * years


def fee_years(term_months: int) -> int:
    """Number of yearly fees over a term (each started year of the term is one fee)."""
    return -(-term_months // 12)
