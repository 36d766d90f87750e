"""Click-sign on the time-skipping server, with a minimal workflow that needs one signature:
the sign page is covered in tests/starters/test_sign_page.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from activities.agreements import get_agreement
    from models.settings import Settings
    from tests.eventually import eventually
    from tests.workflows.harness import pending
    from workers.main import activities_for, workflow_runner
from workflows.signatures import AgreementWorkflow, sign_task

SIGN = sign_task("sign_test_agreement", "reseller", "The reseller signs the test agreement")
CONTEXT = {
    "agreement_number": "AR-1",
    "reseller": {"company": "Nordlicht IT GmbH", "address": None},
    "end_customer": {
        "legal_name": "Stadtwerke Kiel AG",
        "address": {"line1": "Uhlenkrog 32", "city": "Kiel", "country": "DE"},
        "contact": {"name": "Anna", "email": "anna@example.com"},
    },
    "lines": [
        {
            "seats": 50,
            "description": "Mattermost Enterprise, 1 year",
            "sku": "MM-ENT-1Y",
            "unit_price_cents": 10000,
        }
    ],
}


@workflow.defn(name="SignOnce")
class SignOnce(AgreementWorkflow):
    # listed like every process lists its tasks, so `sign_agreement` is an update too (the
    # sign page sends the update)
    human_tasks = (*AgreementWorkflow.human_tasks, SIGN)

    @workflow.run
    async def run(self, _: Any = None) -> dict[str, Any]:
        signed = await self.collect_signature(
            SIGN,
            kind="authorized_reseller_agreement",
            template="authorized_reseller_agreement",
            context=CONTEXT,
            signer_name="Jonas Weber",
            signer_email="jonas@nordlicht.example",
            company="Nordlicht IT GmbH",
        )
        return {"signed": signed.model_dump(mode="json") if signed else None}


async def _run(env: WorkflowEnvironment, settings: Settings, body: Any) -> Any:
    queue = f"sign-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SignOnce],
        activities=activities_for(settings),
        workflow_runner=workflow_runner(),
        activity_executor=__import__("concurrent.futures").futures.ThreadPoolExecutor(4),
    ):
        handle = await env.client.start_workflow(
            SignOnce.run,
            id=f"sign-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(days=60),
        )
        try:
            return await body(handle)
        finally:
            try:
                await handle.terminate()
            except Exception:
                pass


async def test_signature_is_stored_with_the_hash_of_the_text_shown(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async def body(handle: Any) -> None:
        task = await pending(handle, "sign_test_agreement")
        example = task["example"]
        agreement = get_agreement(settings, example["agreement_id"])
        assert (
            agreement is not None
            and "Stadtwerke Kiel AG" in agreement.text
            and agreement.status == "awaiting_signature"
        )
        await handle.signal("sign_agreement", {**example, "sha256": "0" * 64})  # another version
        await handle.signal("sign_agreement", {**example, "agreed": False})  # not agreed
        await handle.signal("sign_agreement", {**example, "agreement_id": "agr_unknown"})
        await handle.signal("sign_agreement", example)
        result = await handle.result()
        assert result["signed"]["agreement_id"] == example["agreement_id"]
        stored = get_agreement(settings, example["agreement_id"])
        assert stored and stored.status == "signed" and stored.signer_name == "Jonas Weber"
        history = (await handle.query("status"))["history"]
        events = [
            h["event"] for h in history if h["step"] in ("sign_test_agreement", "sign_agreement")
        ]
        assert events == ["rejected", "rejected", "rejected", "signed"]

    await _run(time_skipping_env, settings, body)


async def test_unsigned_agreement_expires_after_reminders(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async def body(handle: Any) -> None:
        await pending(handle, "sign_test_agreement")
        result = await handle.result()
        assert result["signed"] is None
        from activities.email.records import list_outbox

        steps = sorted(row.step for row in list_outbox(settings, workflow_id=handle.id))
        assert steps == [
            "sign_test_agreement:reminder:1",
            "sign_test_agreement:reminder:2",
            "sign_test_agreement:request",
        ]

    await _run(time_skipping_env, settings, body)


async def test_sign_page_shows_the_text_and_signs(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    import re

    import httpx

    from activities.email.records import list_outbox
    from starters.web.app import create_app

    async def body(handle: Any) -> None:
        task = await pending(handle, "sign_test_agreement")
        # The task opens before the request email's activity has run: wait for the email.
        [request] = await eventually(
            lambda: [
                r
                for r in list_outbox(settings, workflow_id=handle.id)
                if r.step.endswith(":request")
            ],
            what="the signature request email",
        )
        path = re.search(r"/sign/[A-Za-z0-9._-]+", request.text_body).group(0)
        app = create_app(settings, time_skipping_env.client)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as web:
            assert (await web.get(path + "x")).status_code == 403  # forged
            page = await web.get(path)
            assert (
                page.status_code == 200 and "Mattermost Authorized Reseller Agreement" in page.text
            )
            assert task["example"]["sha256"] in page.text
            form = {
                "name": "Jonas Weber",
                "title": "CEO",
                "email": "jonas@nordlicht.example",
                "sha256": task["example"]["sha256"],
            }
            missing_agree = await web.post(path, data=form)
            assert missing_agree.status_code == 400 and "I agree" in missing_agree.text
            stale = await web.post(path, data={**form, "agreed": "yes", "sha256": "0" * 64})
            assert stale.status_code == 409
            signed = await web.post(path, data={**form, "agreed": "yes"})
            assert signed.status_code == 303
            result = await handle.result()
            assert result["signed"]["signer_title"] == "CEO"
            again = await web.get(path)
            assert "Already signed" in again.text

    await _run(time_skipping_env, settings, body)
