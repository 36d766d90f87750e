"""The directory activities: publishing is idempotent and only newer versions replace a
listing, removal is idempotent, logos are content-addressed and public only while a
published listing shows them, and the VAR pre-screen activity reports its data source."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image

from activities.directory import (
    DirectoryActivities,
    LogoError,
    get_listing,
    get_logo,
    get_published_logo,
    list_listings,
    save_logo,
    store_logo,
)
from models.applications import VAR_APPLICATION_EXAMPLE, PrescreenRequest, VarApplicationForm
from models.directory import EXAMPLE_LOGO_ID, PublishedListing, UnpublishRequest, read_logo
from models.settings import Settings
from tests.logos import png

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    """Every test here runs on SQLite and on PostgreSQL, with the same results."""
    return db_settings


def listing(partner_id: str = "nordlicht", version: int = 1, **changes: object) -> PublishedListing:
    data = {
        "partner_id": partner_id,
        "workflow_id": f"directory-{partner_id}",
        "program": "mattermost",
        "partner_type": "value_added_reseller",
        "name": "Nordlicht",
        "description": "d",
        "city": "Berlin",
        "country": "DE",
        "website": "https://n.example.com/",
        "logo_id": EXAMPLE_LOGO_ID,
        "logo_content_type": "image/png",
        "territory": ["DE", "AT"],
        "version": version,
        "at": NOW + timedelta(minutes=version),
    }
    return PublishedListing.model_validate({**data, **changes})


def test_publish_update_and_remove(settings: Settings) -> None:
    directory = DirectoryActivities(settings)
    directory.publish_listing(listing())
    directory.publish_listing(listing())  # a retried activity
    directory.publish_listing(listing(version=2, name="Nordlicht IT"))
    directory.publish_listing(listing(version=1, name="stale"))  # an older version arriving late
    stored = get_listing(settings, "mattermost", "nordlicht")
    assert (
        stored is not None
        and stored.name == "Nordlicht IT"
        and stored.version == 2
        and stored.territory == ["DE", "AT"]
    )
    directory.publish_listing(
        listing("fjord", partner_type="system_integrator", country="NO", territory=[])
    )
    assert [e.partner_id for e in list_listings(settings)] == ["fjord", "nordlicht"]
    assert [e.partner_id for e in list_listings(settings, country="no")] == ["fjord"]
    assert [e.partner_id for e in list_listings(settings, partner_type="value_added_reseller")] == [
        "nordlicht"
    ]
    request = UnpublishRequest(
        partner_id="nordlicht", workflow_id="directory-nordlicht", reason="left", at=NOW
    )
    assert directory.unpublish_listing(request) is True
    assert directory.unpublish_listing(request) is False
    assert get_listing(settings, "mattermost", "nordlicht") is None


def test_logos_are_content_addressed(settings: Settings) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 90), "red").save(buffer, "PNG")
    first = store_logo(settings, buffer.getvalue())
    again = store_logo(settings, buffer.getvalue())
    assert first == again and (first.width, first.height, first.content_type) == (
        320,
        90,
        "image/png",
    )
    row = get_logo(settings, first.logo_id)
    assert row is not None and row.content == buffer.getvalue()
    with pytest.raises(LogoError):
        store_logo(settings, b"not an image")


def test_a_logo_is_public_only_while_a_published_listing_shows_it(settings: Settings) -> None:
    first, second, stranger = (store_logo(settings, png()) for _ in range(3))
    directory = DirectoryActivities(settings)
    assert get_logo(settings, first.logo_id) and get_published_logo(settings, first.logo_id) is None
    directory.publish_listing(listing(logo_id=first.logo_id))
    shown = get_published_logo(settings, first.logo_id)
    assert shown is not None and shown.content_type == "image/png"
    directory.publish_listing(listing(version=2, logo_id=second.logo_id))  # a new logo
    assert get_published_logo(settings, first.logo_id) is None  # replaced: no longer public
    assert get_published_logo(settings, second.logo_id) is not None
    assert get_published_logo(settings, stranger.logo_id) is None  # stored, never published
    request = UnpublishRequest(
        partner_id="nordlicht", workflow_id="directory-nordlicht", reason="left", at=NOW
    )
    directory.unpublish_listing(request)
    assert get_published_logo(settings, second.logo_id) is None  # removed with its listing
    assert get_logo(settings, second.logo_id) is not None  # kept in the records


def test_saving_a_logo_checks_it_was_read_from_that_file(settings: Settings) -> None:
    data = png()
    with pytest.raises(ValueError, match="is not the file given"):
        save_logo(settings, png(), read_logo(data))
    assert save_logo(settings, data, read_logo(data)) == read_logo(data)


def test_prescreen_activity_uses_cldr_and_embargo_data(settings: Settings) -> None:
    result = DirectoryActivities(settings).prescreen_application(
        PrescreenRequest(
            application=VarApplicationForm.model_validate(
                {**VAR_APPLICATION_EXAMPLE, "country": "JP", "first_tier_support_languages": ["en"]}
            ),
            review_date=date(2026, 11, 23),
        )
    )
    assert result.official_languages == ["ja"] and "CLDR" in result.data_source
    assert [c.name for c in result.failed] == ["local_language_support"] and not result.passed


def test_listings_are_per_program(settings: Settings) -> None:
    """The same slug in both programs is two listings; a Rocket.Chat removal (by its
    program, or by an `rc-` workflow's request from before listings were per program)
    leaves the Mattermost listing in the directory."""
    directory = DirectoryActivities(settings)
    directory.publish_listing(listing())
    directory.publish_listing(
        listing(program="rocketchat", workflow_id="rc-partnership-nordlicht", name="RC Nordlicht")
    )
    mattermost = get_listing(settings, "mattermost", "nordlicht")
    rocketchat = get_listing(settings, "rocketchat", "nordlicht")
    assert mattermost is not None and mattermost.name == "Nordlicht"
    assert rocketchat is not None and rocketchat.name == "RC Nordlicht"
    assert [e.name for e in list_listings(settings, program="mattermost")] == ["Nordlicht"]
    removal = {"partner_id": "nordlicht", "reason": "removed", "at": NOW}
    old_shape = UnpublishRequest(workflow_id="rc-partnership-nordlicht", **removal)
    assert directory.unpublish_listing(old_shape) is True
    assert get_listing(settings, "rocketchat", "nordlicht") is None
    assert get_listing(settings, "mattermost", "nordlicht") is not None
    again = UnpublishRequest(
        workflow_id="rc-partnership-nordlicht", program="rocketchat", **removal
    )
    assert directory.unpublish_listing(again) is False
    assert get_listing(settings, "mattermost", "nordlicht") is not None
