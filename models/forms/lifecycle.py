"""The forms of the Mattermost partner lifecycle: VAR and System Integrator applications,
the directory listing (advances `directory-{partner_id}`), and the Partner Evaluation
License trial form. Registered in `models.forms.FORMS`.

The checks against the partner records (the partner id is free, the partner is active)
and storing the listing's logo belong to the intake layer (`starters/form_preparation.py`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from models.applications import (
    EvaluationLicenseForm,
    EvaluationLicenseInput,
    SiApplicationForm,
    VarApplicationForm,
    fresh_application,
)
from models.directory import (
    ALLOWED_LOGOS,
    LISTING_EXAMPLE,
    LISTING_FORM_MAX_BYTES,
    MAX_LOGO_BYTES,
    MIN_LOGO_WIDTH,
    ListingForm,
    fresh_listing,
)
from models.forms.spec import PROOF_FIELD, FormSpec, ProvenForm

# --- applications ------------------------------------------------------------------------------


def _application_attributes(form: VarApplicationForm | SiApplicationForm) -> dict[str, str]:
    return {"Program": "mattermost", "PartnerId": form.resolved_partner_id}


def _var_details(form: VarApplicationForm) -> str:
    first_tier = ", ".join(form.first_tier_support_languages)
    second_tier = ", ".join(form.second_tier_support_languages)
    return (
        f"**Value-Added Reseller application {form.application_id}**\n\n"
        f"- **Company:** {form.company} ({form.city}, {form.country}), "
        f"founded {form.founded_on.isoformat()}, {form.website}\n"
        f"- **Contact:** {form.contact.name} <{form.contact.email}>\n"
        "- **Existing customer asking to buy through resale:** "
        f"{form.existing_customer or '—'}\n"
        f"- **Support languages:** first tier {first_tier}; second tier {second_tier}\n"
        f"- **Territory sought:** {', '.join(form.territory)}; "
        f"**industries:** {', '.join(form.industries)}"
    )


def _si_details(form: SiApplicationForm) -> str:
    return (
        f"**System Integrator application {form.application_id}**\n\n"
        f"- **Company:** {form.company} ({form.city}, {form.country}), {form.website}, "
        f"{form.organization_type.replace('_', ' ')}\n"
        f"- **Contact:** {form.contact.name} <{form.contact.email}>\n"
        f"- **Expertise:** {form.expertise}"
    )


VAR_APPLICATION_FORM = FormSpec(
    name="var-application",
    workflow_type="VarApplication",
    title="Mattermost Value-Added Reseller application",
    description=(
        "The contact form to become a Mattermost Value-Added Reseller: starts VarApplication "
        "(pre-screen, review within 1–2 weeks, non-exclusive reseller agreement, Sales "
        "Manager, training and local support)."
    ),
    model=VarApplicationForm,
    build_workflow_id=lambda form: f"var-application-{form.application_id}",
    build_input=lambda form: form,
    build_search_attributes=_application_attributes,
    build_summary=lambda form: (
        f"VAR application {form.application_id}: {form.company} ({form.country}), "
        f"territory {', '.join(form.territory)}"
    ),
    build_details=_var_details,
    refresh_example=fresh_application,
)

SI_APPLICATION_FORM = FormSpec(
    name="si-application",
    workflow_type="SystemIntegratorApplication",
    title="Mattermost System Integrators Partner Program application",
    description=(
        "The contact form to become a Mattermost System Integrators partner: starts "
        "SystemIntegratorApplication (discussion, decision, partner benefits tracked to done)."
    ),
    model=SiApplicationForm,
    build_workflow_id=lambda form: f"si-application-{form.application_id}",
    build_input=lambda form: form,
    build_search_attributes=_application_attributes,
    build_summary=lambda form: (
        f"SI application {form.application_id}: {form.company} ({form.country})"
    ),
    build_details=_si_details,
    refresh_example=fresh_application,
)


# --- directory listing (advances the running DirectoryListing) ---------------------------------


class DirectoryListingForm(ListingForm, ProvenForm):
    """The `directory-listing` webhook form, proven by the token of the listing link."""

    model_config = ConfigDict(
        title="ListingForm",
        json_schema_extra={
            "examples": [
                {
                    **LISTING_EXAMPLE,
                    PROOF_FIELD: "<the token at the end of the /listing/ link in the email>",
                }
            ]
        },
    )


DIRECTORY_LISTING_FORM = FormSpec(
    name="directory-listing",
    workflow_type="DirectoryListing",
    title="Mattermost partner directory listing",
    description=(
        "A partner's listing for the public partner directory (name, 30–100-word "
        f"description, city, state/province, country, website, logo: {ALLOWED_LOGOS}, at "
        f"least {MIN_LOGO_WIDTH} px wide, at most {MAX_LOGO_BYTES:,} bytes, base64; the body "
        f"at most {LISTING_FORM_MAX_BYTES:,} bytes): advances the running DirectoryListing "
        "`directory-{partner_id}` "
        "(signal `submit_listing`). Proof of the sender: `proof_token`, the token at the end "
        "of the `/listing/{token}` link emailed to the partner."
    ),
    model=DirectoryListingForm,
    build_workflow_id=lambda form: f"directory-{form.partner_id}",
    build_input=lambda form: form,
    build_search_attributes=lambda form: {"Program": "mattermost", "PartnerId": form.partner_id},
    build_summary=lambda form: f"Directory listing of {form.name} ({form.partner_id})",
    build_details=lambda form: (
        f"**Directory listing** of {form.name} ({form.city}, {form.country}), {form.website}"
    ),
    refresh_example=fresh_listing,
    signal="submit_listing",
    proof_purposes=("directory_listing",),
    proof_emails=r"directory-\S+ listing:(request|\d+:changes|\d+:reminder:\d+)",
    max_body_bytes=LISTING_FORM_MAX_BYTES,
)


# --- Partner Evaluation License ----------------------------------------------------------------


def _fresh_evaluation(example: dict[str, Any]) -> dict[str, Any]:
    # The business key is the partner: an evaluation license runs once per partner (renewed
    # yearly; asked again after a refusal or rejection). The example names the demo partner,
    # which must be an active VAR or SI with this organisation name and a domain of the
    # contact email (the var-application example's website).
    return example


def _evaluation_details(form: EvaluationLicenseForm) -> str:
    return (
        f"**Partner Evaluation License** for {form.organization_name} ({form.partner_id})\n\n"
        f"- **Contact:** {form.contact.name} <{form.contact.email}>\n"
        "- Mattermost Enterprise, 50 users, one year, renewable"
    )


EVALUATION_LICENSE_FORM = FormSpec(
    name="evaluation-license",
    workflow_type="EvaluationLicense",
    title="Mattermost Partner Evaluation License (trial form)",
    description=(
        "A Value-Added Reseller's or System Integrator's request for the renewable one-year "
        "Enterprise evaluation license for up to 50 users: organisation name ending with "
        "[RESELLER], 'Where are you with Mattermost' = Other; starts EvaluationLicense "
        "`eval-license-{partner_id}`. The request must match the partner record of "
        "`partner_id` (an active VAR or SI): `organization_name` is its organisation name "
        "(case, punctuation and legal forms such as GmbH, Ltd, Inc, LLC, S.A. aside) and "
        "`contact.email` is at its domain (its registered contact email's or its website's, "
        "or a subdomain), else 422 naming the field and why; the workflow checks the record "
        "again when it starts and before it issues. A refused or rejected request may be sent "
        "again (a new run); while a request runs, or once a license was issued, the same "
        "request answers 200 and another one 409."
    ),
    model=EvaluationLicenseForm,
    build_workflow_id=lambda form: f"eval-license-{form.partner_id}",
    build_input=lambda form: EvaluationLicenseInput(form=form),
    build_search_attributes=lambda form: {"Program": "mattermost", "PartnerId": form.partner_id},
    build_summary=lambda form: (
        f"Evaluation license for {form.company} ({form.partner_id}), 50 users"
    ),
    build_details=_evaluation_details,
    refresh_example=_fresh_evaluation,
    reusable_after=("refused", "rejected"),
)

LIFECYCLE_FORMS = [
    VAR_APPLICATION_FORM,
    SI_APPLICATION_FORM,
    DIRECTORY_LISTING_FORM,
    EVALUATION_LICENSE_FORM,
]
