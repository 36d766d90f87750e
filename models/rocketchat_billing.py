"""Contracts of Rocket.Chat's revenue share to the bank (issue 14): the clients Rocket.Chat
refers to a Technology Provider, the special split of a project, and each monthly share's
invoice as the partnership follows it (workflows/rocketchat_revenue_share.py). The rules
that use them are pure functions in `models/revenue_share.py`.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import EmailStr, Field, ValidationInfo, field_validator

from models.contracts import Contract, InvoiceInfo, InvoiceStage


def project_key(name: str) -> str:
    """How a project's name is matched: case and spacing do not matter."""
    return " ".join(name.casefold().split())


def revenue_share_workflow_id(partner_id: str, month: str) -> str:
    """The id of the workflow that follows a month's share (`RocketChatRevenueShare`)."""
    return f"rc-revenue-share-{partner_id}-{month}"


class Referral(Contract):
    """`record_referral`: Rocket.Chat referred a client to the Technology Provider."""

    client: str = Field(min_length=1, max_length=200, description="The client referred")
    project: str = Field(
        min_length=1,
        max_length=200,
        description="The project's name, as the partner's monthly report will name it",
    )
    referred_on: date = Field(description="When Rocket.Chat referred the client (YYYY-MM-DD)")
    recorded_by: str = Field(min_length=1, max_length=200, description="Who at Rocket.Chat")
    note: str | None = Field(default=None, max_length=2000)


class SpecialSplit(Contract):
    """`set_special_split`: a project's revenue split agreed with the partner instead of
    30/70 ("contact us with special requirements ... we'll work with you to define the
    revenue split")."""

    project: str = Field(min_length=1, max_length=200, description="A referred project")
    rocketchat_percent: int = Field(ge=0, le=100, description="Rocket.Chat's share, percent")
    partner_percent: int = Field(ge=0, le=100, description="The partner's share, percent")
    approved_by: str = Field(min_length=1, max_length=200, description="Who approved it")
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("partner_percent")
    @classmethod
    def _adds_up(cls, value: int, info: ValidationInfo) -> int:
        rocketchat = info.data.get("rocketchat_percent")
        if rocketchat is not None and rocketchat + value != 100:
            raise ValueError(
                f"rocketchat_percent and partner_percent must add up to 100 (given "
                f"{rocketchat} + {value})"
            )
        return value


class ShareInvoice(Contract):
    """One month's revenue-share invoice, as its follower last reported it."""

    month: str
    workflow_id: str = Field(description="The RocketChatRevenueShare that follows it")
    invoice_id: str
    invoice_number: str | None = None
    amount_cents: int
    due_at: datetime | None = None
    stage: InvoiceStage = "open"
    seq: int = 0


class RevenueShareInvoiceInput(Contract):
    """What `RocketChatRevenueShare` follows: the invoice issued for one month's share."""

    partner_id: str
    partnership_workflow_id: str
    company: str
    contact_name: str
    contact_email: EmailStr
    partner_type: str
    month: str
    lines: list[str] = Field(default_factory=list, description="The share's lines, in words")
    invoice: InvoiceInfo
    days_until_due: int = 30


class RevenueShareInvoiceResult(Contract):
    partner_id: str
    month: str
    invoice_id: str
    status: str
