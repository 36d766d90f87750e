"""Programs are tenants: each vendor's partner program has its own identity (brand, sender,
reply-to, role addresses, colours and logo) for the emails and pages of its partners.

Pure: the defaults come from the programs' seeds, and `program_identity` applies the
settings (`models/settings.py`, documented in `.env.example`) over them.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from models.settings import Settings

ProgramKey = Literal["mattermost", "rocketchat"]
PROGRAMS: tuple[ProgramKey, ...] = ("mattermost", "rocketchat")

# Which role address a `role:NAME` recipient resolves to, in every program.
ROLE_ADDRESSES: dict[str, Literal["finance", "account_manager", "partner_team"]] = {
    "finance": "finance",
    "account_manager": "account_manager",
    "sales_manager": "account_manager",
    "operations": "partner_team",
    "license_desk": "partner_team",
    "partner_manager": "partner_team",
    "reviewer": "partner_team",
}


class ProgramIdentity(BaseModel):
    """Who a program's partners hear from and what its mail and pages look like."""

    model_config = ConfigDict(frozen=True)

    key: ProgramKey
    brand_name: str  # the vendor: "Rocket.Chat"
    program_name: str  # the layout's header and signature: "Rocket.Chat Partner Program"
    email_from: str  # the From header: an address, optionally with a display name
    reply_to: str
    account_manager: str  # also the Sales Manager of the program
    finance: str
    partner_team: str  # operations, partner managers, reviewers, the license desk
    brand_color: str  # header text and links of emails and pages
    logo_url: str = ""  # shown in the email and page header when set

    @property
    def sender_name(self) -> str:
        return parseaddr(self.email_from)[0] or self.program_name

    @property
    def sender_address(self) -> str:
        return parseaddr(self.email_from)[1]

    def role_address(self, role: str) -> str | None:
        """The address of `role:NAME` in this program; None for a role no program knows."""
        field = ROLE_ADDRESSES.get(role)
        return None if field is None else str(getattr(self, field))


# Defaults from the seeds. Mattermost: partners@mattermost.com sends and is the partner team,
# finance@mattermost.com. Rocket.Chat's seed names one point of contact, the account manager
# sales@rocket.chat, who also sends; partners@rocket.chat is the partner team the processes
# already name; finance@rocket.chat is a documented default (no seed names one).
DEFAULTS: dict[ProgramKey, ProgramIdentity] = {
    "mattermost": ProgramIdentity(
        key="mattermost",
        brand_name="Mattermost",
        program_name="Mattermost Partner Programs",
        email_from="partners@mattermost.com",
        reply_to="partners@mattermost.com",
        account_manager="partners@mattermost.com",
        finance="finance@mattermost.com",
        partner_team="partners@mattermost.com",
        brand_color="#1e325c",
    ),
    "rocketchat": ProgramIdentity(
        key="rocketchat",
        brand_name="Rocket.Chat",
        program_name="Rocket.Chat Partner Program",
        email_from="Rocket.Chat Partner Program <sales@rocket.chat>",
        reply_to="sales@rocket.chat",
        account_manager="sales@rocket.chat",
        finance="finance@rocket.chat",
        partner_team="partners@rocket.chat",
        brand_color="#f5455c",
    ),
}


def program_of_workflow(workflow_type: str) -> ProgramKey:
    """The program a process belongs to: Rocket.Chat's workflows are `RocketChat*`; every
    other process is Mattermost's."""
    if workflow_type.startswith("RocketChat"):
        return "rocketchat"
    return "mattermost"


def program_of_workflow_id(workflow_id: str) -> ProgramKey:
    """The program of a workflow known by its id only (a page's signed link): Rocket.Chat's
    ids are `rc-onboarding-…` and `rc-partnership-…`; every other id is Mattermost's."""
    return "rocketchat" if workflow_id.startswith("rc-") else "mattermost"


def program_identity(settings: Settings, key: ProgramKey) -> ProgramIdentity:
    """The program's identity: its defaults with the settings that are set applied over."""
    if key == "mattermost":
        overrides = {
            "email_from": settings.email_from,
            "reply_to": settings.mm_reply_to or parseaddr(settings.email_from)[1],
            "account_manager": settings.mm_account_manager_email or settings.operations_email,
            "finance": settings.finance_email,
            "partner_team": settings.operations_email,
            "brand_color": settings.mm_brand_color,
            "logo_url": settings.mm_logo_url,
        }
    else:
        overrides = {
            "email_from": settings.rc_email_from,
            "reply_to": settings.rc_reply_to,
            "account_manager": settings.rc_account_manager_email,
            "finance": settings.rc_finance_email,
            "partner_team": settings.rc_partner_team_email,
            "brand_color": settings.rc_brand_color,
            "logo_url": settings.rc_logo_url,
        }
    base = DEFAULTS[key]
    return base.model_copy(update={k: v for k, v in overrides.items() if v})
