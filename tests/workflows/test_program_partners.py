"""Partners are per program, on the time-skipping server: a Rocket.Chat partner and a
Mattermost VAR with the same slug are two partners. The Rocket.Chat onboarding leaves the
VAR's record alone (it still registers deals), and the Rocket.Chat removal delists only
the Rocket.Chat listing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.directory import DirectoryActivities, get_listing
from activities.partners import PartnerActivities, get_partner
from models.directory import PublishedListing
from models.forms.sales import DEAL_REGISTRATION_FORM
from models.settings import Settings
from models.tables import DealRegistrationRow
from starters.intake import submit_form
from tests.eventually import eventually
from tests.factories import partner_record
from tests.workflows import test_rocketchat_onboarding as onboarding
from tests.workflows import test_rocketchat_partnership as partnership
from tests.workflows.harness import pending, workflow_harness


def seed_var(settings: Settings, partner_id: str) -> None:
    """An active Mattermost VAR, recorded before anything of Rocket.Chat's."""
    at = datetime(2026, 1, 5, tzinfo=UTC)
    record = partner_record(partner_id, discount_percent=20, at=at)
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


def publish(settings: Settings, partner_id: str, program: str, workflow_id: str) -> None:
    listing = PublishedListing(
        partner_id=partner_id,
        workflow_id=workflow_id,
        program=program,
        partner_type="value_added_reseller" if program == "mattermost" else "hosting",
        name=f"{partner_id} {program}",
        description="d",
        city="Kiel",
        country="DE",
        website="https://example.com/",
        logo_id="0" * 32,
        logo_content_type="image/png",
        at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    DirectoryActivities(settings).publish_listing(listing)


def mattermost_var(settings: Settings, partner_id: str) -> Any:
    partner = get_partner(settings, "mattermost", partner_id)
    assert partner is not None
    return (partner.program, partner.partner_type, partner.status, partner.discount_percent)


async def test_rocketchat_onboarding_with_the_vars_id_leaves_the_var_registering_deals(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = f"acme-{uuid.uuid4().hex[:8]}"
        seed_var(settings, partner_id)
        handle = await onboarding.start(h, partner_id=partner_id)
        await onboarding.through_signature(handle)  # applicant, then active, in Rocket.Chat

        def rocketchat_active() -> Any:
            found = get_partner(settings, "rocketchat", partner_id)
            return found if found is not None and found.status == "active" else None

        rocketchat = await eventually(rocketchat_active, what="the Rocket.Chat partner active")
        assert rocketchat.partner_type == "technology_provider"
        var = ("mattermost", "value_added_reseller", "active", 20)
        assert mattermost_var(settings, partner_id) == var

        form = {**DEAL_REGISTRATION_FORM.fresh_example(), "partner_id": partner_id}
        result = await submit_form(h.client, h.settings, "deal-registration", form)
        assert result.status_code == 202, result.body
        deal = h.handle(result.body["workflow_id"])
        await pending(deal, "review_deal")  # the deal is in review
        [row] = await eventually(
            lambda: h.rows(DealRegistrationRow, workflow_id=deal.id), what="the deal recorded"
        )
        assert row.partner_id == partner_id
        assert mattermost_var(settings, partner_id) == var


async def test_rocketchat_removal_delists_only_the_rocketchat_listing(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await partnership.start(h)
        partner_id = handle.id.removeprefix("rc-partnership-")
        seed_var(settings, partner_id)
        publish(settings, partner_id, "mattermost", f"directory-{partner_id}")
        publish(settings, partner_id, "rocketchat", handle.id)

        await handle.signal("request_review", {"requested_by": "schedule"})
        review = await pending(handle, "quarterly_review")
        await handle.signal(
            "decide_review",
            {**review["example"], "outcome": "removal", "notes": "requirements not met"},
        )
        result = await handle.result()
        assert result.outcome == "removed"

        removed = get_partner(settings, "rocketchat", partner_id)
        assert removed is not None and removed.status == "removed"
        assert get_listing(settings, "rocketchat", partner_id) is None
        listing = get_listing(settings, "mattermost", partner_id)
        assert listing is not None and listing.workflow_id == f"directory-{partner_id}"
        var = ("mattermost", "value_added_reseller", "active", 20)
        assert mattermost_var(settings, partner_id) == var
