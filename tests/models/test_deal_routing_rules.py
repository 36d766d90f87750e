"""The partner's Sales Manager and the reseller agreement's scope, read from the partner
record's attributes as the VAR application writes them (pure rules in models/deals.py)."""

from __future__ import annotations

from typing import Any

import pytest

from models.deals import agreement_fit, agreement_flag, normalize_industry, sales_manager_of

AGREEMENT = {"territory": ["DE", "AT", "CH"], "industries": ["Public sector", "manufacturing"]}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"sales_manager": {"name": "Sam Rivera", "email": "sam@mattermost.com"}}, "sam"),
        ({}, None),  # an older partner: none on record
        ({"sales_manager": {"name": "Sam Rivera"}}, None),
        ({"sales_manager": {"name": "Sam Rivera", "email": "not an address"}}, None),
        ({"sales_manager": "sam@mattermost.com"}, None),
    ],
)
def test_sales_manager_of_the_record(attributes: dict[str, Any], expected: str | None) -> None:
    found = sales_manager_of(attributes)
    assert (found.email.split("@")[0] if found else None) == expected


def test_industries_compare_without_case_or_punctuation() -> None:
    assert normalize_industry(" Public-Sector ") == normalize_industry("public sector")
    assert normalize_industry("Banking & Finance") == "banking and finance"


@pytest.mark.parametrize(
    ("country", "industry", "territory", "industries"),
    [
        ("de", "PUBLIC SECTOR", False, False),
        ("CH", None, False, False),  # no industry stated: the country alone is checked
        ("US", "manufacturing", True, False),
        ("AT", "retail", False, True),
        ("FR", "retail", True, True),
    ],
)
def test_a_deal_against_the_agreement(
    country: str, industry: str | None, territory: bool, industries: bool
) -> None:
    fit = agreement_fit(AGREEMENT, country, industry)
    assert fit is not None
    assert (fit.outside_territory, fit.outside_industries) == (territory, industries)
    assert fit.flagged == (territory or industries)
    flag = agreement_flag(fit)
    assert flag.startswith("OUTSIDE THE AGREEMENT: ") if fit.flagged else flag == ""
    if territory:
        assert (
            f"country {country.upper()} is outside the agreement's territory (DE, AT, CH)" in flag
        )
    if industries:
        assert (
            f"industry {industry!r} is outside" in flag and "(Public sector, manufacturing)" in flag
        )


def test_a_record_without_the_agreement_checks_nothing_it_lacks() -> None:
    assert agreement_fit({}, "US", "retail") is None
    assert agreement_fit({"territory": [], "industries": None}, "US", "retail") is None
    only_territory = agreement_fit({"territory": ["DE"]}, "DE", "retail")
    assert only_territory is not None and not only_territory.flagged
    only_industries = agreement_fit({"industries": ["retail"]}, "US", "retail")
    assert only_industries is not None and not only_industries.flagged
