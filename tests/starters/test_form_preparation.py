"""The deal-registration form's preparation at intake: only active VARs, one number per
submission."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

from activities.partners import PartnerActivities
from models.deals import DealRegistrationForm
from models.forms import FormRejected
from models.forms.sales import DEAL_REGISTRATION_FORM
from models.settings import Settings
from starters.form_preparation import PREPARATIONS, prepare_deal_registration


def seed(settings: Settings, partner_id: str, **changes: Any) -> None:
    from models.contracts import PartnerRecord

    data: dict[str, Any] = {
        "partner_id": partner_id,
        "program": "mattermost",
        "partner_type": "value_added_reseller",
        "company": "Nordlicht IT-Systemhaus GmbH",
        "country": "DE",
        "contact_name": "Lena Hoffmann",
        "contact_email": "lena@nordlicht-it.example",
        "status": "active",
        "at": datetime.now(UTC),
    }
    ActivityEnvironment().run(
        PartnerActivities(settings).upsert_partner, PartnerRecord(**{**data, **changes})
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
        (
            {"program": "rocketchat", "partner_type": "value_added"},
            "not a Mattermost Value-Added Reseller",
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


def test_unknown_partner_is_refused(settings: Settings) -> None:
    with pytest.raises(FormRejected, match="not in the partner records"):
        prepare_deal_registration(form(partner_id="nobody"), settings)


def test_prepared_input_carries_the_number_and_the_tier_discount(settings: Settings) -> None:
    seed(settings, "p1", attributes={"tier": "platinum"})
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
