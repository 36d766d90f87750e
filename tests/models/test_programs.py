"""Programs are tenants: each one's identity, its defaults and the settings over them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.programs import DEFAULTS, program_identity, program_of_workflow
from models.settings import Settings


def test_defaults_come_from_the_seeds() -> None:
    rc, mm = DEFAULTS["rocketchat"], DEFAULTS["mattermost"]
    assert rc.account_manager == rc.sender_address == rc.reply_to == "sales@rocket.chat"
    assert (rc.finance, rc.partner_team) == ("finance@rocket.chat", "partners@rocket.chat")
    assert rc.sender_name == rc.program_name == "Rocket.Chat Partner Program"
    assert mm.email_from == mm.partner_team == "partners@mattermost.com"
    assert mm.finance == "finance@mattermost.com" and mm.sender_name == mm.program_name


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (
            "mattermost",
            ["finance@mattermost.com"] + ["partners@mattermost.com"] * 6,
        ),
        (
            "rocketchat",
            ["finance@rocket.chat"] + ["sales@rocket.chat"] * 2 + ["partners@rocket.chat"] * 4,
        ),
    ],
)
def test_roles_resolve_to_the_programs_addresses(program: str, expected: list[str]) -> None:
    roles = [
        "finance",
        "account_manager",
        "sales_manager",
        "operations",
        "license_desk",
        "partner_manager",
        "reviewer",
    ]
    identity = program_identity(Settings(), program)  # type: ignore[arg-type]
    assert [identity.role_address(role) for role in roles] == expected
    assert identity.role_address("partner") is None


def test_settings_override_each_programs_identity() -> None:
    settings = Settings.model_validate(
        {
            "EMAIL_FROM": "Mattermost Partners <partners@mattermost.com>",
            "FINANCE_EMAIL": "ar@mattermost.com",
            "PARTNERFLOW_MM_ACCOUNT_MANAGER_EMAIL": "sales@mattermost.com",
            "PARTNERFLOW_RC_EMAIL_FROM": "Rocket.Chat Partners <partners@rocket.chat>",
            "PARTNERFLOW_RC_FINANCE_EMAIL": "billing@rocket.chat",
            "PARTNERFLOW_RC_BRAND_COLOR": "#123abc",
            "PARTNERFLOW_RC_LOGO_URL": "https://rocket.chat/logo.png",
        }
    )
    mm = program_identity(settings, "mattermost")
    assert (mm.sender_name, mm.reply_to) == ("Mattermost Partners", "partners@mattermost.com")
    assert mm.role_address("finance") == "ar@mattermost.com"
    assert mm.role_address("account_manager") == "sales@mattermost.com"
    rc = program_identity(settings, "rocketchat")
    assert (rc.sender_address, rc.finance) == ("partners@rocket.chat", "billing@rocket.chat")
    assert (rc.brand_color, rc.logo_url) == ("#123abc", "https://rocket.chat/logo.png")
    assert rc.account_manager == "sales@rocket.chat"  # unset: the default


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PARTNERFLOW_RC_BRAND_COLOR", "red;background:url(x)"),
        ("PARTNERFLOW_MM_LOGO_URL", "javascript:alert(1)"),
        ("PARTNERFLOW_RC_LOGO_URL", 'https://x.example/" onerror="x'),
    ],
)
def test_colours_and_logos_are_refused_unless_plain(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({name: value})


def test_the_workflow_type_names_the_program() -> None:
    assert program_of_workflow("RocketChatOnboarding") == "rocketchat"
    assert program_of_workflow("RocketChatPartnership") == "rocketchat"
    assert program_of_workflow("DealRegistration") == "mattermost"
