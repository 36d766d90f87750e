"""VarApplication on the time-skipping server: pre-screen criteria failing one by one, the
review SLA (reminder at one week, escalation at two), the information loop, the agreement
signing, enablement, the active VAR record and the DirectoryListing it starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.agreements import get_agreement
from activities.partners import get_partner
from models.applications import VAR_APPLICATION_EXAMPLE, VarApplicationForm
from models.settings import Settings
from tests.workflows.harness import Harness, uid, workflow_harness


def application(**changes: Any) -> VarApplicationForm:
    suffix = uid()
    data = {
        **VAR_APPLICATION_EXAMPLE,
        "application_id": f"VAR-{suffix}",
        "partner_id": f"nordlicht-{suffix}",
        **changes,
    }
    return VarApplicationForm.model_validate(data)


async def start(h: Harness, app: VarApplicationForm) -> Any:
    return await h.start("VarApplication", app, f"var-application-{app.application_id}")


async def test_happy_path_makes_an_active_var_and_starts_its_directory_listing(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        review = await h.task(handle, "review_application")
        assert (
            review["assignee"] == "partner_manager"
            and "existing_customer: ok" in review["description"]
        )
        status = await handle.query("status")
        assert [c["passed"] for c in status["facts"]["criteria"]] == [True] * 4
        assert "CLDR" in status["facts"]["language_data"]
        assert (
            review["example"]["discount_percent"] == 20
            and "between 10% and 30%" in (review["description"])
        )
        await handle.signal(
            "review_application",
            {**review["example"], "territory": ["DE", "AT"], "discount_percent": 25},
        )  # narrower than sought; the agreed discount
        sign = await h.complete(handle, "sign_var_agreement")
        agreement = get_agreement(settings, sign["example"]["agreement_id"])
        assert (
            agreement is not None
            and agreement.title == "Mattermost Value-Added Reseller Agreement (non-exclusive)"
        )
        assert (
            "- Austria (AT)" in agreement.text
            and "Switzerland" not in agreement.text
            and "non-exclusive" in agreement.text
            and "discount of 25% off Mattermost Enterprise list prices" in agreement.text
        )
        await h.complete(handle, "assign_sales_manager")
        listing = h.handle(f"directory-{app.partner_id}")
        assert (await h.task(listing, "submit_listing"))["assignee"] == "partner"
        partner = get_partner(settings, "mattermost", app.resolved_partner_id)
        assert partner is not None and partner.status == "applicant"
        await h.complete(handle, "confirm_training")
        await h.complete(handle, "confirm_local_support")
        result = await handle.result()
        assert result["outcome"] == "active"
        partner = get_partner(settings, "mattermost", app.resolved_partner_id)
        assert partner is not None
        assert (
            partner.program,
            partner.partner_type,
            partner.status,
            partner.discount_percent,
        ) == ("mattermost", "value_added_reseller", "active", 25)
        assert (
            partner.attributes["territory"] == ["DE", "AT"]
            and partner.attributes["sales_manager"]["email"] == "sam.rivera@mattermost.com"
        )
        assert (
            partner.attributes["training_completed_at"] == "2026-12-01"
            and partner.attributes["industries"]
        )
        steps = h.email_steps(handle.id)
        assert "sign_var_agreement:request" in steps and "partner:welcome" in steps
        assert "listing:request" in h.email_steps(listing.id)


@pytest.mark.parametrize(
    ("changes", "criterion", "outcome"),
    [
        ({"existing_customer": None}, "existing_customer", "declined"),
        ({"founded_on": "one year before the review"}, "operating_history", "declined"),
        (
            {
                "country": "FR",
                "first_tier_support_languages": ["en"],
                "second_tier_support_languages": ["en"],
            },
            "local_language_support",
            "declined",
        ),
        (
            {
                "country": "CU",
                "first_tier_support_languages": ["es"],
                "second_tier_support_languages": ["es"],
            },
            "embargo",
            "embargoed",
        ),
    ],
)
async def test_each_failing_criterion_declines_with_its_evidence(
    time_skipping_env: WorkflowEnvironment,
    settings: Settings,
    changes: dict[str, Any],
    criterion: str,
    outcome: str,
) -> None:
    if changes.get("founded_on"):  # the module's test server has skipped ahead: use its clock
        now = await time_skipping_env.get_current_time()
        changes = {"founded_on": (now.date() - timedelta(days=400)).isoformat()}
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, application(**changes))
        result = await handle.result()
        assert result["outcome"] == outcome
        criteria = {c["name"]: c for c in (await handle.query("status"))["facts"]["criteria"]}
        assert [name for name, c in criteria.items() if not c["passed"]] == [criterion]
        assert criteria[criterion]["evidence"] in result["reason"]
        assert h.email_steps(handle.id) == ["application:declined"]


async def test_english_speaking_country_needs_no_local_language(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(
            h,
            application(
                country="IE",
                first_tier_support_languages=["en"],
                second_tier_support_languages=["en"],
            ),
        )
        await h.task(handle, "review_application")
        criteria = {c["name"]: c for c in (await handle.query("status"))["facts"]["criteria"]}
        assert (
            criteria["local_language_support"]["passed"]
            and "English-speaking" in criteria["local_language_support"]["evidence"]
        )


async def test_review_is_reminded_at_one_week_and_escalated_at_two(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, application())
        await h.task(handle, "review_application")
        await time_skipping_env.sleep(timedelta(days=9))
        # Skipped time does not wait for the email activity the timer started: poll for it.
        steps = await h.emailed(handle.id, "review_application:1:reminder:1")
        assert (
            "review_application:1:reminder:1" in steps
            and "review_application:1:escalation" not in steps
        )
        await time_skipping_env.sleep(timedelta(days=9))
        assert "review_application:1:escalation" in await h.emailed(
            handle.id, "review_application:1:escalation"
        )
        status = await handle.query("status")
        assert status["pending_tasks"][0]["escalated"] is True
        described = await handle.describe()
        assert described.typed_search_attributes is not None


async def test_information_loop_then_rejection(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, application())
        await h.task(handle, "review_application")
        await handle.signal(
            "review_application",
            {"reviewer": "pm@mattermost.com", "decision": "request_information"},
        )  # no questions
        await handle.signal(
            "review_application",
            {
                "reviewer": "pm@mattermost.com",
                "decision": "request_information",
                "questions": "Which customers in Austria?",
            },
        )
        info = await h.task(handle, "provide_information")
        assert info["assignee"] == "partner" and "Austria" in info["description"]
        await handle.signal(
            "provide_information", {"answers": "Stadt Wien", "provided_by": "lena@example.com"}
        )
        second = await h.task(handle, "review_application")
        assert "round 2" in second["description"]
        await handle.signal(
            "review_application",
            {
                "reviewer": "pm@mattermost.com",
                "decision": "reject",
                "reason": "Territory already covered",
            },
        )
        result = await handle.result()
        assert result["outcome"] == "rejected" and result["reason"] == "Territory already covered"
        status = await handle.query("status")
        assert status["facts"]["information"] == [
            {"questions": "Which customers in Austria?", "answers": "Stadt Wien"}
        ]
        rejected = [e for e in status["history"] if e["event"] == "rejected"]
        assert rejected and rejected[0]["detail"]["reason"] == "invalid input"
        assert {"information:1:request", "application:rejected"} <= set(h.email_steps(handle.id))


async def test_unanswered_information_request_ends_the_application(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, application())
        await h.task(handle, "review_application")
        await handle.signal(
            "review_application",
            {
                "reviewer": "pm@mattermost.com",
                "decision": "request_information",
                "questions": "References?",
            },
        )
        await h.task(handle, "provide_information")
        result = await handle.result()
        assert result["outcome"] == "rejected"
        steps = h.email_steps(handle.id)
        assert {"information:1:reminder:1", "information:1:reminder:2"} <= set(steps)


async def test_unsigned_agreement_expires(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        await h.complete(handle, "review_application")
        await h.task(handle, "sign_var_agreement")
        result = await handle.result()
        assert result["outcome"] == "agreement_expired"
        assert get_partner(settings, "mattermost", app.resolved_partner_id) is None


async def test_the_agreed_discount_goes_into_the_agreement_and_the_partner_record(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    """The reviewer agrees the discount at the approval, within the program's bounds (10–30%
    by default); the agreement text, the partner record and the welcome show that value."""
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        review = await h.task(handle, "review_application")
        assert review["example"]["discount_percent"] == 20
        assert "between 10% and 30%" in review["description"]
        approve = {"reviewer": "partners@mattermost.com", "decision": "approve"}
        await handle.signal("review_application", {**approve, "discount_percent": 31})
        await handle.signal("review_application", approve)  # no discount agreed
        await handle.signal("review_application", {**approve, "discount_percent": 25})
        sign = await h.complete(handle, "sign_var_agreement")
        agreement = get_agreement(settings, sign["example"]["agreement_id"])
        assert agreement is not None
        assert "discount of 25% off Mattermost Enterprise list prices" in agreement.text
        history = (await handle.query("status"))["history"]
        refused = [e for e in history if e["event"] == "rejected"]
        assert [e["detail"]["errors"][0]["field"] for e in refused] == ["discount_percent"] * 2
        assert "outside the program's bounds" in refused[0]["detail"]["errors"][0]["message"]
        await h.complete(handle, "assign_sales_manager")
        await h.complete(handle, "confirm_training")
        await h.complete(handle, "confirm_local_support")
        assert (await handle.result())["outcome"] == "active"
        partner = get_partner(settings, "mattermost", app.resolved_partner_id)
        assert partner is not None and partner.discount_percent == 25
        assert (await handle.query("status"))["facts"]["agreed_discount_percent"] == 25
