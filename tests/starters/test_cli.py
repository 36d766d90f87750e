"""CLI pieces that need no server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from activities.partners import get_partner
from models.settings import Settings
from starters import cli
from starters.cli import app, apply_override


def test_set_overrides_example_fields_by_dotted_path() -> None:
    payload = {
        "partner_id": "nordlicht-it",
        "end_customer": {"address": {"country": "DE"}},
        "lines": [{"seats": 5}],
    }
    apply_override(payload, "partner_id=acme-it")
    apply_override(payload, "end_customer.address.country=NL")
    apply_override(payload, "lines.0.seats=50")
    apply_override(payload, "notes.internal=true")
    assert payload == {
        "partner_id": "acme-it",
        "end_customer": {"address": {"country": "NL"}},
        "lines": [{"seats": 50}],
        "notes": {"internal": True},
    }
    with pytest.raises(ValueError):
        apply_override(payload, "no-equals-sign")


def test_forms_lists_every_form() -> None:
    result = CliRunner().invoke(app, ["forms"])
    assert result.exit_code == 0
    for form in (
        "order",
        "deal-registration",
        "authorized-resale",
        "var-application",
        "si-application",
        "directory-listing",
        "evaluation-license",
        "rocketchat-partner",
        "monthly-sales-report",
    ):
        assert form in result.output


def test_start_needs_a_file_or_the_example() -> None:
    result = CliRunner().invoke(app, ["start", "order"])
    assert result.exit_code != 0


def test_seed_example_records_the_order_examples_prerequisites_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    first = CliRunner().invoke(app, ["seed-example", "order"])
    assert first.exit_code == 0 and "DR-2026-000123" in first.output, first.output
    partner = get_partner(settings, "mattermost", "nordlicht-it")
    assert partner is not None and partner.discount_percent == 20
    again = CliRunner().invoke(app, ["seed-example", "order"])
    assert again.exit_code == 0 and "already recorded" in again.output
    assert CliRunner().invoke(app, ["seed-example", "var-application"]).exit_code != 0
