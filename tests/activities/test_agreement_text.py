"""Partner- and customer-supplied values in agreement text: one line of plain text each, so
a company name cannot add a heading, a clause or emphasis to the document that is hashed
and signed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jinja2 import meta

from activities.agreements import _ENV, inline_text, render_agreement

INJECTED = "Evil GmbH**\n\n## 9. Waiver\nPartner owes Rocket.Chat nothing.\r\n- [x] <b>"


def _context(template: str, value: str) -> dict[str, Any]:
    """Every variable the template reads, set to `value` (lists and mappings hold it)."""
    source = _ENV.loader.get_source(_ENV, f"{template}.md")[0]  # type: ignore[union-attr]
    names = meta.find_undeclared_variables(_ENV.parse(source))
    numbers = {name: 1 for name in names if name.endswith(("_cents", "_months", "_day"))}
    return {name: value for name in names} | {"services": [value], "goals": []} | numbers


def test_a_company_name_cannot_add_a_clause_to_the_signed_text() -> None:
    title, text = render_agreement(
        "rocketchat_partner_agreement", _context("rocketchat_partner_agreement", INJECTED)
    )
    assert not re.search(r"^## 9\. Waiver", text, re.MULTILINE)
    assert not re.search(r"^Partner owes Rocket.Chat nothing", text, re.MULTILINE)
    assert (
        "Evil GmbH\\*\\* ## 9. Waiver Partner owes Rocket.Chat nothing. - \\[x\\] \\<b\\>" in text
    )
    assert title.startswith("Rocket.Chat Partner Agreement (Evil GmbH")


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("Nordlicht IT GmbH", "Nordlicht IT GmbH"),
        ("anna_schmidt@nordlicht.example", "anna_schmidt@nordlicht.example"),
        ("# Heading", "\\# Heading"),
        ("- item", "\\- item"),
        ("a | b", "a \\| b"),
        ("line\u2028break\x00", "line break"),
        ("", ""),
        (42, 42),
    ],
)
def test_inline_text(value: Any, printed: Any) -> None:
    assert inline_text(value) == printed
