"""The directory activities: publishing is idempotent and only newer versions replace a
listing, removal is idempotent, logos are content-addressed, and the VAR pre-screen
activity reports its data source."""

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
    list_listings,
    store_logo,
)
from models.applications import VAR_APPLICATION_EXAMPLE, PrescreenRequest, VarApplicationForm
from models.directory import EXAMPLE_LOGO_ID, PublishedListing, UnpublishRequest
from models.settings import Settings

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
    stored = get_listing(settings, "nordlicht")
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
    assert get_listing(settings, "nordlicht") is None


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
