"""The forms of the Mattermost sales processes (issue 3): deal registration, the partner's
answer to a reviewer's question, "the customer purchased online", and the one-time
authorized resale request. Registered in `models.forms.FORMS`."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from pydantic import Field

from models.contracts import Reseller
from models.deals import (
    DEAL_NUMBER_PATTERN,
    VAR_TYPE,
    AuthorizedResaleForm,
    AuthorizedResaleInput,
    DealInformation,
    DealRegistrationForm,
    DealRegistrationInput,
    PurchasedOnline,
)
from models.form_spec import FormRejected, FormSpec, money
from models.pricing import quote, reseller_discount_percent


def _submission_key(form: DealRegistrationForm) -> str:
    canonical = json.dumps(
        form.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "deal-form:" + hashlib.sha256(canonical.encode()).hexdigest()


def prepare_deal_registration(form: DealRegistrationForm, settings: Any) -> DealRegistrationInput:
    """Only an active Mattermost Value-Added Reseller registers deals (422 otherwise); the
    deal number is allocated once per submission, so a repeated webhook finds the same one."""
    from activities.deals import allocate_deal_number
    from activities.partners import get_partner

    partner = get_partner(settings, form.partner_id)
    if partner is None:
        raise FormRejected(
            [
                {
                    "field": "partner_id",
                    "message": f"{form.partner_id!r} is not in the partner records: deal registration is for active Mattermost Value-Added Resellers",
                }
            ]
        )
    if partner.program != "mattermost" or partner.partner_type != VAR_TYPE:
        kind = partner.partner_type.replace("_", " ")
        raise FormRejected(
            [
                {
                    "field": "partner_id",
                    "message": f"{partner.company} is a {partner.program} {kind}, not a Mattermost Value-Added Reseller: deal registration is for Value-Added Resellers",
                }
            ]
        )
    if partner.status != "active":
        raise FormRejected(
            [
                {
                    "field": "partner_id",
                    "message": f"{partner.company} is {partner.status}, not active: only active Value-Added Resellers register deals",
                }
            ]
        )
    number = allocate_deal_number(settings, _submission_key(form), partner.partner_id)
    tier = partner.attributes.get("tier")
    return DealRegistrationInput(
        deal_number=number,
        partner=Reseller(
            company=partner.company, partner_id=partner.partner_id, contact=form.registered_by
        ),
        partner_tier=tier,
        end_customer=form.end_customer,
        sku=form.sku,
        product=form.product,
        seats=form.seats,
        list_unit_price_cents=form.list_unit_price_cents,
        expected_close_date=form.expected_close_date,
        notes=form.notes,
        discount_percent=reseller_discount_percent(partner.discount_percent, tier),
        protection_days=int(partner.attributes.get("deal_protection_days", 90)),
    )


def _deal_attributes(deal: DealRegistrationInput) -> dict[str, str]:
    return {
        "Program": "mattermost",
        "PartnerId": deal.partner.partner_id or "",
        "DealNumber": deal.deal_number,
    }


def _deal_summary(deal: DealRegistrationInput) -> str:
    priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
    return f"Deal {deal.deal_number}: {deal.partner.company} → {deal.end_customer.legal_name}, {deal.seats} × {deal.sku}, list {money(priced.list_cents)}"


def _deal_details(deal: DealRegistrationInput) -> str:
    priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
    customer = deal.end_customer
    return (
        f"**Deal registration {deal.deal_number}** (Value-Added Reseller)\n\n"
        f"- **Partner:** {deal.partner.company} (`{deal.partner.partner_id}`) — {deal.partner.contact.name} <{deal.partner.contact.email}>\n"
        f"- **End customer:** {customer.legal_name}, {customer.address.city} ({customer.address.country}) — {customer.contact.name} <{customer.contact.email}>\n"
        f"- **Product:** {deal.product} (`{deal.sku}`), {deal.seats} seats, expected close {deal.expected_close_date}\n"
        f"- **List price:** {money(priced.list_cents)}; reseller discount {deal.discount_percent}% if approved → net {money(priced.net_cents)}\n"
        f"- **Protection:** {deal.protection_days} days from approval"
    )


def _fresh_deal(example: dict[str, Any]) -> dict[str, Any]:
    example["notes"] = f"Submission {uuid.uuid4().hex[:12]}"
    return example


DEAL_REGISTRATION_FORM = FormSpec(
    name="deal-registration",
    workflow_type="DealRegistration",
    title="Mattermost deal registration",
    description=(
        "A Value-Added Reseller registers a customer opportunity (the end customer is always "
        "named) to qualify for the reseller discount: starts DealRegistration (review, "
        "quotation, the customer's signature, purchase order, order)."
    ),
    model=DealRegistrationForm,
    build_workflow_id=lambda deal: f"deal-{deal.deal_number}",
    build_input=lambda deal: deal,
    build_search_attributes=_deal_attributes,
    build_summary=_deal_summary,
    build_details=_deal_details,
    refresh_example=_fresh_deal,
    prepare=prepare_deal_registration,
)


class DealInformationForm(DealInformation):
    deal_number: str = Field(pattern=DEAL_NUMBER_PATTERN, description="The deal the answer is for")  # type: ignore[assignment]


DEAL_INFORMATION_FORM = FormSpec(
    name="deal-information",
    workflow_type="DealRegistration",
    title="Answer to a deal registration question",
    description="The partner answers the reviewer's request for more information about a running deal registration.",
    model=DealInformationForm,
    build_workflow_id=lambda form: f"deal-{form.deal_number}",
    build_input=lambda form: DealInformation.model_validate(form.model_dump()),
    build_search_attributes=lambda form: {"Program": "mattermost", "DealNumber": form.deal_number},
    build_summary=lambda form: f"Answer for deal {form.deal_number}",
    build_details=lambda form: form.answer,
    refresh_example=lambda example: example,
    signal="provide_deal_information",
)


class PurchasedOnlineForm(PurchasedOnline):
    deal_number: str = Field(pattern=DEAL_NUMBER_PATTERN, description="The approved registration")  # type: ignore[assignment]


DEAL_PURCHASED_ONLINE_FORM = FormSpec(
    name="deal-purchased-online",
    workflow_type="DealRegistration",
    title="Registered customer purchased online",
    description="The customer of an approved, protected deal registration bought online: the partner is owed a referral fee.",
    model=PurchasedOnlineForm,
    build_workflow_id=lambda form: f"deal-{form.deal_number}",
    build_input=lambda form: PurchasedOnline.model_validate(form.model_dump()),
    build_search_attributes=lambda form: {"Program": "mattermost", "DealNumber": form.deal_number},
    build_summary=lambda form: f"Deal {form.deal_number}: customer purchased online",
    build_details=lambda form: (
        f"Online order {form.online_order_reference}, reported by {form.reported_by}"
    ),
    refresh_example=lambda example: example,
    signal="customer_purchased_online",
)


def _resale_attributes(form: AuthorizedResaleForm) -> dict[str, str]:
    attributes = {"Program": "mattermost"}
    if form.reseller.partner_id:
        attributes["PartnerId"] = form.reseller.partner_id
    return attributes


def _fresh_resale(example: dict[str, Any]) -> dict[str, Any]:
    example["request_id"] = f"RS-{uuid.uuid4().hex[:12].upper()}"
    return example


AUTHORIZED_RESALE_FORM = FormSpec(
    name="authorized-resale",
    workflow_type="AuthorizedResale",
    title="Mattermost one-time authorized resale",
    description=(
        "A company asks to resell Mattermost Enterprise once to a named end customer: starts "
        "AuthorizedResale (outreach, approval, click-signed authorized reseller agreement, "
        "purchase order, order)."
    ),
    model=AuthorizedResaleForm,
    build_workflow_id=lambda form: f"resale-{form.request_id}",
    build_input=lambda form: AuthorizedResaleInput.model_validate(form.model_dump()),
    build_search_attributes=_resale_attributes,
    build_summary=lambda form: (
        f"Resale {form.request_id}: {form.reseller.company} → {form.end_customer_name} ({form.end_customer_country})"
    ),
    build_details=lambda form: (
        f"**One-time authorized resale {form.request_id}**\n\n"
        f"- **Reseller:** {form.reseller.company} — {form.reseller.contact.name} <{form.reseller.contact.email}>\n"
        f"- **End customer:** {form.end_customer_name} ({form.end_customer_country})\n"
        f"- **Message:** {form.message or '—'}"
    ),
    refresh_example=_fresh_resale,
)

SALES_FORMS = [
    DEAL_REGISTRATION_FORM,
    DEAL_INFORMATION_FORM,
    DEAL_PURCHASED_ONLINE_FORM,
    AUTHORIZED_RESALE_FORM,
]
