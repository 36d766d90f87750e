"""Form preparation that needs the records, run by the intake before a workflow starts.

The forms themselves (`models.forms`) are pure declarations. Some forms must also be
checked against the partner records or allocate something there: a deal registration is
for active Value-Added Resellers and gets its deal number once per submission; a partner
application must not take another company's partner id; an evaluation license is for
active partners asking for themselves (their organisation name, an email at their domain);
a directory listing's logo is checked and stored; an order is an active, trained VAR's, with
its discount only on an approved registration and its prices from the price list
(`models.order_intake`). `PREPARATIONS` maps a form's name to its
step: it takes the validated form and the settings and returns the form to use, or raises
`FormRejected` (422 naming the field). The steps block on the database: the intake runs
them in a thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from activities.deals import allocate_deal_number, get_registration, orders_naming
from activities.directory import store_logo
from activities.partners import get_partner
from models.applications import (
    EvaluationLicenseForm,
    SiApplicationForm,
    VarApplicationForm,
    evaluation_check,
)
from models.contracts import OrderFulfillmentInput, PartnerRecord, Reseller
from models.deals import VAR_TYPE, DealRegistrationForm, DealRegistrationInput
from models.directory import ListingForm, ListingSubmission, LogoError
from models.forms import FormRejected, OrderForm
from models.forms.spec import PROOF_FIELD
from models.order_intake import RegisteredDeal, order_problems
from models.pricing import agreed_discount_percent, list_price_problem
from models.programs import PROGRAMS
from models.settings import Settings

Preparation = Callable[[Any, Settings], Any]


def _refuse(field: str, message: str) -> FormRejected:
    return FormRejected([{"field": field, "message": message}])


def _submission_key(form: DealRegistrationForm) -> str:
    # A form without the (later) industry field keys as it did before the field existed.
    data = form.model_dump(mode="json", exclude={"industry"} if form.industry is None else None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "deal-form:" + hashlib.sha256(canonical.encode()).hexdigest()


def prepare_deal_registration(
    form: DealRegistrationForm, settings: Settings
) -> DealRegistrationInput:
    """Only an active Mattermost Value-Added Reseller registers deals (422 otherwise); the
    deal number is allocated once per submission, so a repeated webhook finds the same one."""
    partner = get_partner(settings, "mattermost", form.partner_id)
    if partner is None:
        raise _refuse(
            "partner_id",
            f"no active Mattermost partner {form.partner_id!r}: it is not in the partner "
            "records of the Mattermost program, and deal registration is for active "
            "Mattermost Value-Added Resellers",
        )
    if partner.program != "mattermost" or partner.partner_type != VAR_TYPE:
        kind = partner.partner_type.replace("_", " ")
        raise _refuse(
            "partner_id",
            f"{partner.company} is a {partner.program} {kind}, not a Mattermost Value-Added "
            "Reseller: deal registration is for Value-Added Resellers",
        )
    if partner.status != "active":
        raise _refuse(
            "partner_id",
            f"no active Mattermost partner {form.partner_id!r}: {partner.company} is "
            f"{partner.status}, not active; only active Value-Added Resellers register deals",
        )
    if problem := list_price_problem(
        form.sku, form.list_unit_price_cents, settings.mattermost_price_list
    ):
        raise _refuse(*problem)
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
        industry=form.industry,
        discount_percent=agreed_discount_percent(
            partner.partner_type, partner.discount_percent, partner.attributes
        ),
        protection_days=int(
            partner.attributes.get("deal_protection_days", settings.deal_protection_days)
        ),
    )


def prepare_application(
    form: VarApplicationForm | SiApplicationForm, settings: Settings
) -> VarApplicationForm | SiApplicationForm:
    """The partner id (given, or the company name as a slug) must not belong to another
    company among the Mattermost partners (VARs and SIs are Mattermost's; a Rocket.Chat
    partner with the same id is another partner): 422 naming `partner_id` otherwise."""
    existing = get_partner(settings, "mattermost", form.resolved_partner_id)
    if existing is not None and existing.company.casefold() != form.company.casefold():
        raise _refuse(
            "partner_id",
            f"Mattermost partner id {form.resolved_partner_id!r} belongs to "
            f"{existing.company}; choose another partner_id",
        )
    return form


def prepare_listing(form: ListingForm, settings: Settings) -> ListingSubmission:
    """Check the logo with Pillow (`models.directory.check_logo`: PNG or JPEG, at least 200 px
    wide, within the byte and pixel limits, readable) and store it; 422 naming `logo_base64`
    with the reason otherwise, and nothing stored. The form's fields and its proof token
    were checked before."""
    try:
        data = base64.b64decode(form.logo_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("logo_base64", "the logo is not valid base64") from exc
    try:
        logo = store_logo(settings, data)
    except LogoError as exc:
        raise _refuse("logo_base64", str(exc)) from exc
    fields = form.model_dump(exclude={"logo_base64", "logo_filename", PROOF_FIELD})
    return ListingSubmission.model_validate({**fields, "logo": logo.model_dump()})


def prepare_evaluation(form: EvaluationLicenseForm, settings: Settings) -> EvaluationLicenseForm:
    """Only active Mattermost Value-Added Resellers and System Integrators (the partner
    records: the seed's certified-reseller database), and only for themselves: the
    organisation name and the contact email's domain must match the partner's record. 422
    naming `partner_id`, or `organization_name` and `contact.email`, with the reason
    otherwise (the workflow checks the record again before it issues the license)."""
    check = evaluation_check(form, get_partner(settings, "mattermost", form.partner_id))
    if check.problems:
        raise FormRejected([problem.model_dump() for problem in check.problems])
    return form


def registered_deal(settings: Settings, deal_number: str) -> RegisteredDeal | None:
    """The deal registration as the records have it, or None."""
    row = get_registration(settings, deal_number)
    if row is None:
        return None
    until = row.protected_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return RegisteredDeal(
        deal_number=row.deal_number,
        partner_id=row.partner_id,
        end_customer_name=row.end_customer_name,
        status=row.status,
        protected_until=until,
        orders=orders_naming(settings, row.deal_number),
    )


def _order_partner(settings: Settings, partner_id: str) -> PartnerRecord | None:
    """The Mattermost partner with this id, else another program's (refused by name)."""
    for program in sorted(PROGRAMS, key=lambda key: key != "mattermost"):
        if (record := get_partner(settings, program, partner_id)) is not None:
            return record
    return None


def prepare_order(form: OrderForm, settings: Settings) -> OrderForm:
    """A public order names an active Mattermost Value-Added Reseller with the training
    completed and local support in place; its discount needs an approved, still protected
    deal registration of that partner for that end customer; each unit price is the price
    list's (`PARTNERFLOW_MATTERMOST_PRICE_LIST`) less the partner's agreed discount. 422
    naming the rule (`type`) and the field otherwise, and nothing starts
    (`models.order_intake`)."""
    order = OrderFulfillmentInput.model_validate(form.model_dump())
    partner_id = order.reseller.partner_id
    partner = _order_partner(settings, partner_id) if partner_id else None
    registration = registered_deal(settings, order.deal_number) if order.deal_number else None
    problems = order_problems(
        order, partner, registration, settings.mattermost_price_list, datetime.now(UTC)
    )
    if problems:
        raise FormRejected(problems)
    return form


PREPARATIONS: dict[str, Preparation] = {
    "order": prepare_order,
    "deal-registration": prepare_deal_registration,
    "var-application": prepare_application,
    "si-application": prepare_application,
    "directory-listing": prepare_listing,
    "evaluation-license": prepare_evaluation,
}
