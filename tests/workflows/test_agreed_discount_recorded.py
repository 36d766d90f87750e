"""The discount a reviewer agrees at a VAR approval is the one its deals get, whatever it is
(issue 13: no invented figures). A record without an agreed rate is read as a partner approved
before rates were agreed one by one, who signed "a discount of 20%"
(`models.pricing.agreed_discount_percent`); so every approval records its rate, and an agreed
0% (allowed when the program's lower bound is 0) stays 0% at the deal registration's intake."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.partners import get_partner
from models.deals import DealRegistrationForm
from models.forms import FORMS
from models.settings import Settings
from starters.form_preparation import prepare_deal_registration
from tests.workflows.harness import workflow_harness
from tests.workflows.test_var_application import application, start


@pytest.mark.parametrize("agreed", [0, 25])
async def test_the_agreed_discount_is_the_deals_even_zero(
    time_skipping_env: WorkflowEnvironment, settings: Settings, agreed: int
) -> None:
    settings = settings.model_copy(update={"mattermost_discount_min_percent": 0})
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        review = await h.task(handle, "review_application")
        await handle.signal("review_application", {**review["example"], "discount_percent": agreed})
        for task in ("sign_var_agreement", "assign_sales_manager"):
            await h.complete(handle, task)
        for task in ("confirm_training", "confirm_local_support"):
            await h.complete(handle, task)
        assert (await handle.result())["outcome"] == "active"

        record = get_partner(settings, "mattermost", app.resolved_partner_id)
        assert record is not None and record.discount_percent == agreed
        form = DealRegistrationForm.model_validate(
            {**FORMS["deal-registration"].fresh_example(), "partner_id": app.resolved_partner_id}
        )
        assert prepare_deal_registration(form, settings).discount_percent == agreed
