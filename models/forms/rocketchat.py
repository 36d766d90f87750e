"""The Rocket.Chat forms: `rocketchat-partner` (starts RocketChatOnboarding) and
`monthly-sales-report` (signal mode: advances the running RocketChatPartnership)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ConfigDict, Field

from models.forms.spec import PROOF_FIELD, FormSpec, ProvenForm, money
from models.rocketchat import PARTNER_TYPE_LABELS, SERVICES, RocketChatApplication, SalesReport

PARTNER_EXAMPLE: dict[str, Any] = {
    "partner_id": "porto-chat",
    "company": "Porto Chat Lda",
    "country": "PT",
    "website": "https://portochat.example/",
    "contact": {"name": "Ana Costa", "email": "ana.costa@portochat.example"},
    "partner_type": "technology_provider",
    "services": ["installation", "brand_theming", "integrations"],
    "business_location": "Rua das Flores 12, 4050-262 Porto",
}
_SERVICE_DOC = "; ".join(f"{t}: {', '.join(s)}" for t, s in SERVICES.items())


class RocketChatPartnerForm(RocketChatApplication):
    """Rocket.Chat partner pre-requirements (https://rocket.chat/become-partner)."""

    model_config = ConfigDict(
        title="RocketChatPartnerForm",
        json_schema_extra={
            "examples": [PARTNER_EXAMPLE],
            "description": f"Services per partner type — {_SERVICE_DOC}",
        },
    )


def _partner_details(form: RocketChatPartnerForm) -> str:
    labels = SERVICES[form.partner_type]
    return (
        f"**{form.company}** ({form.country}) — {PARTNER_TYPE_LABELS[form.partner_type]}\n\n"
        f"- **Contact:** {form.contact.name} <{form.contact.email}>\n"
        f"- **Website:** {form.website}\n"
        f"- **Services:** {', '.join(labels[s] for s in form.services)}"
    )


def _fresh_partner(example: dict[str, Any]) -> dict[str, Any]:
    example["partner_id"] = f"partner-{uuid.uuid4().hex[:10]}"
    return example


ROCKETCHAT_PARTNER_FORM = FormSpec(
    name="rocketchat-partner",
    workflow_type="RocketChatOnboarding",
    title="Rocket.Chat partner pre-requirements",
    description=(
        "Step 1 of the Rocket.Chat Partner Program onboarding: company, country, website, "
        "contact, partner type (hosting, technology_provider, value_added) and services; "
        "starts RocketChatOnboarding."
    ),
    model=RocketChatPartnerForm,
    build_workflow_id=lambda form: f"rc-onboarding-{form.partner_id}",
    build_input=lambda form: RocketChatApplication.model_validate(form.model_dump()),
    build_search_attributes=lambda form: {"Program": "rocketchat", "PartnerId": form.partner_id},
    build_summary=lambda form: (
        f"Rocket.Chat onboarding: {form.company} ({PARTNER_TYPE_LABELS[form.partner_type]})"
    ),
    build_details=_partner_details,
    refresh_example=_fresh_partner,
)

REPORT_EXAMPLE: dict[str, Any] = {
    "partner_id": "porto-chat",
    "month": "2026-11",
    "submitted_by": "ana.costa@portochat.example",
    "deals_closed": 2,
    "sales_closed_cents": 1_500_000,
    "prospective_sales": 3,
    "prospective_sales_cents": 2_400_000,
    "hosting_revenue_cents": 0,
    "referred_projects": [{"name": "Clinic chat", "amount_cents": 800_000}],
    "premium_offers": [
        {
            "product": "enterprise_license",
            "description": "Enterprise, 100 users",
            "quantity": 1,
            "list_price_cents": 400_000,
        }
    ],
    "certified_staff": 2,
    "share_statistics": True,
    "projects": [
        {"name": "Clinic chat", "rocketchat_reference": True},
        {"name": "Port authority intranet", "rocketchat_reference": True},
    ],
}


class MonthlySalesReportForm(SalesReport, ProvenForm):
    """A Rocket.Chat partner's monthly sales report (advances `rc-partnership-{partner_id}`)."""

    model_config = ConfigDict(
        title="MonthlySalesReportForm",
        json_schema_extra={
            "examples": [
                {
                    **REPORT_EXAMPLE,
                    PROOF_FIELD: "<the proof token of the email that asks for the report>",
                }
            ]
        },
    )

    partner_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")


def _report_details(form: MonthlySalesReportForm) -> str:
    return (
        f"Sales report {form.month} of {form.partner_id}: {form.deals_closed} deal(s), "
        f"{money(form.sales_closed_cents)}"
    )


MONTHLY_SALES_REPORT_FORM = FormSpec(
    name="monthly-sales-report",
    workflow_type="RocketChatPartnership",
    title="Rocket.Chat monthly sales report",
    description=(
        "The partner's monthly sales report (sales closed, prospective sales, hosting "
        "revenue, referred projects, premium offers, share statistics, and optionally the "
        "month's projects with whether each names Rocket.Chat as a reference): signals "
        "submit_sales_report to the running RocketChatPartnership. Proof of the sender: "
        "`proof_token`, the token printed in the email that asks for the month's report."
    ),
    model=MonthlySalesReportForm,
    build_workflow_id=lambda form: f"rc-partnership-{form.partner_id}",
    build_input=lambda form: SalesReport.model_validate(
        form.model_dump(exclude={"partner_id", PROOF_FIELD})
    ),
    build_search_attributes=lambda form: {"Program": "rocketchat", "PartnerId": form.partner_id},
    build_summary=_report_details,
    build_details=_report_details,
    refresh_example=lambda example: example,
    signal="submit_sales_report",
    proof_purposes=("form:monthly-sales-report",),
    proof_emails=r"rc-partnership-\S+ report:\d{4}-\d{2}:(request|reminder|escalation)",
)

ROCKETCHAT_FORMS = [ROCKETCHAT_PARTNER_FORM, MONTHLY_SALES_REPORT_FORM]
