"""Partner records are per program: (program, partner_id) is the key, on SQLite and
PostgreSQL. The `get_partner` activity takes the program with the id; the bare id that
workflows passed before (still in their histories and in activity tasks scheduled before
the change) means the calling workflow's program."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.partners import PartnerActivities, get_partner, list_partners
from models.contracts import PartnerRef
from models.settings import Settings
from tests.factories import partner_record

AT = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    return db_settings


def called_by(workflow_type: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_type=workflow_type)
    return env


def seed_both(settings: Settings) -> PartnerActivities:
    partners = PartnerActivities(settings)
    env = ActivityEnvironment()
    env.run(partners.upsert_partner, partner_record("acme", at=AT))
    rocketchat = partner_record(
        "acme", program="rocketchat", partner_type="hosting", status="applicant", company="Acme"
    )
    env.run(partners.upsert_partner, rocketchat.model_copy(update={"at": AT + timedelta(days=1)}))
    return partners


def test_the_same_id_in_both_programs_is_two_partners(settings: Settings) -> None:
    partners = seed_both(settings)
    mattermost = get_partner(settings, "mattermost", "acme")
    rocketchat = get_partner(settings, "rocketchat", "acme")
    assert mattermost is not None and rocketchat is not None
    assert (mattermost.partner_type, mattermost.status) == ("value_added_reseller", "active")
    assert (rocketchat.partner_type, rocketchat.company) == ("hosting", "Acme")
    # An update of one program's partner leaves the other's alone.
    ActivityEnvironment().run(
        partners.upsert_partner,
        partner_record(
            "acme", program="rocketchat", partner_type="hosting", status="removed",
            company="Acme", at=AT + timedelta(days=2),
        ),
    )  # fmt: skip
    assert get_partner(settings, "mattermost", "acme") == mattermost
    assert [(p.program, p.status) for p in list_partners(settings)] == [
        ("rocketchat", "removed"),
        ("mattermost", "active"),
    ]
    assert [p.program for p in list_partners(settings, program="mattermost")] == ["mattermost"]


def test_get_partner_activity_takes_the_program_or_a_bare_id_of_the_callers_program(
    settings: Settings,
) -> None:
    partners = seed_both(settings)
    ask = partners.get_partner
    by_ref = ActivityEnvironment().run(ask, PartnerRef(program="rocketchat", partner_id="acme"))
    assert by_ref is not None and by_ref.program == "rocketchat"
    assert called_by("RocketChatPartnership").run(ask, "acme").program == "rocketchat"
    assert called_by("EvaluationLicense").run(ask, "acme").program == "mattermost"
    assert called_by("OrderFulfillment").run(ask, "nobody") is None
