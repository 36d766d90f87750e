"""Embargo screening against the dated data file."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from temporalio.exceptions import ApplicationError

from activities.screening import screen_party
from models.contracts import ScreeningRequest
from models.screening import load_embargoes, screen

TODAY = date(2026, 11, 23)


def test_data_file_is_dated_and_complete() -> None:
    data = load_embargoes()
    assert data.version and data.as_of <= TODAY
    codes = {entry.code for entry in data.entries}
    assert codes == {"CU", "IR", "KP", "SY", "UA-43", "UA-40", "UA-14", "UA-09"}
    for entry in data.entries:
        assert entry.name and entry.program and entry.source.startswith("https://")
        assert entry.until is None or entry.since < entry.until


@pytest.mark.parametrize(
    ("country", "program"),
    [
        ("CU", "Cuban Assets Control Regulations, 31 CFR 515"),
        ("IR", "Iranian Transactions and Sanctions Regulations, 31 CFR 560"),
        ("KP", "North Korea Sanctions Regulations, 31 CFR 510"),
    ],
)
def test_embargoed_countries(country: str, program: str) -> None:
    result = screen(country, None, TODAY)
    assert not result.allowed
    assert result.program == program
    assert result.data_version == load_embargoes().version
    assert "comprehensive US embargo" in (result.reason or "")


def test_reason_text() -> None:
    assert screen("CU", None, TODAY).reason == (
        "Cuba is under a comprehensive US embargo (Cuban Assets Control Regulations, 31 CFR 515)"
    )


def test_syria_program_ended_2025_07_01() -> None:
    before = screen("SY", None, date(2025, 6, 30))
    assert not before.allowed and "Syria" in (before.reason or "")
    assert screen("SY", None, date(2025, 7, 1)).allowed
    assert screen("SY", None, TODAY).allowed


@pytest.mark.parametrize("region", ["UA-43", "UA-40", "UA-14", "UA-09"])
def test_ukraine_regions_refused(region: str) -> None:
    result = screen("UA", region, TODAY)
    assert not result.allowed
    assert region in (result.reason or "")
    assert "31 CFR 589" in (result.program or "")


def test_ukraine_elsewhere_allowed() -> None:
    assert screen("UA", "UA-30", TODAY).allowed  # Kyiv
    assert screen("UA", None, TODAY).allowed


def test_region_dates() -> None:
    assert screen("UA", "UA-14", date(2022, 2, 20)).allowed
    assert not screen("UA", "UA-14", date(2022, 2, 21)).allowed
    assert not screen("UA", "UA-43", date(2015, 1, 1)).allowed


def test_region_forms() -> None:
    assert not screen("UA", "43", TODAY).allowed  # bare subdivision within UA
    assert not screen("UA-09", None, TODAY).allowed  # region code given as the country
    assert not screen("RU", "UA-40", TODAY).allowed  # Crimean address labelled RU


def test_case_insensitive() -> None:
    assert not screen("cu", None, TODAY).allowed
    assert not screen(" ua ", "ua-43", TODAY).allowed
    assert screen("ua", "ua-30", TODAY).allowed


def test_allowed_countries() -> None:
    for country in ("US", "DE", "RU", "BR", "JP"):
        result = screen(country, None, TODAY)
        assert result.allowed and result.reason is None and result.program is None


def test_unknown_codes() -> None:
    with pytest.raises(ValueError, match="country code"):
        screen("XX", None, TODAY)
    with pytest.raises(ValueError, match="country code"):
        screen("", None, TODAY)
    with pytest.raises(ValueError, match="subdivision"):
        screen("UA", "UA-99", TODAY)


def test_screen_party_activity() -> None:
    refused = screen_party(
        ScreeningRequest(country="IR", party="Acme", on=datetime(2026, 11, 23, tzinfo=UTC))
    )
    assert not refused.allowed
    syria_before = datetime(2025, 6, 30, 23, 59, tzinfo=UTC)
    assert not screen_party(ScreeningRequest(country="SY", on=syria_before)).allowed
    with pytest.raises(ApplicationError) as info:
        screen_party(ScreeningRequest(country="ZZ", on=datetime(2026, 1, 1, tzinfo=UTC)))
    assert info.value.non_retryable and info.value.type == "InvalidScreeningInput"
