"""The forms of the Mattermost sales processes: deal registration, the partner's answer to
a reviewer's question, "the customer purchased online", and the one-time authorized resale
request. Registered in `models.forms.FORMS`.

A deal registration is checked against the partner records and numbered by the intake
layer (`starters/form_preparation.py`) before its workflow starts."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from models.deals import (
    DEAL_NUMBER_PATTERN,
    AuthorizedResaleForm,
    AuthorizedResaleInput,
    DealInformation,
    DealRegistrationForm,
    DealRegistrationInput,
    PurchasedOnline,
)
from models.forms.spec import PROOF_FIELD, FormSpec, ProvenForm, money
from models.pricing import purchase_list_cents, quote


def _deal_attributes(deal: DealRegistrationInput) -> dict[str, str]:
    return {
        "Program": "mattermost",
        "PartnerId": deal.partner.partner_id or "",
        "DealNumber": deal.deal_number,
    }


def _deal_summary(deal: DealRegistrationInput) -> str:
    priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
    return (
        f"Deal {deal.deal_number}: {deal.partner.company} → {deal.end_customer.legal_name}, "
        f"{deal.seats} × {deal.sku}, list {money(priced.list_cents)}"
    )


def _deal_details(deal: DealRegistrationInput) -> str:
    priced = quote(deal.list_unit_price_cents, deal.seats, deal.discount_percent)
    customer, partner = deal.end_customer, deal.partner
    return (
        f"**Deal registration {deal.deal_number}** (Value-Added Reseller)\n\n"
        f"- **Partner:** {partner.company} (`{partner.partner_id}`) — "
        f"{partner.contact.name} <{partner.contact.email}>\n"
        f"- **End customer:** {customer.legal_name}, {customer.address.city} "
        f"({customer.address.country}) — {customer.contact.name} <{customer.contact.email}>\n"
        f"- **Product:** {deal.product} (`{deal.sku}`), {deal.seats} seats, "
        f"expected close {deal.expected_close_date}\n"
        f"- **List price:** {money(priced.list_cents)}; reseller discount "
        f"{deal.discount_percent}% if approved → net {money(priced.net_cents)}\n"
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
)


class DealInformationForm(DealInformation, ProvenForm):
    """The partner's answer to a reviewer's question about a running deal registration."""

    model_config = {
        "title": "DealInformationForm",
        "json_schema_extra": {
            "examples": [
                {
                    "deal_number": "DR-2026-000123",
                    "answered_by": "lena.hoffmann@nordlicht-it.example",
                    "answer": "The customer runs a 250-seat pilot; budget approved for Q1.",
                    PROOF_FIELD: "<the proof token of the email that asks the question>",
                }
            ]
        },
    }

    deal_number: str = Field(pattern=DEAL_NUMBER_PATTERN, description="The deal the answer is for")


DEAL_INFORMATION_FORM = FormSpec(
    name="deal-information",
    workflow_type="DealRegistration",
    title="Answer to a deal registration question",
    description=(
        "The partner answers the reviewer's request for more information about a running "
        "deal registration (signal `provide_deal_information`). Proof of the sender: "
        "`proof_token`, the token printed in the email that asks the question."
    ),
    model=DealInformationForm,
    build_workflow_id=lambda form: f"deal-{form.deal_number}",
    build_input=lambda form: DealInformation.model_validate(form.model_dump(exclude={PROOF_FIELD})),
    build_search_attributes=lambda form: {"Program": "mattermost", "DealNumber": form.deal_number},
    build_summary=lambda form: f"Answer for deal {form.deal_number}",
    build_details=lambda form: form.answer,
    refresh_example=lambda example: example,
    signal="provide_deal_information",
    proof_purposes=("form:deal-information",),
    proof_emails=r"deal-\S+ deal:(information_requested|provide_deal_information):.*",
)


class PurchasedOnlineForm(PurchasedOnline, ProvenForm):
    """The customer of an approved, protected deal registration bought online."""

    model_config = {
        "title": "CustomerPurchasedOnlineForm",
        "json_schema_extra": {
            "examples": [
                {
                    "deal_number": "DR-2026-000123",
                    "reported_by": "sales@mattermost.com",
                    "online_order_reference": "WEB-2026-4411",
                    "seats": 250,
                    "list_unit_price_cents": 12000,
                    "term_months": 12,
                    "amount_paid_cents": 3000000,
                    PROOF_FIELD: "<a token for deal-DR-2026-000123 made with the internal secret>",
                }
            ]
        },
    }

    deal_number: str = Field(pattern=DEAL_NUMBER_PATTERN, description="The approved registration")
    # The form carries what the customer bought (the signal still accepts reports without it).
    seats: int = Field(gt=0, le=1_000_000, description="Seats the customer bought online")
    list_unit_price_cents: int = Field(
        gt=0, description="List price per seat per year the customer paid, in cents"
    )


DEAL_PURCHASED_ONLINE_FORM = FormSpec(
    name="deal-purchased-online",
    workflow_type="DealRegistration",
    title="Registered customer purchased online",
    description=(
        "The customer of an approved, protected deal registration bought online: the "
        "partner is owed a referral fee, the agreement's discount off the purchase's list price "
        "(seats × list price per seat per year × years of `term_months`; `amount_paid_cents`, "
        "if given, must be that list price: online purchases are at list price) (signal "
        "`customer_purchased_online`). Internal "
        "senders only: `proof_token` is a token for `deal-{deal_number}` with the purpose "
        "`form:deal-purchased-online`, signed with PARTNERFLOW_INTERNAL_SECRET "
        "(`models.links.make_token`)."
    ),
    model=PurchasedOnlineForm,
    build_workflow_id=lambda form: f"deal-{form.deal_number}",
    build_input=lambda form: PurchasedOnline.model_validate(form.model_dump(exclude={PROOF_FIELD})),
    build_search_attributes=lambda form: {"Program": "mattermost", "DealNumber": form.deal_number},
    build_summary=lambda form: f"Deal {form.deal_number}: customer purchased online",
    build_details=lambda form: (
        f"Online order {form.online_order_reference}, reported by {form.reported_by}: "
        f"{form.seats} seats × {money(form.list_unit_price_cents)} list per seat per year × "
        f"{form.term_months} months = "
        f"{money(purchase_list_cents(form.list_unit_price_cents, form.seats, form.term_months))}"
    ),
    refresh_example=lambda example: example,
    signal="customer_purchased_online",
    proof_purposes=("form:deal-purchased-online",),
    proof_secret="internal_secret",
)


def _resale_attributes(form: AuthorizedResaleForm) -> dict[str, str]:
    attributes = {"Program": "mattermost"}
    if form.reseller.partner_id:
        attributes["PartnerId"] = form.reseller.partner_id
    return attributes


def _resale_details(form: AuthorizedResaleForm) -> str:
    contact = form.reseller.contact
    return (
        f"**One-time authorized resale {form.request_id}**\n\n"
        f"- **Reseller:** {form.reseller.company} — {contact.name} <{contact.email}>\n"
        f"- **End customer:** {form.end_customer_name} ({form.end_customer_country})\n"
        f"- **Message:** {form.message or '—'}"
    )


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
        f"Resale {form.request_id}: {form.reseller.company} → {form.end_customer_name} "
        f"({form.end_customer_country})"
    ),
    build_details=_resale_details,
    refresh_example=_fresh_resale,
)

SALES_FORMS = [
    DEAL_REGISTRATION_FORM,
    DEAL_INFORMATION_FORM,
    DEAL_PURCHASED_ONLINE_FORM,
    AUTHORIZED_RESALE_FORM,
]
