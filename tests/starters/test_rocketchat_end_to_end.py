"""Rocket.Chat onboarding through the published surfaces only, on the dev server: the signed
`rocketchat-partner` form, `partnerflow act` with the examples `pending_tasks` publishes, the
`monthly-sales-report` form (signal mode: 202 / rejected month / 404 / 409), and
`partnerflow schedules` (a Temporal Schedule that starts the quarterly review)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

import httpx
from temporalio.client import Client, ScheduleActionStartWorkflow

from models.forms import FORMS
from models.settings import Settings
from starters.intake import sign
from starters.web.app import create_app
from tests.eventually import eventually
from tests.starters.test_end_to_end import (  # noqa: F401 (pytest fixtures)
    cli_run,
    pending,
    running,
    stack_settings,
    visible,
)
from tests.workflows.harness import partner_site
from tests.workflows.test_rocketchat_onboarding import BEFORE_TERMS, SUMMARY_AFTER_SIGNATURE
from workflows.search_attributes import ASSIGNEE, STAGE

SECRET = "e2e-webhook-secret"


async def post(web: httpx.AsyncClient, form: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Partnerflow-Signature": sign(SECRET, body, int(time.time()), form),
    }
    return await web.post(f"/webhooks/forms/{form}", content=body, headers=headers)


async def act_with_example(
    client: Client, workflow_id: str, task: str, **changes: Any
) -> dict[str, Any]:
    t = await pending(client, workflow_id, task)
    code, output = await cli_run(
        "act", workflow_id, t["handler"], "--input", json.dumps({**t["example"], **changes})
    )
    assert code == 0, output

    async def next_example() -> bool:
        tasks = await client.get_workflow_handle(workflow_id).query("pending_tasks")
        return all(x["task"] != task or x["example"] != t["example"] for x in tasks)

    # The next example (e.g. the next service to certify) is published (bounded: a task
    # may close without a successor).
    with contextlib.suppress(AssertionError):
        await eventually(next_example, timeout=5.0, what=f"the next {task} example")
    return t


async def test_rocketchat_partner_from_form_to_partnership_and_schedule(
    running: Client,  # noqa: F811  (the fixture imported above)
    stack_settings: Settings,  # noqa: F811
) -> None:
    client = running
    app = create_app(stack_settings, client)
    with partner_site() as site:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as web:
            forms = {f["form"]: f for f in (await web.get("/webhooks/forms")).json()}
            assert forms["rocketchat-partner"]["workflow_type"] == "RocketChatOnboarding"
            schema = (await web.get(forms["rocketchat-partner"]["schema_url"])).json()
            submission = {
                **schema["examples"][0],
                "partner_id": f"e2e-{uuid.uuid4().hex[:8]}",
                "website": site + "/",
            }
            bad = await post(web, "rocketchat-partner", {**submission, "partner_type": "hosting"})
            assert bad.status_code == 422 and "services" in bad.text
            response = await post(web, "rocketchat-partner", submission)
            assert response.status_code == 202, response.text
            workflow_id = response.json()["workflow_id"]
            partner_id = submission["partner_id"]
            assert workflow_id == f"rc-onboarding-{partner_id}"

            found = await visible(
                client,
                f'WorkflowId = "{workflow_id}" AND Program = "rocketchat" '
                'AND PendingTask = "review_prerequisites"',
            )
            assert found.typed_search_attributes.get(ASSIGNEE) == ["partner_manager"]
            for task in BEFORE_TERMS:
                await act_with_example(client, workflow_id, task)
            code, output = await cli_run(
                "act",
                workflow_id,
                "set_contract_terms",
                "--input",
                json.dumps(
                    {"prepared_by": "x", "term_months": 6, "support_contract_reference": "S"}
                ),
            )
            assert code == 2 and "rejected" in output  # a term shorter than one year
            await act_with_example(client, workflow_id, "set_contract_terms")
            await act_with_example(client, workflow_id, "sign_partner_agreement")
            await act_with_example(client, workflow_id, "publish_website", url=site + "/partners")
            # The program summary's tasks: test sessions, market strategy, discount and prices.
            for task in SUMMARY_AFTER_SIGNATURE:
                await act_with_example(client, workflow_id, task)
            for _ in submission["services"]:
                await act_with_example(client, workflow_id, "basic_training")
            result = await client.get_workflow_handle(workflow_id).result()
            outcome = result["outcome"] if isinstance(result, dict) else result.outcome
            assert outcome == "onboarded"
            partnership_id = f"rc-partnership-{partner_id}"
            found = await visible(
                client,
                f'WorkflowId = "{partnership_id}" AND Program = "rocketchat" '
                f'AND PartnerId = "{partner_id}"',
            )
            assert found.typed_search_attributes.get(STAGE) == "quarter_1"
            summary = (await client.get_workflow_handle(workflow_id).query("status"))["facts"]
            assert {s["state"] for s in summary["program_summary"]} == {"done"}
            listed = (await web.get("/rocketchat/partners.json")).json()
            assert partner_id in [e["partner_id"] for e in listed]
            assert submission["company"] in (await web.get("/rocketchat/partners")).text

            # The monthly report form advances the running partnership (signal mode).
            report_form = (await web.get(forms["monthly-sales-report"]["schema_url"])).json()
            spec = FORMS["monthly-sales-report"]
            report = {
                **report_form["examples"][0],
                "partner_id": partner_id,
                "proof_token": spec.proof_token(stack_settings, partnership_id),
            }
            forged = await post(web, "monthly-sales-report", {**report, "proof_token": "x.y"})
            assert forged.status_code == 403 and "proof_token is not valid" in forged.text
            accepted = await post(web, "monthly-sales-report", report)
            assert (
                accepted.status_code == 202 and accepted.json()["signal"] == "submit_sales_report"
            )
            unknown = await post(
                web,
                "monthly-sales-report",
                {
                    **report,
                    "partner_id": "nobody-here",
                    "proof_token": spec.proof_token(stack_settings, "rc-partnership-nobody-here"),
                },
            )
            assert unknown.status_code == 404

            # `partnerflow schedules`: one quarterly schedule for the active partner.
            code, output = await cli_run("schedules", "--json")
            assert code == 0, output
            [mine] = [r for r in json.loads(output) if r["partner_id"] == partner_id]
            assert mine["action"] == "created" and len(mine["months"]) == 4
            schedule = client.get_schedule_handle(mine["schedule_id"])
            described = await schedule.describe()
            assert isinstance(described.schedule.action, ScheduleActionStartWorkflow)
            assert described.schedule.action.workflow == "RocketChatReviewTrigger"
            code, output = await cli_run("schedules", "--json")
            assert [r["action"] for r in json.loads(output) if r["partner_id"] == partner_id] == [
                "updated"
            ]
            await schedule.trigger()  # operations can run it now from the UI's Schedules page
            review = await pending(client, partnership_id, "quarterly_review")
            assert review["assignee"] == "reviewer" and review["example"]["quarter"] == 1
            status = await client.get_workflow_handle(partnership_id).query("status")
            assert any(
                h["step"] == "monthly_sales_report" and h["event"] == "rejected"
                for h in status["history"]
            )  # the month has not ended yet

            await client.get_workflow_handle(partnership_id).terminate("test finished")
            closed = await post(web, "monthly-sales-report", report)
            assert closed.status_code == 409
            await schedule.delete()
