"""Forms and tasks only (the partner lifecycle), on the dev server: each process is driven
by posting a form's published example and then sending every pending task's published
example to its handler, nothing else: VarApplication → DirectoryListing → EvaluationLicense, and
SystemIntegratorApplication. And the evaluation-license form's rules at intake: the request
must be the partner's own, and a refused or rejected request may be asked again."""

from __future__ import annotations

import re
import uuid
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.directory import get_listing
from activities.partners import PartnerActivities, get_partner
from models.forms import FORMS
from models.settings import Settings
from starters.intake import submit_form
from tests.eventually import eventually
from tests.factories import partner_record
from tests.workflows.harness import Harness, workflow_harness

PROOF = r'"proof_token": "([A-Za-z0-9._-]+)"'


async def drive(h: Harness, workflow_id: str, until: Any, timeout: float = 20.0) -> None:
    """Complete every pending task with its example until `until(status)` holds."""
    handle = h.handle(workflow_id)
    sent: set[tuple[str, str]] = set()

    async def done() -> bool:
        status = await handle.query("status")
        if until(status):
            return True
        for task in status["pending_tasks"]:
            key = (task["task"], str(task["opened_at"]))
            if key not in sent:
                sent.add(key)
                await handle.signal(task["handler"], task["example"])
        tasks = [t["task"] for t in status["pending_tasks"]]
        raise AssertionError(f"stuck at {status['stage']}: {tasks}")

    await eventually(done, timeout=timeout, interval=0.05, what=f"{workflow_id} to finish")


async def post(h: Harness, form: str, payload: dict[str, Any]) -> str:
    result = await submit_form(h.client, h.settings, form, payload)
    assert result.status_code in (200, 202), result.body
    h.started.append(result.body["workflow_id"])
    return result.body["workflow_id"]


async def emailed_proof(h: Harness, workflow_id: str, step: str) -> str:
    """The proof token printed in the email that asks for a form's input."""

    def token() -> str | None:
        for mail in h.emails(workflow_id):
            if mail.step == step and (found := re.search(PROOF, mail.text_body)):
                return found.group(1)
        return None

    return await eventually(token, what=f"the {step} email of {workflow_id}")


def closed(status: dict[str, Any]) -> bool:
    return status["stage"] in ("active", "rejected", "declined", "embargoed", "agreement_expired")


async def test_var_partner_from_application_to_directory_and_evaluation_license(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        application = FORMS["var-application"].fresh_example()
        partner_id = application["partner_id"]
        var_id = await post(h, "var-application", application)
        await drive(h, var_id, closed)
        assert (await h.handle(var_id).query("status"))["stage"] == "active"
        partner = get_partner(h.settings, "mattermost", partner_id)
        assert partner is not None and (
            partner.partner_type,
            partner.status,
            partner.discount_percent,
        ) == ("value_added_reseller", "active", 20)

        listing = {
            **FORMS["directory-listing"].fresh_example(),
            "partner_id": partner_id,
            "proof_token": await emailed_proof(h, f"directory-{partner_id}", "listing:request"),
        }
        directory_id = await post(h, "directory-listing", listing)
        assert directory_id == f"directory-{partner_id}"
        await drive(h, directory_id, lambda s: s["stage"] == "published")
        published = get_listing(h.settings, "mattermost", partner_id)
        assert published is not None and published.territory == application["territory"]

        evaluation = {**FORMS["evaluation-license"].fresh_example(), "partner_id": partner_id}
        eval_id = await post(h, "evaluation-license", evaluation)
        await drive(h, eval_id, lambda s: s["stage"] == "licensed")
        facts = (await h.handle(eval_id).query("status"))["facts"]
        assert facts["license_year"] == 1 and len(facts["licenses"]) == 1 and facts["users"] == 50

        for workflow_id in (directory_id, eval_id):
            await h.handle(workflow_id).signal(
                "partner_left",
                {"reason": "Agreement terminated", "decided_by": "partners@mattermost.com"},
            )
            await h.handle(workflow_id).result()
            assert (
                await h.handle(workflow_id).describe()
            ).status == WorkflowExecutionStatus.COMPLETED
        assert get_listing(h.settings, "mattermost", partner_id) is None


async def test_system_integrator_from_application_to_benefits(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        application = FORMS["si-application"].fresh_example()
        si_id = await post(h, "si-application", application)
        await drive(h, si_id, closed)
        result = await h.handle(si_id).result()
        assert result["outcome"] == "active" and len(result["benefits_done"]) == 5
        partner = get_partner(h.settings, "mattermost", application["partner_id"])
        assert partner is not None and (partner.partner_type, partner.status) == (
            "system_integrator",
            "active",
        )
        again = await submit_form(h.client, h.settings, "si-application", application)
        assert again.status_code == 200  # the same form twice: the same process


async def test_evaluation_license_is_the_partners_own_and_may_be_asked_again(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(local_env, settings) as h:
        partner_id = f"nordlicht-{uuid.uuid4().hex[:8]}"
        nordlicht_de = {"website": "https://www.nordlicht.de", "contact_email": "lena@nordlicht.de"}
        records = PartnerActivities(h.settings)
        records.upsert_partner(partner_record(partner_id, **nordlicht_de))
        form = {
            **FORMS["evaluation-license"].fresh_example(),
            "partner_id": partner_id,
            "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@nordlicht.de"},
        }

        async def submit(payload: dict[str, Any]) -> Any:
            return await submit_form(h.client, h.settings, "evaluation-license", payload)

        name = await submit({**form, "organization_name": "Example Ltd [RESELLER]"})
        assert name.status_code == 422, name.body
        assert [e["field"] for e in name.body["errors"]] == ["organization_name"]
        domain = await submit({**form, "contact": {"name": "M", "email": "m@example.org"}})
        assert (domain.status_code, domain.body["errors"]) == (
            422,
            [
                {
                    "field": "contact.email",
                    "message": "the domain example.org is not one of the partner's domains "
                    "(nordlicht.de)",
                }
            ],
        )

        first = await submit(form)
        assert first.status_code == 202, first.body
        workflow_id = first.body["workflow_id"]
        handle = h.handle(workflow_id)
        assert (await submit(form)).body == {**first.body, "duplicate": True}
        other = {**form, "contact": {"name": "Jonas Weber", "email": "jonas@nordlicht.de"}}
        assert (await submit(other)).status_code == 409  # a running request is not replaced

        # Rejected by the license desk: the partner may ask again, a new run.
        await h.complete(handle, "review_evaluation_license", decision="reject", reason="Test")
        assert (await handle.result())["outcome"] == "rejected"
        second = await submit(form)
        assert second.status_code == 202 and second.body["run_id"] != first.body["run_id"]

        # Refused where the license is issued (the records moved to another domain during
        # the review): the partner may ask again once they are right.
        await h.task(handle, "review_evaluation_license")
        records.upsert_partner(
            partner_record(partner_id, contact_email="lena@nordlicht.com", website=None)
        )
        await h.complete(handle, "review_evaluation_license")
        refused = await handle.result()
        assert refused["outcome"] == "refused" and "contact.email" in refused["reason"]
        records.upsert_partner(partner_record(partner_id, **nordlicht_de))
        third = await submit(form)
        assert third.status_code == 202 and third.body["run_id"] != second.body["run_id"]

        # Once a license was issued the key stays used, as before.
        await drive(h, workflow_id, lambda s: s["stage"] == "licensed")
        await handle.signal("partner_left", {"reason": "Left", "decided_by": "pm@mattermost.com"})
        assert (await handle.result())["outcome"] == "partner_left"
        assert (await submit(form)).body == {**third.body, "duplicate": True}
        assert (await submit(other)).status_code == 409
