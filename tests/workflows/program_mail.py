"""What every email of a program's process must show: its own identity, never another
program's, and, when a partner receives it, nothing of the internal tools."""

from __future__ import annotations

import re

from models.programs import ProgramKey, program_identity
from models.settings import Settings
from models.tables import EmailRow

# What a partner must never read: the Temporal UI (and its port), the operators' CLI.
INTERNAL_TOOLS = ("Temporal", "partnerflow act", "8233")
OTHER_BRAND: dict[ProgramKey, tuple[str, ...]] = {
    "mattermost": ("Rocket.Chat", "rocket.chat"),
    "rocketchat": ("Mattermost", "mattermost.com"),
}


def recipients(row: EmailRow) -> list[str]:
    """The addresses of a row's `to_addrs` ("a, b; cc: c")."""
    return re.findall(r"[^\s,;:]+@[^\s,;]+", row.to_addrs)


def partner_facing(settings: Settings, program: ProgramKey, row: EmailRow) -> bool:
    """Is any recipient outside the program's own role addresses?"""
    identity = program_identity(settings, program)
    internal = {identity.account_manager, identity.finance, identity.partner_team}
    return any(address not in internal for address in recipients(row))


def assert_program_mail(settings: Settings, program: ProgramKey, rows: list[EmailRow]) -> int:
    """Every row comes from the program's sender and never names the other program; the
    partner-facing rows carry the program's brand and no internal tool. The number of
    partner-facing rows."""
    identity = program_identity(settings, program)
    facing = 0
    assert rows, "no emails"
    for row in rows:
        where = f"{row.step} ({row.template})"
        assert row.from_addr == identity.email_from, where
        content = "\n".join([row.to_addrs, row.subject, row.text_body, row.html_body])
        for other in OTHER_BRAND[program]:
            assert other not in content, f"{where} names {other!r}"
        if partner_facing(settings, program, row):
            facing += 1
            assert identity.program_name in row.html_body, where
            for word in INTERNAL_TOOLS:
                assert word not in content, f"{where}, sent to a partner, mentions {word!r}"
    return facing
