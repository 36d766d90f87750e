"""The deal registration form's optional end-customer industry reaches the workflow input;
a submission without it keys (one deal number per submission) as before the field existed."""

from __future__ import annotations

import hashlib
import json

from temporalio.testing import ActivityEnvironment

from activities.partners import PartnerActivities
from models.deals import DealRegistrationForm
from models.forms.sales import DEAL_REGISTRATION_FORM
from models.settings import Settings
from starters.form_preparation import _submission_key, prepare_deal_registration
from tests.factories import partner_record


def test_the_industry_reaches_the_workflow_input(settings: Settings) -> None:
    ActivityEnvironment().run(
        PartnerActivities(settings).upsert_partner, partner_record("p-industry")
    )
    example = {**DEAL_REGISTRATION_FORM.fresh_example(), "partner_id": "p-industry"}
    with_industry = DealRegistrationForm.model_validate({**example, "industry": "public sector"})
    assert prepare_deal_registration(with_industry, settings).industry == "public sector"
    assert (
        prepare_deal_registration(DealRegistrationForm.model_validate(example), settings).industry
        is None
    )


def test_a_form_without_an_industry_keys_as_before() -> None:
    form = DealRegistrationForm.model_validate(DEAL_REGISTRATION_FORM.fresh_example())
    before = form.model_dump(mode="json", exclude={"industry"})  # the form's fields until now
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert _submission_key(form) == "deal-form:" + hashlib.sha256(canonical.encode()).hexdigest()
    other = form.model_copy(update={"industry": "retail"})
    assert _submission_key(other) != _submission_key(form)
