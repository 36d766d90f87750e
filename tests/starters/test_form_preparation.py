"""Form preparation at intake: a deal registration only for active VARs, one number per
submission; an evaluation license only for the partner itself (organisation name, contact
email domain)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.partners import PartnerActivities, get_partner, list_partners
from models.applications import EVALUATION_EXAMPLE, EvaluationLicenseForm
from models.deals import DealRegistrationForm
from models.forms import FormRejected
from models.forms.sales import DEAL_REGISTRATION_FORM
from models.settings import Settings
from starters.form_preparation import PREPARATIONS, prepare_deal_registration, prepare_evaluation
from tests.factories import partner_record


def seed(settings: Settings, partner_id: str, **changes: Any) -> None:
    ActivityEnvironment().run(
        PartnerActivities(settings).upsert_partner, partner_record(partner_id, **changes)
    )


def form(**changes: Any) -> DealRegistrationForm:
    return DealRegistrationForm.model_validate(
        {**DEAL_REGISTRATION_FORM.fresh_example(), **changes}
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "suspended"}, "is suspended, not active"),
        ({"partner_type": "system_integrator"}, "not a Mattermost Value-Added Reseller"),
        (  # partners are per program: Rocket.Chat's p1 is not a Mattermost partner
            {"program": "rocketchat", "partner_type": "value_added"},
            "no active Mattermost partner 'p1'",
        ),
    ],
)
def test_only_active_value_added_resellers_register_deals(
    settings: Settings, changes: dict[str, Any], message: str
) -> None:
    seed(settings, "p1", **changes)
    with pytest.raises(FormRejected) as refused:
        prepare_deal_registration(form(partner_id="p1"), settings)
    assert (
        refused.value.errors[0]["field"] == "partner_id"
        and message in refused.value.errors[0]["message"]
    )


def test_a_rocketchat_partner_with_the_same_id_leaves_the_mattermost_var_alone(
    settings: Settings,
) -> None:
    """The same slug in both programs is two partners: a Rocket.Chat onboarding recorded
    after the VAR neither replaces its record nor stops its deal registrations."""
    seed(settings, "p1")
    later = datetime.now(UTC)
    seed(settings, "p1", program="rocketchat", partner_type="hosting", status="applicant", at=later)
    prepared = prepare_deal_registration(form(partner_id="p1"), settings)
    assert prepared.partner.partner_id == "p1"
    mattermost = get_partner(settings, "mattermost", "p1")
    rocketchat = get_partner(settings, "rocketchat", "p1")
    assert mattermost is not None and rocketchat is not None
    assert (mattermost.partner_type, mattermost.status) == ("value_added_reseller", "active")
    assert (rocketchat.partner_type, rocketchat.status) == ("hosting", "applicant")
    assert [(p.program, p.partner_id) for p in list_partners(settings, program="rocketchat")] == [
        ("rocketchat", "p1")
    ]


def test_unknown_partner_is_refused(settings: Settings) -> None:
    with pytest.raises(FormRejected, match="not in the partner records"):
        prepare_deal_registration(form(partner_id="nobody"), settings)


def test_a_var_approved_before_agreed_discounts_registers_at_its_signed_20_percent(
    settings: Settings,
) -> None:
    seed(settings, "p0", discount_percent=0)
    assert prepare_deal_registration(form(partner_id="p0"), settings).discount_percent == 20


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"list_unit_price_cents": 9_000}, "list_unit_price_cents", ["12000", "9000"]),
        ({"sku": "MM-PRO-1Y"}, "sku", ["MM-PRO-1Y", "MM-ENT-1Y"]),
    ],
)
def test_a_deal_is_registered_at_the_price_list(
    settings: Settings, changes: dict[str, Any], field: str, named: list[str]
) -> None:
    seed(settings, "p2")
    with pytest.raises(FormRejected) as refused:
        prepare_deal_registration(form(partner_id="p2", **changes), settings)
    [problem] = refused.value.errors
    assert problem["field"] == field and all(n in problem["message"] for n in named)


def test_prepared_input_carries_the_number_and_the_agreed_discount(settings: Settings) -> None:
    seed(settings, "p1", discount_percent=30)
    submission = form(partner_id="p1")
    prepared = prepare_deal_registration(submission, settings)
    assert prepared.deal_number.startswith(f"DR-{datetime.now(UTC).year}-")
    assert (
        prepared.discount_percent == 30
        and prepared.partner.company == "Nordlicht IT-Systemhaus GmbH"
    )
    assert prepare_deal_registration(submission, settings).deal_number == prepared.deal_number
    assert DEAL_REGISTRATION_FORM.workflow_id(prepared) == f"deal-{prepared.deal_number}"
    assert DEAL_REGISTRATION_FORM.search_attributes(prepared)["DealNumber"] == prepared.deal_number


def test_protection_window_is_the_program_setting_unless_the_partner_has_one(
    settings: Settings,
) -> None:
    seed(settings, "p1")
    seed(settings, "p2", attributes={"deal_protection_days": 60})
    configured = settings.model_copy(update={"deal_protection_days": 30})
    assert prepare_deal_registration(form(partner_id="p1"), configured).protection_days == 30
    assert prepare_deal_registration(form(partner_id="p1"), settings).protection_days == 90
    assert prepare_deal_registration(form(partner_id="p2"), configured).protection_days == 60


def test_concurrent_submissions_through_prepare(settings: Settings) -> None:
    seed(settings, "p1")
    forms = [form(partner_id="p1") for _ in range(10)]
    with ThreadPoolExecutor(10) as pool:
        numbers = list(
            pool.map(lambda f: prepare_deal_registration(f, settings).deal_number, forms + forms)
        )
    assert numbers[:10] == numbers[10:] and len(set(numbers)) == 10


def test_the_deal_registration_form_is_prepared_at_intake() -> None:
    assert PREPARATIONS["deal-registration"] is prepare_deal_registration


def evaluation(**changes: Any) -> EvaluationLicenseForm:
    return EvaluationLicenseForm.model_validate(
        {
            **EVALUATION_EXAMPLE,
            "partner_id": "p1",
            "contact": {"name": "Lena", "email": "lena@nordlicht.de"},
            **changes,
        }
    )


def test_evaluation_request_must_be_the_partners_own(settings: Settings) -> None:
    seed(settings, "p1", website="https://www.nordlicht.de", contact_email="lena@nordlicht.de")
    with pytest.raises(FormRejected) as refused:
        prepare_evaluation(evaluation(organization_name="Example Ltd [RESELLER]"), settings)
    assert [e["field"] for e in refused.value.errors] == ["organization_name"]
    assert (
        "not the partner's organisation name on record (Nordlicht IT-Systemhaus GmbH)"
        in (refused.value.errors[0]["message"])
    )
    with pytest.raises(FormRejected) as refused:
        prepare_evaluation(evaluation(contact={"name": "M", "email": "m@example.org"}), settings)
    assert refused.value.errors == [
        {
            "field": "contact.email",
            "message": "the domain example.org is not one of the partner's domains (nordlicht.de)",
        }
    ]
    matching = evaluation(
        organization_name="NORDLICHT IT Systemhaus G.m.b.H. [RESELLER]",
        contact={"name": "Jonas", "email": "jonas@sales.nordlicht.de"},
    )
    assert prepare_evaluation(matching, settings) is matching


def test_evaluation_partner_checks_come_first(settings: Settings) -> None:
    seed(settings, "p1", status="suspended")
    with pytest.raises(FormRejected) as refused:
        prepare_evaluation(evaluation(organization_name="Other Ltd [RESELLER]"), settings)
    assert [e["field"] for e in refused.value.errors] == ["partner_id"]
    assert PREPARATIONS["evaluation-license"] is prepare_evaluation
