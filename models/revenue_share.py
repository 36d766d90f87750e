"""Rocket.Chat revenue share and program fee, in integer cents (seed 002, "Program fees").

Rules, per report line:
- **Hosting Partner**: the partner shares 30% of its hosting revenue with Rocket.Chat.
- **Technology Provider**, projects Rocket.Chat referred: the project's total is split 30%
  Rocket.Chat / 70% partner.
- **Premium offers** (support plans, Enterprise License) that the partner sells: the partner
  pays Rocket.Chat's market price; Technology Providers and Value Added Partners get 20% off
  it. (A Hosting Partner has no discount on premium offers: it pays the market price.)
- **Yearly program fee**: USD 1,200 per year of the term.

Revenue share to the bank (issue 14), once the partnership asks `referrals`: a Technology
Provider's project is split only when Rocket.Chat itself recorded the referral (client,
project, date, who; `record_referral`), dated no later than the reported month; a project the
partner reports that Rocket.Chat did not refer is shown with nothing owed. A project with a
special split approved by an operator (`set_special_split`) is split by it instead of 30/70.
`unpaid_dues` says which shares and fees count against the quarterly review's `fees_paid`.

Rounding rule (exact, documented): a percentage of an amount is computed once per line as
`amount * percent / 100` rounded half-up to the cent (`(amount * percent + 50) // 100`);
the other party's share is the remainder (`amount - share`), so both shares always add up
to the line's amount, to the cent. Totals are sums of the per-line results.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import Field

from models.contracts import Contract
from models.rocketchat import YEARLY_PROGRAM_FEE_CENTS, FeeInvoice, ReferredProject, SalesReport
from models.rocketchat_billing import Referral, ShareInvoice, SpecialSplit, project_key

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


def revenue_share(
    partner_type: str,
    report: SalesReport,
    referrals: Iterable[Referral] | None = None,
    splits: Iterable[SpecialSplit] | None = None,
) -> RevenueShare:
    """What a monthly report means in money, line by line. With `referrals` (Rocket.Chat's
    own records), a Technology Provider's project is split only when Rocket.Chat referred it,
    by its special split when one was set."""
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
    if partner_type == "technology_provider" and referrals is not None:
        lines += referred_lines(report, list(referrals), list(splits or []))
    elif partner_type == "technology_provider":
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


# --- revenue share to the bank ------------------------------------------------------------------


def month_end(month: str) -> date:
    """The last day of a `YYYY-MM` month."""
    year, number = int(month[:4]), int(month[5:7])
    first_next = date(year + number // 12, number % 12 + 1, 1)
    return date.fromordinal(first_next.toordinal() - 1)


def referral_for(project: str, referrals: list[Referral], month: str) -> Referral | None:
    """Rocket.Chat's referral of the project, if it was recorded for a date up to the end of
    the reported month."""
    key, last = project_key(project), month_end(month)
    return next(
        (r for r in referrals if project_key(r.project) == key and r.referred_on <= last), None
    )


def split_for(project: str, splits: list[SpecialSplit]) -> SpecialSplit | None:
    """The project's special split (the last one set wins)."""
    key = project_key(project)
    return next((s for s in reversed(splits) if project_key(s.project) == key), None)


def referred_lines(
    report: SalesReport, referrals: list[Referral], splits: list[SpecialSplit]
) -> list[ShareLine]:
    """A Technology Provider's projects, split by Rocket.Chat's own referrals."""
    lines = []
    for project in report.referred_projects:
        referral = referral_for(project.name, referrals, report.month)
        if referral is None:
            lines.append(_unreferred(project))
            continue
        split = split_for(project.name, splits)
        percent = split.rocketchat_percent if split else REFERRAL_ROCKETCHAT_PERCENT
        owed = percent_of(project.amount_cents, percent)
        how = (
            f"special split {split.rocketchat_percent}/{split.partner_percent} approved by "
            f"{split.approved_by}"
            if split
            else f"referred to the partner on {referral.referred_on.isoformat()}"
        )
        lines.append(
            ShareLine(
                kind="referred_project",
                description=f"{percent}% of referred project {project.name} ({how})",
                gross_cents=project.amount_cents,
                rocketchat_cents=owed,
                partner_cents=project.amount_cents - owed,
            )
        )
    return lines


def _unreferred(project: ReferredProject) -> ShareLine:
    return ShareLine(
        kind="unreferred_project",
        description=(
            f"project {project.name}: no referral by Rocket.Chat recorded, nothing shared"
        ),
        gross_cents=project.amount_cents,
        rocketchat_cents=0,
        partner_cents=project.amount_cents,
    )


UNPAID_SHARE_STAGES = ("overdue", "uncollectible")


def _amount(cents: int) -> str:
    return f"USD {cents // 100:,}.{cents % 100:02d}"  # as models.forms.money prints it


def unpaid_dues(
    shares: Iterable[ShareInvoice], fees: Iterable[FeeInvoice], now: datetime
) -> list[str]:
    """What the partner owes past its due date, each in words: the revenue shares whose
    invoice is overdue or uncollectible (or open past its due date) and the yearly fees due
    and unpaid. Empty: `fees_paid` holds."""
    dues = []
    for share in sorted(shares, key=lambda s: s.month):
        past_due = share.stage == "open" and share.due_at is not None and share.due_at <= now
        if share.stage in UNPAID_SHARE_STAGES or past_due:
            stage = "overdue" if past_due else share.stage
            dues.append(
                f"revenue share {share.month} (invoice {share.invoice_number or share.invoice_id}"
                f", {_amount(share.amount_cents)}) is {stage}"
            )
    for fee in fees:
        if not fee.paid and (fee.due_at is None or fee.due_at <= now):
            dues.append(
                f"program fee year {fee.year} (invoice {fee.invoice_id}, "
                f"{_amount(fee.amount_cents)}) is unpaid"
            )
    return dues
