"""The partner portal's sales pages (Mattermost Value-Added Resellers): deal registrations
with their status, protection and conflicts, one deal's detail (the records and, while its
workflow runs, its `status` query), registering a deal (the `deal-registration` form's very
rules: `starters.intake.submit_form`, with the partner id of the session), referral fees,
orders with their invoices and licenses, and a printable invoice.

Every route answers only about the session's partner of the Mattermost program: another
partner's deal, order or invoice, and every route for a Rocket.Chat session, is a 404
"Not found" that says nothing of it."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from activities import portal_records
from models.constant_time import same_secret
from models.deals import DEAL_NUMBER_PATTERN, PAYMENTS_EMAIL, referral_fee_note
from models.forms import FORMS
from models.forms.spec import money
from models.portal import PortalIdentity
from models.tables import DealRegistrationRow, InvoiceRow, LicenseRow
from models.tasks import WorkflowStatus
from starters.intake import RPC_TIMEOUT, submit_form, unavailable, validation_errors
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import PAGE_HEADERS, message, page_form, same_origin
from starters.web.portal import PortalPartner, portal_not_found, portal_page, require_program
from starters.web.portal_deal_form import DEAL_FIELDS, deal_payload, errors_by_field
from starters.web.portal_tasks import PARTNER_ROLES, portal_form_token, portal_task_url

log = logging.getLogger(__name__)
router = APIRouter()

SALES_PROGRAM = "mattermost"
DEAL_FORM = "deal-registration"
_DEAL_NUMBER = re.compile(DEAL_NUMBER_PATTERN)
INVOICE_ID_MAX = 64
PROTECTED_STATUSES = frozenset({"approved", "quoted"})
DEAL_STATUS = {
    "screening": "Received: being screened",
    "in_review": "In review by your Mattermost Sales Manager",
    "information_requested": "The reviewer asked you for more information",
    "approved": "Approved: the opportunity is protected for you",
    "rejected": "Not approved",
    "quoted": "Quotation sent: waiting for the customer's signature and your purchase order",
    "ordered": "Purchase order received: the order is in progress",
    "closed_won": "Won: the order is paid",
    "purchased_online": "The customer bought online: a referral fee is owed to you",
    "withdrawn": "Withdrawn",
    "expired": "Protection expired without a quotation",
}
INVOICE_STATUS = {
    "draft": "Draft",
    "open": "Open (awaiting payment)",
    "paid": "Paid",
    "void": "Void",
    "uncollectible": "Uncollectible",
}


def _sales_partner(partner: PortalIdentity) -> PortalIdentity:
    """The sales pages are the Mattermost program's: any other program's session gets 404."""
    return require_program(partner, SALES_PROGRAM)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _day(value: datetime | None) -> str:
    value = _aware(value)
    return value.strftime("%Y-%m-%d") if value else ""


def protection(row: DealRegistrationRow, now: datetime) -> str:
    """ "until 2027-01-05 (34 days left)", "expired on ..." while the registration is
    approved or quoted; "" otherwise (not yet approved, or ordered, won, ended)."""
    until = _aware(row.protected_until)
    if until is None or row.status not in PROTECTED_STATUSES:
        return ""
    if until <= now:
        return f"expired on {until:%Y-%m-%d}"
    days = (until - now).days
    return f"until {until:%Y-%m-%d} ({days} day{'s' if days != 1 else ''} left)"


def _deal_view(row: DealRegistrationRow, now: datetime) -> dict[str, Any]:
    return {
        "deal_number": row.deal_number,
        "customer": row.end_customer_name,
        "sku": row.sku,
        "status": row.status,
        "status_text": DEAL_STATUS.get(row.status, row.status.replace("_", " ").capitalize()),
        "protection": protection(row, now),
        "registered": _day(row.created_at),
        "updated": _day(row.updated_at),
        "url": f"/portal/deals/{row.deal_number}",
    }


def conflicts_explained(facts: dict[str, Any]) -> list[str]:
    """The channel conflicts and agreement findings the review weighs, told to the partner
    without naming the other partner or its registration."""
    told = []
    for conflict in facts.get("channel_conflicts") or []:
        status = str(conflict.get("status", "open")).replace("_", " ")
        told.append(
            "Another partner has a registration of the same product for this customer (same "
            f"{conflict.get('matched_on', 'customer')}), now {status}. Your Sales Manager "
            "reviews both; only one registration of an opportunity is approved and protected."
        )
    agreement = facts.get("agreement") or {}
    if agreement.get("outside_territory"):
        told.append(
            f"The customer's country {agreement.get('country')} is outside your reseller "
            f"agreement's territory ({', '.join(agreement.get('territory') or [])}); the "
            "reviewer decides whether the registration can be approved."
        )
    if agreement.get("outside_industries"):
        told.append(
            f"The customer's industry {agreement.get('industry')!r} is outside your reseller "
            f"agreement's industries ({', '.join(agreement.get('industries') or [])}); the "
            "reviewer decides whether the registration can be approved."
        )
    return told


def _purchase_order(status: WorkflowStatus) -> dict[str, Any] | None:
    for entry in reversed(status.history):
        if entry.step == "submit_purchase_order" and entry.event == "accepted":
            amount = entry.detail.get("amount_cents")
            return {
                "number": entry.detail.get("number", ""),
                "amount": money(amount) if isinstance(amount, int) else "",
                "at": _day(entry.at),
            }
    return None


def workflow_view(status: WorkflowStatus) -> dict[str, Any]:
    """What the deal's running workflow tells the partner: stage, conflicts, quotation,
    signature, purchase order, order, and the tasks waiting on the partner."""
    facts = status.facts
    quotation = facts.get("quotation") or None
    signature = facts.get("sign_quotation_agreement") or None
    if signature and signature.get("signed_at"):
        signed = f"signed on {str(signature['signed_at'])[:10]}"
    elif status.stage == "awaiting_quotation_signature":
        signed = "waiting for the customer's signature"
        if signature and signature.get("expires_at"):
            signed += f" (the link expires on {str(signature['expires_at'])[:10]})"
    else:
        signed = "signed" if quotation and status.stage not in ("approved",) else ""
    order = facts.get("order") or None
    tasks = [
        {
            "task": task.task.replace("_", " ").capitalize(),
            "description": task.description,
            "due": _day(task.due_at),
            "url": portal_task_url(status.workflow_id, task.handler, task.task),
        }
        for task in status.pending_tasks
        if task.assignee in PARTNER_ROLES
    ]
    return {
        "stage": status.stage.replace("_", " "),
        "conflicts": conflicts_explained(facts),
        "review_round": facts.get("review_round"),
        "quotation": {
            "number": quotation.get("quote_number", ""),
            "net": money(int(quotation.get("net_price_cents", 0))),
            "seats": quotation.get("seats"),
            "license_contact": quotation.get("license_contact_email", ""),
        }
        if quotation
        else None,
        "signature": signed,
        "purchase_order": _purchase_order(status),
        "order": {
            "stage": str(order.get("stage") or order.get("outcome") or "started").replace("_", " "),
            "invoice_number": order.get("invoice_number"),
            "invoice_stage": facts.get("invoice_stage"),
        }
        if order
        else None,
        "tasks": tasks,
    }


async def _workflow_status(
    temporal: TemporalDep, partner: PortalIdentity, workflow_id: str
) -> WorkflowStatus | None:
    """The deal workflow's `status` query while it runs, when it is the partner's; None when
    it is closed, unknown or Temporal cannot answer now."""
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(workflow_id)
        described = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        if described.status != WorkflowExecutionStatus.RUNNING:
            return None
        raw = await handle.query("status", rpc_timeout=RPC_TIMEOUT)
        status = WorkflowStatus.model_validate(raw)
    except (TimeoutError, TemporalUnavailable, RPCError, ValueError) as exc:
        log.info("portal deal %s: no status: %s", workflow_id, exc)
        return None
    except Exception as exc:  # a query the worker cannot answer now (no worker, failed query)
        log.warning("portal deal %s: status query failed: %s", workflow_id, exc)
        return None
    if status.facts.get("partner_id") != partner.partner_id:
        return None
    return status


def _fees(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "deal_number": row.deal_number,
            "amount": money(row.amount_cents, row.currency),
            "note": row.note or referral_fee_note(row.deal_number),
            "status": row.status,
            "paid": _day(row.paid_at),
            "reference": row.reference or "",
        }
        for row in rows
    ]


# --- deals -----------------------------------------------------------------------------------


@router.get("/portal/deals", response_class=HTMLResponse)
async def portal_deals(request: Request, settings: SettingsDep, partner: PortalPartner) -> Response:
    """The partner's deal registrations (status, protection) and its referral fees."""
    partner = _sales_partner(partner)
    now = datetime.now(UTC)
    deals = await asyncio.to_thread(portal_records.partner_deals, settings, partner)
    fees = await asyncio.to_thread(portal_records.partner_referral_fees, settings, partner)
    return portal_page(
        request, settings, partner, "portal_deals.html",
        {"title": "Deals", "deals": [_deal_view(row, now) for row in deals],
         "fees": _fees(fees), "payments_email": PAYMENTS_EMAIL},
        nav="deals",
    )  # fmt: skip


def _form_page(
    request: Request,
    settings: SettingsDep,
    partner: PortalIdentity,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    return portal_page(
        request, settings, partner, "portal_deals_new.html",
        {"title": "Register a deal", "fields": DEAL_FIELDS, "values": values,
         "errors": errors or {}, "problem": problem,
         "csrf": portal_form_token(request, settings), "partner_id": partner.partner_id},
        nav="deals", status_code=status_code,
    )  # fmt: skip


def _refused(
    request: Request,
    settings: SettingsDep,
    partner: PortalIdentity,
    values: dict[str, str],
    problems: list[dict[str, Any]],
) -> Response:
    """The form again (422) with each problem by its field, the others at the top."""
    errors, general = errors_by_field(problems)
    return _form_page(
        request, settings, partner, values, errors=errors, status_code=422,
        problem=" ".join(general) or "Some fields need your attention; nothing was registered.",
    )  # fmt: skip


@router.get("/portal/deals/new", response_class=HTMLResponse)
async def portal_deal_form(
    request: Request, settings: SettingsDep, partner: PortalPartner
) -> Response:
    """The deal registration form (the `deal-registration` webhook form's fields)."""
    partner = _sales_partner(partner)
    values = {field.name: field.default for field in DEAL_FIELDS}
    values["registered_by.email"] = partner.email
    return _form_page(request, settings, partner, values)


@router.post("/portal/deals/new", response_class=HTMLResponse)
async def portal_deal_register(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Register the deal with the form's rules (the partner is the session's); the form
    again with each refused field's problem (422), else the new deal's page."""
    partner = _sales_partner(partner)
    form = await page_form(request)
    posted = {key: value for key, value in form.items() if isinstance(value, str)}
    token = portal_form_token(request, settings)
    if not same_origin(request, settings) or not same_secret(posted.get("_csrf", ""), token):
        return message(
            request, 403, "This form has expired",
            "The form expired or came from another site, so nothing was registered. Open "
            "the deal registration form again.",
        )  # fmt: skip
    values = {field.name: posted.get(field.name, "").strip() for field in DEAL_FIELDS}
    payload = deal_payload(partner.partner_id, values)
    try:  # the form's model, checked before Temporal is needed (submit_form checks it again)
        FORMS[DEAL_FORM].model.model_validate(payload)
    except ValidationError as exc:
        return _refused(request, settings, partner, values, validation_errors(exc))
    try:
        client = await temporal.client()
    except TemporalUnavailable:
        return _form_page(
            request, settings, partner, values, status_code=503,
            problem="Deal registration is not available right now; nothing was registered. "
            "Please try again in a minute.",
        )  # fmt: skip
    try:
        result = await submit_form(
            client, settings, DEAL_FORM, payload,
            execution_timeout=request.app.state.execution_timeout,
        )  # fmt: skip
    except (RPCError, RuntimeError) as exc:  # Temporal refused the start: nothing registered
        log.warning("portal deal registration of %s: %s", partner.partner_id, exc)
        result = unavailable(exc)
    if result.status_code in (200, 202):
        deal_number = str(result.body["workflow_id"]).removeprefix("deal-")
        return RedirectResponse(
            f"/portal/deals/{deal_number}?registered=1", status_code=303, headers=PAGE_HEADERS
        )
    if result.status_code == 422:
        return _refused(request, settings, partner, values, result.body.get("errors", []))
    if result.status_code == 409:
        problem = "This registration was already submitted with other details."
    else:
        problem = "Deal registration is not available right now; please try again in a minute."
    return _form_page(
        request, settings, partner, values, problem=problem,
        status_code=result.status_code if result.status_code in (409, 503) else 503,
    )  # fmt: skip


@router.get("/portal/deals/{deal_number}", response_class=HTMLResponse)
async def portal_deal(
    request: Request,
    deal_number: str,
    settings: SettingsDep,
    temporal: TemporalDep,
    partner: PortalPartner,
    registered: str | None = None,
) -> Response:
    """One of the partner's deals: its record, and while its workflow runs, the stage,
    conflicts, quotation, signature, purchase order and the tasks waiting on the partner."""
    partner = _sales_partner(partner)
    if not _DEAL_NUMBER.match(deal_number):
        raise portal_not_found()
    row = await asyncio.to_thread(portal_records.partner_deal, settings, partner, deal_number)
    if row is None and not await asyncio.to_thread(
        portal_records.allocated_deal_number, settings, partner, deal_number
    ):
        raise portal_not_found()
    status = await _workflow_status(temporal, partner, f"deal-{deal_number}")
    fees = [
        fee
        for fee in await asyncio.to_thread(portal_records.partner_referral_fees, settings, partner)
        if fee.deal_number == deal_number
    ]
    return portal_page(
        request, settings, partner, "portal_deals_detail.html",
        {"title": f"Deal {deal_number}", "deal_number": deal_number,
         "deal": _deal_view(row, datetime.now(UTC)) if row else None,
         "live": workflow_view(status) if status else None,
         "fees": _fees(fees), "registered": registered == "1",
         "payments_email": PAYMENTS_EMAIL},
        nav="deals",
    )  # fmt: skip


# --- orders and invoices ---------------------------------------------------------------------


def license_status(row: LicenseRow, now: datetime) -> str:
    expires = _aware(row.expires_at)
    assert expires is not None
    state = "valid" if expires > now else "expired"
    return f"{row.license_id}: {row.users} users of {row.sku}, {state} until {expires:%Y-%m-%d}"


def _invoice_view(row: InvoiceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number or row.id,
        "status": row.status,
        "status_text": INVOICE_STATUS.get(row.status, row.status.capitalize()),
        "amount": money(row.amount_due_cents, row.currency),
        "paid": money(row.amount_paid_cents, row.currency),
        "due": _day(row.due_at),
        "url": f"/portal/invoices/{row.id}",
    }


@router.get("/portal/orders", response_class=HTMLResponse)
async def portal_orders(
    request: Request, settings: SettingsDep, partner: PortalPartner
) -> Response:
    """The partner's orders: stage, license status, and invoices with stage, amount, due."""
    partner = _sales_partner(partner)
    now = datetime.now(UTC)
    orders = await asyncio.to_thread(portal_records.partner_orders, settings, partner)
    shown = [
        {
            "order_id": entry.order.order_id,
            "deal_number": entry.order.deal_number,
            "customer": entry.order.end_customer_name,
            "amount": money(entry.order.amount_cents, entry.order.currency),
            "stage": entry.order.status.replace("_", " "),
            "placed": _day(entry.order.created_at),
            "licenses": [license_status(row, now) for row in entry.licenses],
            "invoices": [_invoice_view(row) for row in entry.invoices],
        }
        for entry in orders
    ]
    return portal_page(
        request, settings, partner, "portal_orders.html",
        {"title": "Orders and invoices", "orders": shown}, nav="orders",
    )  # fmt: skip


def _lines(row: InvoiceRow) -> list[dict[str, Any]]:
    try:
        lines = json.loads(row.lines_json or "[]")
    except ValueError:
        return []
    shown = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        quantity, unit = int(line.get("quantity", 0)), int(line.get("unit_amount_cents", 0))
        shown.append(
            {
                "description": str(line.get("description", "")),
                "quantity": quantity,
                "unit": money(unit, row.currency),
                "amount": money(int(line.get("amount_cents", quantity * unit)), row.currency),
            }
        )
    return shown


@router.get("/portal/invoices/{invoice_id}", response_class=HTMLResponse)
async def portal_invoice(
    request: Request, invoice_id: str, settings: SettingsDep, partner: PortalPartner
) -> Response:
    """One invoice of the partner's orders, laid out to print (no navigation on paper)."""
    partner = _sales_partner(partner)
    if not invoice_id or len(invoice_id) > INVOICE_ID_MAX:
        raise portal_not_found()
    found = await asyncio.to_thread(portal_records.partner_invoice, settings, partner, invoice_id)
    if found is None:
        raise portal_not_found()
    invoice, order = found
    issued = invoice.finalized_at or invoice.created_at
    remaining = max(invoice.amount_due_cents - invoice.amount_paid_cents, 0)
    return portal_page(
        request, settings, partner, "portal_invoice.html",
        {"title": f"Invoice {invoice.number or invoice.id}",
         "invoice": _invoice_view(invoice), "customer_name": invoice.customer_name,
         "customer_email": invoice.customer_email, "description": invoice.description or "",
         "issued": _day(issued), "paid_on": _day(invoice.paid_at),
         "lines": _lines(invoice), "remaining": money(remaining, invoice.currency),
         "order_id": order.order_id, "deal_number": order.deal_number,
         "today": date.today().isoformat()},
        nav="orders",
    )  # fmt: skip
