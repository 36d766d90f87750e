"""The forms of the Mattermost partner lifecycle (issue 4): VAR and System Integrator
applications, the directory listing (advances `directory-{partner_id}`), and the Partner
Evaluation License trial form. Registered in `models.forms.FORMS`."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from models.applications import (
    EvaluationLicenseForm,
    EvaluationLicenseInput,
    SiApplicationForm,
    VarApplicationForm,
    evaluation_refusal,
    fresh_application,
)
from models.directory import ListingForm, ListingSubmission, LogoError, fresh_listing
from models.form_spec import FormRejected, FormSpec

# --- applications ----------------------------------------------------------------------------------


def _application_attributes(form: VarApplicationForm | SiApplicationForm) -> dict[str, str]:
    return {"Program": "mattermost", "PartnerId": form.resolved_partner_id}


def _var_details(form: VarApplicationForm) -> str:
    return (
        f"**Value-Added Reseller application {form.application_id}**\n\n"
        f"- **Company:** {form.company} ({form.city}, {form.country}), founded {form.founded_on.isoformat()}, {form.website}\n"
        f"- **Contact:** {form.contact.name} <{form.contact.email}>\n"
        f"- **Existing customer asking to buy through resale:** {form.existing_customer or '—'}\n"
        f"- **Support languages:** first tier {', '.join(form.first_tier_support_languages)}; second tier {', '.join(form.second_tier_support_languages)}\n"
        f"- **Territory sought:** {', '.join(form.territory)}; **industries:** {', '.join(form.industries)}"
    )


def prepare_application(
    form: VarApplicationForm | SiApplicationForm, settings: Any
) -> VarApplicationForm | SiApplicationForm:
    """The partner id (given, or the company name as a slug) must not belong to another
    company in the partner records: 422 naming `partner_id` otherwise."""
    from activities.partners import get_partner

    existing = get_partner(settings, form.resolved_partner_id)
    if existing is not None and existing.company.casefold() != form.company.casefold():
        raise FormRejected(
            [
                {
                    "field": "partner_id",
                    "message": f"partner id {form.resolved_partner_id!r} belongs to {existing.company}; choose another partner_id",
                }
            ]
        )
    return form


VAR_APPLICATION_FORM = FormSpec(
    name="var-application",
    workflow_type="VarApplication",
    title="Mattermost Value-Added Reseller application",
    description="The contact form to become a Mattermost Value-Added Reseller: starts VarApplication (pre-screen, review within 1–2 weeks, non-exclusive reseller agreement, Sales Manager, training and local support).",
    model=VarApplicationForm,
    build_workflow_id=lambda form: f"var-application-{form.application_id}",
    build_input=lambda form: form,
    build_search_attributes=_application_attributes,
    build_summary=lambda form: (
        f"VAR application {form.application_id}: {form.company} ({form.country}), territory {', '.join(form.territory)}"
    ),
    build_details=_var_details,
    refresh_example=fresh_application,
    prepare=prepare_application,
)

SI_APPLICATION_FORM = FormSpec(
    name="si-application",
    workflow_type="SystemIntegratorApplication",
    title="Mattermost System Integrators Partner Program application",
    description="The contact form to become a Mattermost System Integrators partner: starts SystemIntegratorApplication (discussion, decision, partner benefits tracked to done).",
    model=SiApplicationForm,
    build_workflow_id=lambda form: f"si-application-{form.application_id}",
    build_input=lambda form: form,
    build_search_attributes=_application_attributes,
    build_summary=lambda form: (
        f"SI application {form.application_id}: {form.company} ({form.country})"
    ),
    build_details=lambda form: (
        f"**System Integrator application {form.application_id}**\n\n- **Company:** {form.company} ({form.city}, {form.country}), {form.website}, {form.organization_type.replace('_', ' ')}\n- **Contact:** {form.contact.name} <{form.contact.email}>\n- **Expertise:** {form.expertise}"
    ),
    refresh_example=fresh_application,
    prepare=prepare_application,
)


# --- directory listing (advances the running DirectoryListing) ------------------------------------


def prepare_listing(form: ListingForm, settings: Any) -> ListingSubmission:
    """Check the logo with Pillow (an image, at least 200 px wide) and store it; 422 naming
    `logo_base64` otherwise."""
    from activities.directory import store_logo

    try:
        data = base64.b64decode(form.logo_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormRejected(
            [{"field": "logo_base64", "message": "the logo is not valid base64"}]
        ) from exc
    try:
        logo = store_logo(settings, data)
    except LogoError as exc:
        raise FormRejected([{"field": "logo_base64", "message": str(exc)}]) from exc
    fields = form.model_dump(exclude={"logo_base64", "logo_filename"})
    return ListingSubmission.model_validate({**fields, "logo": logo.model_dump()})


DIRECTORY_LISTING_FORM = FormSpec(
    name="directory-listing",
    workflow_type="DirectoryListing",
    title="Mattermost partner directory listing",
    description="A partner's listing for the public partner directory (name, 30–100-word description, city, state/province, country, website, logo at least 200 px wide, base64): advances the running DirectoryListing `directory-{partner_id}` (signal `submit_listing`).",
    model=ListingForm,
    build_workflow_id=lambda form: f"directory-{form.partner_id}",
    build_input=lambda form: form,
    build_search_attributes=lambda form: {"Program": "mattermost", "PartnerId": form.partner_id},
    build_summary=lambda form: f"Directory listing of {form.name} ({form.partner_id})",
    build_details=lambda form: (
        f"**Directory listing** of {form.name} ({form.city}, {form.country}), {form.website}"
    ),
    refresh_example=fresh_listing,
    signal="submit_listing",
    prepare=prepare_listing,
)


# --- Partner Evaluation License ----------------------------------------------------------------


def prepare_evaluation(form: EvaluationLicenseForm, settings: Any) -> EvaluationLicenseForm:
    """Only active Mattermost Value-Added Resellers and System Integrators (the partner
    records: the seed's certified-reseller database); 422 naming `partner_id` otherwise."""
    from activities.partners import get_partner

    if refusal := evaluation_refusal(get_partner(settings, form.partner_id), form.partner_id):
        raise FormRejected([{"field": "partner_id", "message": refusal}])
    return form


def _fresh_evaluation(example: dict[str, Any]) -> dict[str, Any]:
    # The business key is the partner: an evaluation license runs once per partner (renewed
    # yearly). The example names the demo partner, which must be an active VAR or SI.
    return example


EVALUATION_LICENSE_FORM = FormSpec(
    name="evaluation-license",
    workflow_type="EvaluationLicense",
    title="Mattermost Partner Evaluation License (trial form)",
    description="A Value-Added Reseller's or System Integrator's request for the renewable one-year Enterprise evaluation license for up to 50 users: organisation name ending with [RESELLER], 'Where are you with Mattermost' = Other; starts EvaluationLicense `eval-license-{partner_id}`.",
    model=EvaluationLicenseForm,
    build_workflow_id=lambda form: f"eval-license-{form.partner_id}",
    build_input=lambda form: EvaluationLicenseInput(form=form),
    build_search_attributes=lambda form: {"Program": "mattermost", "PartnerId": form.partner_id},
    build_summary=lambda form: (
        f"Evaluation license for {form.company} ({form.partner_id}), 50 users"
    ),
    build_details=lambda form: (
        f"**Partner Evaluation License** for {form.organization_name} ({form.partner_id})\n\n- **Contact:** {form.contact.name} <{form.contact.email}>\n- Mattermost Enterprise, 50 users, one year, renewable"
    ),
    refresh_example=_fresh_evaluation,
    prepare=prepare_evaluation,
)

LIFECYCLE_FORMS = [
    VAR_APPLICATION_FORM,
    SI_APPLICATION_FORM,
    DIRECTORY_LISTING_FORM,
    EVALUATION_LICENSE_FORM,
]
