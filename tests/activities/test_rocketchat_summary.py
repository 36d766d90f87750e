"""The program summary's activities on SQLite and PostgreSQL: the portal grant once per
key, the documents folder link, Rocket.Chat's partner page listed, delisted, and not listed
again by a late retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.rocketchat_summary import RocketChatSummaryActivities, list_site_partners
from models.rocketchat_summary import (
    PortalAccessRequest,
    SiteDelisting,
    SiteListing,
    documents_folder_url,
)
from models.settings import Settings

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _listing(partner_id: str, partner_type: str = "hosting", at: datetime = AT) -> SiteListing:
    return SiteListing(
        partner_id=partner_id,
        workflow_id=f"rc-onboarding-{partner_id}",
        company=f"{partner_id.title()} GmbH",
        partner_type=partner_type,
        services=["private_cloud_hosting"],
        country="DE",
        website=f"https://{partner_id}.example/",
        at=at,
    )


def test_portal_access_is_granted_once_per_key(db_settings: Settings) -> None:
    activities = RocketChatSummaryActivities(db_settings)
    request = PortalAccessRequest(
        idempotency_key="rc-onboarding-acme:opportunities-portal",
        workflow_id="rc-onboarding-acme",
        partner_id="acme",
        company="Acme",
        contact_email="ops@acme.example",
    )
    first = activities.grant_portal_access(request)
    again = activities.grant_portal_access(request)
    assert first == again and first.backend == "local"
    assert first.url == db_settings.rc_opportunities_portal_url


def test_documents_folder_link(settings: Settings) -> None:
    assert RocketChatSummaryActivities(settings).program_documents_folder("acme") is None
    base = settings.model_copy(update={"rc_documents_base_url": "https://drive.example.com/rc/"})
    link = RocketChatSummaryActivities(base).program_documents_folder("acme")
    assert link == "https://drive.example.com/rc/acme"
    assert documents_folder_url("  ", "acme") is None


def test_listed_delisted_and_not_listed_again_by_a_late_retry(db_settings: Settings) -> None:
    activities = RocketChatSummaryActivities(db_settings)
    activities.list_on_rocketchat_site(_listing("bravo", "technology_provider"))
    activities.list_on_rocketchat_site(_listing("alpha"))
    activities.list_on_rocketchat_site(_listing("alpha"))  # a retry: still one
    assert [e.partner_id for e in list_site_partners(db_settings)] == ["alpha", "bravo"]
    assert [e.partner_id for e in list_site_partners(db_settings, "hosting")] == ["alpha"]
    assert list_site_partners(db_settings, country="PT") == []

    removal = SiteDelisting(
        partner_id="alpha", workflow_id="rc-partnership-alpha", reason="left", at=AT + timedelta(1)
    )
    assert activities.delist_from_rocketchat_site(removal) is True
    assert activities.delist_from_rocketchat_site(removal) is True  # a retry
    activities.list_on_rocketchat_site(_listing("alpha"))  # the listing's late retry
    assert [e.partner_id for e in list_site_partners(db_settings)] == ["bravo"]
    unknown = removal.model_copy(update={"partner_id": "nobody"})
    assert activities.delist_from_rocketchat_site(unknown) is False
    # a new onboarding after the removal lists it again
    activities.list_on_rocketchat_site(_listing("alpha", at=AT + timedelta(days=30)))
    assert [e.partner_id for e in list_site_partners(db_settings)] == ["alpha", "bravo"]
