"""The program summary's automatic steps (seed 002): access to the opportunities portal, the
partner's folder of program documents, and Rocket.Chat's own partner page.

- `grant_portal_access`: the local adapter records the grant (`rocketchat_portal_access`),
  once per idempotency key (a retry finds the first grant).
- `program_documents_folder`: the partner's folder under `PARTNERFLOW_RC_DOCUMENTS_BASE_URL`.
- `revoke_portal_access`: the partnership ended; the local adapter marks the partner's
  grants revoked (`revoked_at`, the reason), so a retry changes nothing.
- `list_on_rocketchat_site` / `delist_from_rocketchat_site`: the partner on
  `/rocketchat/partners` (listed again after a removal only by a new onboarding).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlmodel import col, select
from temporalio import activity

from activities.database import require_aware, session_scope
from models.rocketchat_summary import (
    PortalAccess,
    PortalAccessRequest,
    PortalRevocation,
    SiteDelisting,
    SiteListing,
    documents_folder_url,
)
from models.settings import Settings
from models.tables import RocketChatPortalAccessRow, RocketChatSiteListingRow


class RocketChatSummaryActivities:
    """The summary's automatic steps, bound to the settings' records database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url

    @activity.defn(name="grant_portal_access")
    def grant_portal_access(self, request: PortalAccessRequest) -> PortalAccess:
        """Give the partner's contact an account on the opportunities portal (once)."""
        with session_scope(self.url) as session:
            row = session.exec(
                select(RocketChatPortalAccessRow).where(
                    RocketChatPortalAccessRow.idempotency_key == request.idempotency_key
                )
            ).first()
            if row is None:
                row = RocketChatPortalAccessRow(
                    account_id="portal-"
                    + uuid.uuid5(uuid.NAMESPACE_URL, request.idempotency_key).hex[:16],
                    idempotency_key=request.idempotency_key,
                    partner_id=request.partner_id,
                    workflow_id=request.workflow_id,
                    contact_email=request.contact_email,
                    url=self.settings.rc_opportunities_portal_url,
                    backend="local",
                    granted_at=datetime.now(UTC),
                )
                session.add(row)
                session.commit()
                session.refresh(row)
            return PortalAccess(
                account_id=row.account_id,
                url=row.url,
                backend=row.backend,
                granted_at=row.granted_at,
            )

    @activity.defn(name="revoke_portal_access")
    def revoke_portal_access(self, request: PortalRevocation) -> bool:
        """Close the partner's opportunities-portal accounts; False when it had none."""
        at = require_aware(request.at, "PortalRevocation.at")
        with session_scope(self.url) as session:
            rows = list(
                session.exec(
                    select(RocketChatPortalAccessRow).where(
                        RocketChatPortalAccessRow.partner_id == request.partner_id
                    )
                )
            )
            for row in rows:
                if row.revoked_at is None:
                    row.revoked_at = at
                    row.revocation_reason = request.reason[:2000]
                    session.add(row)
            session.commit()
            return bool(rows)

    @activity.defn(name="program_documents_folder")
    def program_documents_folder(self, partner_id: str) -> str | None:
        """The link to the partner's folder of program documents (None: not configured)."""
        return documents_folder_url(self.settings.rc_documents_base_url, partner_id)

    @activity.defn(name="list_on_rocketchat_site")
    def list_on_rocketchat_site(self, listing: SiteListing) -> None:
        """Show the partner on Rocket.Chat's partner page (again the same on a retry)."""
        at = require_aware(listing.at, "SiteListing.at")
        with session_scope(self.url) as session:
            row = session.get(RocketChatSiteListingRow, listing.partner_id)
            if row is not None and row.removed_at is not None and at <= row.removed_at:
                return  # delisted since: a late retry does not list it again
            fresh = RocketChatSiteListingRow(
                partner_id=listing.partner_id,
                workflow_id=listing.workflow_id,
                company=listing.company,
                partner_type=listing.partner_type,
                services_json=json.dumps(listing.services),
                country=listing.country,
                website=listing.website,
                listed_at=at,
            )
            if row is None:
                row = fresh
            else:  # listed again (the same values on a retry): the new values, not removed
                for key in RocketChatSiteListingRow.model_fields:
                    setattr(row, key, getattr(fresh, key))
            session.add(row)
            session.commit()

    @activity.defn(name="delist_from_rocketchat_site")
    def delist_from_rocketchat_site(self, request: SiteDelisting) -> bool:
        """Take the partner off Rocket.Chat's partner page; False when it was not on it."""
        with session_scope(self.url) as session:
            row = session.get(RocketChatSiteListingRow, request.partner_id)
            if row is None:
                return False
            if row.removed_at is None:
                row.removed_at = require_aware(request.at, "SiteDelisting.at")
                row.removal_reason = request.reason[:2000]
                session.add(row)
                session.commit()
            return True


def list_site_partners(
    settings: Settings, partner_type: str | None = None, country: str | None = None
) -> list[SiteListing]:
    """The partners Rocket.Chat's partner page shows now, by company name."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(RocketChatSiteListingRow).where(
            col(RocketChatSiteListingRow.removed_at).is_(None)
        )
        if partner_type:
            query = query.where(RocketChatSiteListingRow.partner_type == partner_type)
        if country:
            query = query.where(RocketChatSiteListingRow.country == country)
        listings = [
            SiteListing(
                partner_id=r.partner_id,
                workflow_id=r.workflow_id,
                company=r.company,
                partner_type=r.partner_type,
                services=json.loads(r.services_json),
                country=r.country,
                website=r.website,
                at=r.listed_at,
            )
            for r in session.exec(query)
        ]
    return sorted(listings, key=lambda e: e.company.lower())
