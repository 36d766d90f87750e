"""The partner portal's sales records: a Mattermost partner's deal registrations, referral
fees, orders with their invoices and licenses, and one invoice, always of the signed-in
partner only (every query is filtered by the session's partner; another program's session
finds nothing).

An order is the partner's when it records the partner as its reseller
(`orders.reseller_partner_id`, migration 0009_portal_deals) or, for an order recorded without
it, when it was placed for one of the partner's deal registrations (`orders.deal_number`,
whose registration records the partner id). The reseller's company name is never used: it
does not identify a partner.

Called by the web service (not by workflows): each function is one short read."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select

from activities.database import session_scope
from models.portal import PortalIdentity
from models.settings import Settings
from models.tables import (
    DealNumberRow,
    DealRegistrationRow,
    InvoiceRow,
    LicenseRow,
    OrderRow,
    ReferralFeeRow,
)

SALES_PROGRAM = "mattermost"  # deal registrations, referral fees and orders are Mattermost's


@dataclass
class PartnerOrder:
    """An order of the partner with its invoices and licenses (newest first)."""

    order: OrderRow
    invoices: list[InvoiceRow] = field(default_factory=list)
    licenses: list[LicenseRow] = field(default_factory=list)


def _sales(identity: PortalIdentity) -> bool:
    return identity.program == SALES_PROGRAM


def partner_deals(settings: Settings, identity: PortalIdentity) -> list[DealRegistrationRow]:
    """The partner's deal registrations, newest first."""
    if not _sales(identity):
        return []
    with session_scope(settings.resolved_database_url) as db:
        rows = db.exec(
            select(DealRegistrationRow)
            .where(DealRegistrationRow.partner_id == identity.partner_id)
            .order_by(col(DealRegistrationRow.created_at).desc())
        ).all()
        return [DealRegistrationRow.model_validate(row) for row in rows]


def partner_deal(
    settings: Settings, identity: PortalIdentity, deal_number: str
) -> DealRegistrationRow | None:
    """One registration, when it is the partner's."""
    if not _sales(identity):
        return None
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(DealRegistrationRow, deal_number)
        if row is None or row.partner_id != identity.partner_id:
            return None
        return DealRegistrationRow.model_validate(row)


def allocated_deal_number(settings: Settings, identity: PortalIdentity, deal_number: str) -> bool:
    """Was the number given to one of the partner's submissions (a registration whose
    workflow has not recorded it yet)?"""
    if not _sales(identity):
        return False
    with session_scope(settings.resolved_database_url) as db:
        row = db.get(DealNumberRow, deal_number)
        return row is not None and row.partner_id == identity.partner_id


def partner_referral_fees(settings: Settings, identity: PortalIdentity) -> list[ReferralFeeRow]:
    """The referral fees Mattermost owes or paid the partner, newest first."""
    if not _sales(identity):
        return []
    with session_scope(settings.resolved_database_url) as db:
        rows = db.exec(
            select(ReferralFeeRow)
            .where(ReferralFeeRow.partner_id == identity.partner_id)
            .order_by(col(ReferralFeeRow.created_at).desc())
        ).all()
        return [ReferralFeeRow.model_validate(row) for row in rows]


def _resold_by(identity: PortalIdentity) -> ColumnElement[bool]:
    """Orders whose reseller is the partner (by its deal, for orders recorded without it)."""
    deals = select(DealRegistrationRow.deal_number).where(
        DealRegistrationRow.partner_id == identity.partner_id
    )
    return or_(
        col(OrderRow.reseller_partner_id) == identity.partner_id,
        and_(col(OrderRow.reseller_partner_id).is_(None), col(OrderRow.deal_number).in_(deals)),
    )


def partner_orders(settings: Settings, identity: PortalIdentity) -> list[PartnerOrder]:
    """The partner's orders, newest first, each with its invoices and licenses."""
    if not _sales(identity):
        return []
    with session_scope(settings.resolved_database_url) as db:
        orders = db.exec(
            select(OrderRow).where(_resold_by(identity)).order_by(col(OrderRow.created_at).desc())
        ).all()
        found = [PartnerOrder(OrderRow.model_validate(order)) for order in orders]
        by_workflow = {entry.order.workflow_id: entry for entry in found}
        if by_workflow:
            ids = list(by_workflow)
            for invoice in db.exec(
                select(InvoiceRow)
                .where(col(InvoiceRow.workflow_id).in_(ids))
                .order_by(col(InvoiceRow.created_at).desc())
            ).all():
                by_workflow[invoice.workflow_id].invoices.append(InvoiceRow.model_validate(invoice))
            for license_row in db.exec(
                select(LicenseRow)
                .where(col(LicenseRow.workflow_id).in_(ids))
                .order_by(col(LicenseRow.issued_at).desc())
            ).all():
                by_workflow[license_row.workflow_id].licenses.append(
                    LicenseRow.model_validate(license_row)
                )
        return found


def partner_invoice(
    settings: Settings, identity: PortalIdentity, invoice_id: str
) -> tuple[InvoiceRow, OrderRow] | None:
    """One invoice with its order, when the order is the partner's."""
    if not _sales(identity):
        return None
    with session_scope(settings.resolved_database_url) as db:
        invoice = db.get(InvoiceRow, invoice_id)
        if invoice is None:
            return None
        order = db.exec(
            select(OrderRow).where(
                OrderRow.workflow_id == invoice.workflow_id, _resold_by(identity)
            )
        ).first()
        if order is None:
            return None
        return InvoiceRow.model_validate(invoice), OrderRow.model_validate(order)
