"""The Rocket.Chat partner's record, as onboarding and the partnership keep it."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import PartnerRecord
    from models.rocketchat import RocketChatApplication


def rocketchat_partner(
    app: RocketChatApplication, status: str, attributes: dict[str, Any]
) -> PartnerRecord:
    """The partner record of a Rocket.Chat applicant or partner, now."""
    return PartnerRecord(
        partner_id=app.partner_id,
        program="rocketchat",
        partner_type=app.partner_type,
        company=app.company,
        country=app.country,
        website=str(app.website),
        contact_name=app.contact.name,
        contact_email=app.contact.email,
        status=status,
        attributes=attributes,
        at=workflow.now(),
    )
