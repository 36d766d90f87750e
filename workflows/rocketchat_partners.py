"""The Rocket.Chat partner's record and yearly program-fee invoice, as onboarding and the
partnership keep them."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import InvoiceLine, InvoiceRequest, PartnerRecord
    from models.rocketchat import YEARLY_PROGRAM_FEE_CENTS, RocketChatApplication


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


def program_fee_invoice(
    app: RocketChatApplication, year: int, line: str, metadata: dict[str, str]
) -> InvoiceRequest:
    """The invoice of the partner's yearly program fee for `year` (one per year, ever)."""
    return InvoiceRequest(
        idempotency_key=f"rocketchat:{app.partner_id}:program-fee:{year}",
        workflow_id=workflow.info().workflow_id,
        customer_name=app.company,
        customer_email=app.contact.email,
        customer_country=app.country,
        lines=[
            InvoiceLine(description=line, quantity=1, unit_amount_cents=YEARLY_PROGRAM_FEE_CENTS)
        ],
        days_until_due=30,
        description=f"Yearly partner program fee, {app.company}",
        metadata={"partner_id": app.partner_id, **metadata, "fee_year": str(year)},
        issued_at=workflow.now(),
    )
