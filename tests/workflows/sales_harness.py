"""Harness shared by the DealRegistration and AuthorizedResale tests (time-skipping server,
real activities with local adapters, the child OrderFulfillment on the same worker)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import session_scope
from activities.deals import DealActivities
from models.deals import AuthorizedResaleInput, DealRegistrationInput
from models.settings import Settings
from models.tables import EmailRow
from tests.workflows.recording import record_histories, recording
from workers.main import WORKFLOWS, activities_for, workflow_runner
from workflows.authorized_resale import AuthorizedResale
from workflows.deal_registration import DealRegistration
from workflows.order_fulfillment import OrderFulfillment


def all_activities(settings: Settings) -> list[Any]:
    """The worker's activities, plus the deal activities until workers/main registers them."""
    found = activities_for(settings)
    names = {getattr(a, "__temporal_activity_definition").name for a in found}
    deals = DealActivities(settings)
    extra = [
        deals.record_deal,
        deals.find_deal_conflicts,
        deals.claim_deal_approval,
        deals.release_deal_claims,
        deals.record_referral_fee,
    ]
    return found + [
        a for a in extra if getattr(a, "__temporal_activity_definition").name not in names
    ]


def all_workflows() -> list[Any]:
    return list(
        {
            w.__name__: w
            for w in [*WORKFLOWS, OrderFulfillment, DealRegistration, AuthorizedResale]
        }.values()
    )


def deal_input(**overrides: Any) -> DealRegistrationInput:
    data: dict[str, Any] = {
        "deal_number": f"DR-2026-{random.randint(1, 999_999):06d}",
        "partner": {
            "company": "Nordlicht IT-Systemhaus GmbH",
            "partner_id": f"nordlicht-{uuid.uuid4().hex[:6]}",
            "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@nordlicht-it.example"},
        },
        "end_customer": {
            "legal_name": "Hanse Logistik AG",
            "address": {
                "line1": "Am Sandtorkai 50",
                "city": "Hamburg",
                "postal_code": "20457",
                "country": "DE",
            },
            "contact": {"name": "Jonas Weber", "email": "jonas.weber@hanse-logistik.example"},
        },
        "sku": "MM-ENT-1Y",
        "product": "Mattermost Enterprise, 1 year",
        "seats": 250,
        "list_unit_price_cents": 12_000,
        "expected_close_date": date(2027, 3, 31),
        "discount_percent": 20,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return DealRegistrationInput.model_validate(data)


def resale_input(**overrides: Any) -> AuthorizedResaleInput:
    data: dict[str, Any] = {
        "request_id": f"T-{uuid.uuid4().hex[:10]}",
        "reseller": {
            "company": "Baltic Procurement Services OÜ",
            "contact": {"name": "Mari Tamm", "email": "mari.tamm@baltic-procurement.example"},
        },
        "end_customer_name": "Tallinna Sadam AS",
        "end_customer_country": "EE",
    }
    data.update(overrides)
    return AuthorizedResaleInput.model_validate(data)


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    task_queue: str
    started: list[WorkflowHandle] = field(default_factory=list)

    async def start_deal(
        self, deal: DealRegistrationInput | None = None, **overrides: Any
    ) -> WorkflowHandle:
        deal = deal or deal_input(**overrides)
        return await self._start(DealRegistration.run, deal, f"deal-{deal.deal_number}")

    async def start_resale(
        self, request: AuthorizedResaleInput | None = None, **overrides: Any
    ) -> WorkflowHandle:
        request = request or resale_input(**overrides)
        return await self._start(AuthorizedResale.run, request, f"resale-{request.request_id}")

    async def _start(self, run: Any, arg: Any, workflow_id: str) -> WorkflowHandle:
        handle = await self.client.start_workflow(
            run,
            arg,
            id=workflow_id,
            task_queue=self.task_queue,
            execution_timeout=timedelta(days=800),
        )
        self.started.append(handle)
        return handle

    def child(self, order_id: str) -> WorkflowHandle:
        handle = self.client.get_workflow_handle(f"order-{order_id}")
        self.started.append(handle)
        return handle

    def emails(self, workflow_id: str) -> list[EmailRow]:
        with session_scope(self.settings.resolved_database_url) as session:
            return list(session.exec(select(EmailRow).where(EmailRow.workflow_id == workflow_id)))

    def email_steps(self, workflow_id: str) -> list[str]:
        return [row.step for row in self.emails(workflow_id)]


async def harness_for(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Harness]:
    queue = f"sales-{uuid.uuid4().hex[:8]}"
    harness = Harness(env, env.client, settings, queue)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=all_workflows(),
        workflow_runner=workflow_runner(),
        activities=all_activities(settings),
        activity_executor=ThreadPoolExecutor(8),
    ):
        yield harness
        if recording():
            await record_histories(env.client, [h.id for h in harness.started])
        for handle in harness.started:
            with contextlib.suppress(Exception):
                await handle.terminate("test finished")


async def pending(handle: WorkflowHandle, task: str, timeout: float = 20.0) -> dict[str, Any]:
    for _ in range(int(timeout / 0.05)):
        with contextlib.suppress(Exception):
            for t in await handle.query("pending_tasks"):
                if t["task"] == task:
                    return t
        await asyncio.sleep(0.05)
    status = await handle.query("status")
    raise AssertionError(
        f"{task} never became pending; status: {json.dumps(status, default=str)[:3000]}"
    )


async def status(handle: WorkflowHandle) -> dict[str, Any]:
    return await handle.query("status")


async def history_events(handle: WorkflowHandle, step_prefix: str) -> list[tuple[str, str]]:
    return [
        (h["step"], h["event"])
        for h in (await status(handle))["history"]
        if h["step"].startswith(step_prefix)
    ]


async def until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never met")


async def search_attribute(client: Client, workflow_id: str, key: SearchAttributeKey) -> Any:
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    payload = raw.workflow_execution_info.search_attributes.indexed_fields.get(key.name)
    return json.loads(payload.data) if payload is not None and payload.data else None


async def pay_child(harness: Harness, order_id: str) -> None:
    """Drive the child OrderFulfillment with its published examples to a paid invoice."""
    child = harness.child(order_id)
    for task in ("accept_terms", "review_license", "record_payment"):
        t = await pending(child, task)
        await child.signal(t["handler"], t["example"])
