"""SystemIntegratorApplication on the time-skipping server: discussion → decision → the
active SI record, its DirectoryListing, and the five benefits tracked to done by their
owners; rejection with a reason; embargo."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.partners import get_partner
from models.applications import BENEFITS, SI_APPLICATION_EXAMPLE, SiApplicationForm
from models.settings import Settings
from tests.workflows.harness import Harness, uid, workflow_harness


def application(**changes: Any) -> SiApplicationForm:
    suffix = uid()
    return SiApplicationForm.model_validate(
        {
            **SI_APPLICATION_EXAMPLE,
            "application_id": f"SI-{suffix}",
            "partner_id": f"fjord-{suffix}",
            **changes,
        }
    )


async def start(h: Harness, app: SiApplicationForm) -> Any:
    return await h.start("SystemIntegratorApplication", app, f"si-application-{app.application_id}")


async def test_approval_tracks_every_benefit_to_done(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        await h.complete(handle, "record_discussion")
        await h.complete(handle, "decide_application")
        tasks = {}
        for benefit in BENEFITS:
            tasks[benefit] = await h.task(handle, f"benefit_{benefit}")
        assert (
            tasks["evaluation_license"]["assignee"] == "license_desk"
            and tasks["guest_blog_post"]["assignee"] == "partner_manager"
        )
        partner = get_partner(settings, "mattermost", app.resolved_partner_id)
        assert partner is not None and (partner.partner_type, partner.status) == (
            "system_integrator",
            "active",
        )
        await h.task(h.handle(f"directory-{app.partner_id}"), "submit_listing")
        await handle.signal(
            "complete_benefit", {"benefit": "free_lunch", "done_by": "x"}
        )  # unknown: recorded
        await time_skipping_env.sleep(timedelta(days=30))  # reminders on the open benefits
        for benefit, task in tasks.items():
            await handle.signal(
                "complete_benefit",
                {**task["example"], "reference": f"https://mattermost.com/{benefit}"},
            )
        result = await handle.result()
        assert result["outcome"] == "active" and result["benefits_done"] == sorted(BENEFITS)
        status = await handle.query("status")
        assert (
            status["facts"]["benefits"]["guest_blog_post"]["reference"]
            == "https://mattermost.com/guest_blog_post"
        )
        assert any(
            e["event"] == "rejected" and "free_lunch" in e["detail"]["reason"]
            for e in status["history"]
        )
        assert "benefit_social_promotion:reminder:1" in h.email_steps(handle.id)


async def test_rejection_needs_a_reason_and_is_emailed(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        app = application()
        handle = await start(h, app)
        await h.complete(handle, "record_discussion")
        await h.task(handle, "decide_application")
        await handle.signal(
            "decide_application", {"decided_by": "pm@mattermost.com", "decision": "reject"}
        )
        await handle.signal(
            "decide_application",
            {
                "decided_by": "pm@mattermost.com",
                "decision": "reject",
                "reason": "No Mattermost deployments yet",
            },
        )
        result = await handle.result()
        assert (
            result["outcome"] == "rejected" and result["reason"] == "No Mattermost deployments yet"
        )
        assert get_partner(settings, "mattermost", app.resolved_partner_id) is None
        assert "application:rejected" in h.email_steps(handle.id)


async def test_embargoed_applicant_is_refused(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, application(country="IR"))
        result = await handle.result()
        assert result["outcome"] == "embargoed"
