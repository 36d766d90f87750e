"""What VarApplication and SystemIntegratorApplication share: decisions on record, partner
records, emails to the applicant, and starting the partner's DirectoryListing."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.contracts import Contact, PartnerRecord
    from models.directory import DirectoryListingInput

from workflows.signatures import AgreementWorkflow


class PartnerApplicationWorkflow(AgreementWorkflow):
    """Base of the partner application processes."""

    async def save_partner(
        self,
        *,
        partner_id: str,
        partner_type: str,
        company: str,
        country: str,
        website: str,
        contact: Contact,
        status: str,
        discount_percent: int = 0,
        attributes: dict[str, Any],
    ) -> None:
        await self.record_partner(
            PartnerRecord(
                partner_id=partner_id,
                program="mattermost",
                partner_type=partner_type,
                company=company,
                country=country,
                website=website,
                contact_name=contact.name,
                contact_email=contact.email,
                status=status,
                discount_percent=discount_percent,
                attributes=attributes,
                at=workflow.now(),
            )
        )
        self._facts["partner_status"] = status

    async def start_directory_listing(self, listing: DirectoryListingInput) -> None:
        """Start `directory-{partner_id}`; it outlives this process (ABANDON)."""
        listing_id = f"directory-{listing.partner_id}"
        try:
            await workflow.start_child_workflow(
                "DirectoryListing",
                listing,
                id=listing_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=(
                    f"Directory listing of {listing.company} "
                    f"({listing.partner_type.replace('_', ' ')})"
                ),
                static_details=(
                    f"**{listing.company}**, {listing.partner_type.replace('_', ' ')}\n\n"
                    f"- **Contact:** {listing.contact.name} <{listing.contact.email}>\n"
                    f"- **Territory:** {', '.join(listing.territory) or '—'}\n"
                    "- The partner submits the listing on the signed `/listing` page emailed "
                    "to them; "
                    "it appears on the public `/partners` directory once approved.\n"
                    f"- **Started by:** `{workflow.info().workflow_id}`"
                ),
            )
            self.note("directory_listing", "system", "started", workflow_id=listing_id)
        except WorkflowAlreadyStartedError:
            self.note("directory_listing", "system", "already_running", workflow_id=listing_id)
        self._facts["directory_listing_workflow_id"] = listing_id
