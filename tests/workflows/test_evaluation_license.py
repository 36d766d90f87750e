"""EvaluationLicense on the time-skipping server: non-partners refused, the review SLA
(reminder day 2, escalation after day 3), the one-year 50-user license, renewal across three
years with bounded history (continue-as-new), and the stop when the partner leaves; a request
that is not the partner's own refused when the run starts, a partner record changed during
the review refusing the issue, and a request asked again after a refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.database import session_scope
from activities.partners import PartnerActivities
from models.applications import EVALUATION_EXAMPLE, EvaluationLicenseForm, EvaluationLicenseInput
from models.settings import Settings
from models.tables import DecisionRow, LicenseRow
from tests.eventually import eventually
from tests.factories import partner_record
from tests.workflows.harness import Harness, uid, workflow_harness


def partner(
    settings: Settings, partner_type: str = "value_added_reseller", status: str = "active"
) -> str:
    partner_id = f"nordlicht-{uid()}"
    PartnerActivities(settings).upsert_partner(
        partner_record(partner_id, partner_type=partner_type, status=status)
    )
    return partner_id


def request(partner_id: str, **changes: Any) -> EvaluationLicenseInput:
    return EvaluationLicenseInput(
        form=EvaluationLicenseForm.model_validate(
            {**EVALUATION_EXAMPLE, "partner_id": partner_id, **changes}
        )
    )


async def start(h: Harness, partner_id: str) -> Any:
    return await h.start("EvaluationLicense", request(partner_id), f"eval-license-{partner_id}")


def licenses(settings: Settings, workflow_id: str) -> list[LicenseRow]:
    with session_scope(settings.resolved_database_url) as session:
        return list(
            session.exec(
                select(LicenseRow)
                .where(LicenseRow.workflow_id == workflow_id)
                .order_by(LicenseRow.starts_at)
            )
        )


async def test_non_partner_and_inactive_partner_are_refused(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, f"stranger-{uid()}")
        result = await handle.result()
        assert (
            result["outcome"] == "refused"
            and "not in the certified-reseller records" in result["reason"]
        )
        assert h.email_steps(handle.id) == ["request:refused"]
        suspended = await start(h, partner(settings, status="suspended"))
        assert (await suspended.result())["outcome"] == "refused"
        authorized = await start(h, partner(settings, partner_type="authorized_reseller"))
        assert (
            "not a Mattermost Value-Added Reseller or System Integrator"
            in (await authorized.result())["reason"]
        )


async def test_review_is_reminded_on_day_two_and_escalated_after_day_three(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner(settings, partner_type="system_integrator"))
        task = await h.task(handle, "review_evaluation_license")
        assert task["assignee"] == "license_desk"
        await time_skipping_env.sleep(timedelta(days=8))
        steps = set(
            await h.emailed(
                handle.id,
                "review_evaluation_license:reminder:1",
                "review_evaluation_license:escalation",
            )
        )
        assert {
            "review_evaluation_license:reminder:1",
            "review_evaluation_license:escalation",
        } <= steps
        await handle.signal(
            "review_evaluation_license",
            {
                "reviewer": "desk@mattermost.com",
                "decision": "reject",
                "reason": "Duplicate request",
            },
        )
        result = await handle.result()
        assert result["outcome"] == "rejected" and result["licenses"] == []


WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
}


async def test_renewal_across_three_years_keeps_history_bounded(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = partner(settings)
        handle = await start(h, partner_id)
        await h.complete(handle, "review_evaluation_license")
        run_lengths = []
        for year in (1, 2, 3):
            latest = h.handle(handle.id)
            await time_skipping_env.sleep(
                timedelta(days=340 if year == 1 else 370)
            )  # renewals start at the old expiry
            task = await h.task(latest, "renew_evaluation_license")
            status = await latest.query("status")
            assert status["facts"]["license_year"] == year
            assert f"license:{year}:expiring" in await h.emailed(
                handle.id, f"license:{year}:expiring"
            )
            # the workflow's own events: how many workflow tasks a loaded machine needed
            # (timed out, retried, heartbeats of a slow local activity) is not the workflow's
            run_lengths.append(
                len(
                    [
                        e
                        async for e in latest.fetch_history_events()
                        if e.event_type not in WORKFLOW_TASK_EVENTS
                    ]
                )
            )
            await latest.signal(
                "renew_evaluation_license",
                task["example"]
                if year < 3
                else {
                    "decided_by": "desk@mattermost.com",
                    "decision": "stop",
                    "reason": "Partner asked to stop",
                },
            )
        result = await h.handle(handle.id).result()
        assert (
            result["outcome"] == "stopped"
            and result["license_years"] == 3
            and len(set(result["licenses"])) == 3
        )
        rows = licenses(settings, handle.id)
        assert [(r.users, r.sku) for r in rows] == [(50, "mattermost-enterprise-evaluation")] * 3
        assert all(
            abs((r.expires_at - r.starts_at) - timedelta(days=365)) < timedelta(seconds=1)
            for r in rows
        )
        assert (
            rows[1].starts_at == rows[0].expires_at
        )  # the renewal starts when the last license ends
        assert (
            max(run_lengths) < 60 and run_lengths[2] <= run_lengths[1] + 5
        )  # one run per year, no growth (43, 26, 26 of the workflow's own events)
        first_run = h.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        first_run_events = [e.event_type async for e in first_run.fetch_history_events()]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW in first_run_events
        # no activity is left running behind the continue-as-new (the insights facts are
        # written before it: an abandoned one once held the test server's clock)
        assert first_run_events.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == (
            first_run_events.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        )
        assert [s for s in h.email_steps(handle.id) if s.endswith(":issued")] == [
            "license:1:issued",
            "license:2:issued",
            "license:3:issued",
        ]


async def test_license_expires_without_renewal_and_stops_when_the_partner_leaves(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h, partner(settings))
        await h.complete(handle, "review_evaluation_license")
        result = await handle.result()
        assert result["outcome"] == "expired" and len(result["licenses"]) == 1

        leaving = await start(h, partner(settings))
        await h.complete(leaving, "review_evaluation_license")
        await eventually(lambda: licenses(settings, leaving.id), what="the license issued")
        await leaving.signal(
            "partner_left",
            {"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"},
        )
        result = await leaving.result()
        assert result["outcome"] == "partner_left" and len(result["licenses"]) == 1


async def test_partner_record_changed_during_the_review_refuses_the_issue(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = partner(settings)
        handle = await start(h, partner_id)
        await h.task(handle, "review_evaluation_license")
        # The partner's records move to another domain while the license desk reviews.
        PartnerActivities(settings).upsert_partner(
            partner_record(
                partner_id, website="https://www.nordlicht.de", contact_email="it@nordlicht.de"
            )
        )
        await h.complete(handle, "review_evaluation_license")  # approved
        result = await handle.result()
        reason = (
            "contact.email: the domain nordlicht-it.example.com is not one of the partner's "
            "domains (nordlicht.de)"
        )
        assert (result["outcome"], result["reason"], result["licenses"]) == ("refused", reason, [])
        history = (await handle.query("status"))["history"]
        assert [
            (e["step"], e["event"]) for e in history if e["step"] != "review_evaluation_license"
        ] == [("issue_check:1", "refused")]
        assert history[-1]["detail"]["reason"] == reason
        assert licenses(settings, handle.id) == []
        assert h.email_steps(handle.id)[-1] == "request:refused"


async def test_a_request_not_the_partners_own_is_refused_and_may_be_asked_again(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        partner_id = partner(settings)
        # Started without the intake (e.g. from the Temporal UI): the run checks it itself.
        stranger = request(
            partner_id,
            organization_name="Example Ltd [RESELLER]",
            contact={"name": "Mallory", "email": "mallory@example.org"},
        )
        workflow_id = f"eval-license-{partner_id}"
        first = await h.start("EvaluationLicense", stranger, workflow_id)
        result = await first.result()
        assert result["outcome"] == "refused"
        assert result["reason"].startswith(
            "organization_name: 'Example Ltd' is not the partner's organisation name on record"
        ) and result["reason"].endswith(
            "contact.email: the domain example.org is not one of the partner's domains "
            "(nordlicht-it.example.com)"
        )
        # Asked again under the same id: a new run, whose effects are not taken for the
        # first one's (the refusal is emailed and audited again).
        second = await h.start("EvaluationLicense", stranger, workflow_id)
        assert second.result_run_id != first.result_run_id
        assert (await second.result())["outcome"] == "refused"
        assert h.email_steps(workflow_id) == ["request:refused", "request:refused"]
        assert len(h.rows(DecisionRow, workflow_id, step="partner_check:1")) == 2
