"""An order billed through the Stripe adapter (against the stateful Stripe test double) is
closed by Stripe's signed `invoice.paid` webhook; replays and foreign events change nothing."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import stripe
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.settings import Settings
from starters.web.app import create_app
from tests.activities.stripe_double import StripeDouble
from tests.factories import order_input
from tests.workflows.harness import pending
from workers.main import WORKFLOWS, activities_for, workflow_runner

WEBHOOK_SECRET = "whsec_test_partnerflow"


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    t = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{t}.{body.decode()}", secret)
    return body, {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


async def test_stripe_invoice_paid_webhook_closes_the_order(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    with StripeDouble() as double:
        stripe_settings = settings.model_copy(
            update={
                "billing_backend": "stripe",
                "stripe_api_key": SecretStr(double.api_key),
                "stripe_api_base": double.url,
                "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            }
        )
        queue = f"stripe-{uuid.uuid4().hex[:6]}"
        client = time_skipping_env.client
        async with Worker(
            client,
            task_queue=queue,
            workflows=WORKFLOWS,
            workflow_runner=workflow_runner(),
            activities=activities_for(stripe_settings),
            activity_executor=ThreadPoolExecutor(4),
        ):
            order = order_input()
            handle = await client.start_workflow(
                "OrderFulfillment",
                order,
                id=f"order-{order.order_id}",
                task_queue=queue,
                execution_timeout=timedelta(days=400),
            )
            try:
                await handle.signal(
                    "accept_terms", (await pending(handle, "accept_terms"))["example"]
                )
                await handle.signal(
                    "review_license", (await pending(handle, "review_license"))["example"]
                )
                await pending(handle, "record_payment")
                [invoice] = double.invoices.values()
                assert (
                    invoice["status"] == "open" and invoice["collection_method"] == "send_invoice"
                )
                assert invoice["metadata"]["workflow_id"] == handle.id
                assert double.sent[invoice["id"]] == 1

                paid = {**invoice, "status": "paid", "amount_paid": invoice["amount_due"]}
                event = {
                    "id": "evt_paid_1",
                    "object": "event",
                    "type": "invoice.paid",
                    "data": {"object": paid},
                }
                app = create_app(stripe_settings, client)
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                ) as web:
                    body, headers = signed(event, "whsec_wrong")
                    assert (
                        await web.post("/webhooks/stripe", content=body, headers=headers)
                    ).status_code == 400
                    foreign = {
                        "id": "evt_x",
                        "type": "customer.created",
                        "data": {"object": {"object": "customer", "id": "cus_1"}},
                    }
                    body, headers = signed(foreign)
                    assert (
                        await web.post("/webhooks/stripe", content=body, headers=headers)
                    ).json()["ignored"] is True
                    body, headers = signed(event)
                    first = await web.post("/webhooks/stripe", content=body, headers=headers)
                    assert first.status_code == 200 and first.json()["workflow_id"] == handle.id
                    result = await handle.result()
                    assert result["outcome"] == "paid"
                    again = await web.post("/webhooks/stripe", content=body, headers=headers)
                    assert again.status_code == 200  # a replay of a closed order is acknowledged
                events = [
                    h
                    for h in (await handle.query("status"))["history"]
                    if h["event"] == "invoice.paid"
                ]
                assert len(events) == 1
                assert double.created["invoice"] == 1 and double.created["customer"] == 1
            finally:
                try:
                    await handle.terminate()
                except Exception:
                    pass
