"""What VarApplication and SystemIntegratorApplication share: decisions on record, partner
records, emails to the applicant, and starting the partner's DirectoryListing."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.contracts import Contact, PartnerRecord
    from models.directory import DirectoryListingInput

from workflows.partner_link import ENTITY_PATCH, tell_partner_entity
from workflows.signatures import AgreementWorkflow


class PartnerApplicationWorkflow(AgreementWorkflow):
    """Base of the partner application processes."""

    # The partner entity (`workflows/partner.py`) hears of the partner from the approval on;
    # `ENTITY_PATCH` is asked once, at the approval or the first record written after it.
    _entity_asked = False
    _entity_link = False

    def links_partner_entity(self) -> bool:
        """Whether this run starts and tells the partner's entity (asked once, as a decision
        or an ordinary activity wakes the workflow, before any local activity)."""
        if not self._entity_asked:
            self._entity_asked = True
            self._entity_link = workflow.patched(ENTITY_PATCH)
        return self._entity_link

    async def save_partner(self, *, status: str, **fields: Any) -> None:
        """Write the partner record (and tell the partner's entity, see `ENTITY_PATCH`)."""
        record = self.partner_record(status=status, **fields)
        linked = self.links_partner_entity()
        await self.record_partner(record)
        self._facts["partner_status"] = status
        if linked:
            await tell_partner_entity(record)

    async def tell_approved(self, **fields: Any) -> None:
        """The application is approved: the partner's entity starts (status onboarding); the
        records are not written until the agreement is signed, as before."""
        if self.links_partner_entity():
            await tell_partner_entity(self.partner_record(status="applicant", **fields))

    def partner_record(
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
    ) -> PartnerRecord:
        return PartnerRecord(
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
