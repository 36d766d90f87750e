"""The one harness of the workflow tests: a worker with every workflow and the real
activities (local adapters: SQLite records, outbox, local ledger) on its own task queue, a
loopback partner website, helpers to wait for tasks and read records, and at the end the
histories recorded (PARTNERFLOW_RECORD_HISTORIES=1) and whatever a test left running
terminated, children included (a workflow left waiting holds back time skipping).

Every wait is for an effect (`eventually`), never for the clock.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlmodel import select
from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import session_scope
from activities.licenses import LicenseActivities
from models.contracts import IssuedLicense, LicenseRequest, ScreeningRequest, ScreeningResult
from models.deals import AuthorizedResaleInput, DealRegistrationInput
from models.screening import Embargo, load_embargoes, screen
from models.settings import Settings
from models.tables import EmailRow
from tests.eventually import eventually
from tests.factories import deal_input, order_input, resale_input
from tests.workflows.recording import record_histories, recording
from workers.main import WORKFLOWS, activities_for, workflow_runner
from workflows.authorized_resale import AuthorizedResale
from workflows.deal_registration import DealRegistration
from workflows.order_fulfillment import OrderFulfillment
from workflows.rocketchat_onboarding import RocketChatOnboarding
from workflows.rocketchat_partnership import RocketChatPartnership

RUNNING = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
TIMEOUT = timedelta(days=5 * 366)  # execution timeout: the longest test spans four years


def uid() -> str:
    return uuid.uuid4().hex[:8]


# --- the worker ------------------------------------------------------------------------------


def _name(activity: Callable[..., Any]) -> str:
    return str(getattr(activity, "__temporal_activity_definition").name)


def all_activities(settings: Settings) -> list[Callable[..., Any]]:
    """The worker's activities, plus any a test needs that workers/main does not register."""
    from activities.community import CommunityActivities
    from activities.deals import DealActivities
    from activities.rocketchat_records import RocketChatRecordActivities
    from activities.web_checks import WebCheckActivities

    registered = activities_for(settings)
    names = {_name(a) for a in registered}
    deals = DealActivities(settings)
    extra = [
        deals.record_deal,
        deals.find_deal_conflicts,
        deals.claim_deal_approval,
        deals.release_deal_claims,
        deals.record_referral_fee,
        WebCheckActivities(settings).check_partner_website,
        CommunityActivities(settings).create_workgroup,
        RocketChatRecordActivities(settings).record_sales_report,
    ]
    return registered + [a for a in extra if _name(a) not in names]


def all_workflows() -> list[Any]:
    extra = [
        OrderFulfillment,
        DealRegistration,
        AuthorizedResale,
        RocketChatOnboarding,
        RocketChatPartnership,
    ]
    return list({w.__name__: w for w in [*WORKFLOWS, *extra]}.values())


class PartnerSite(BaseHTTPRequestHandler):
    """A partner's website: `/plain` does not name Rocket.Chat, `/no-type` names Rocket.Chat
    and services but no partnership type (only a script does); every other page shows
    Rocket.Chat, the three partnership types and some services of each, so the check passes for
    the tests' partners."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        body = (
            b"<html><body><img src='/rc.svg' alt='Rocket.Chat partner badge'>"
            b"We are an official Rocket.Chat Technology Provider, Hosting Partner and "
            b"Value-Added Reseller: installation services, brand theming, consulting and "
            b"private cloud hosting."
        )
        if self.path.startswith("/plain"):
            body = b"<html><body>Chat hosting and more."
        elif self.path.startswith("/no-type"):
            body = (
                b"<html><body>We are a <b>Rocket.Chat</b> partner: installation services."
                b"<script>var type = 'Technology Provider';</script>"
            )
        body += b"</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def partner_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), PartnerSite)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- an embargo list that changes mid-flight ------------------------------------------------


class EmbargoList:
    """The embargo list a worker screens against, changed by the test while a process runs:
    `screen_party` applies the real rule (`models.screening.screen`) to the data held here
    instead of the data file. `embargo_when_licensed` changes the list as `issue_license`
    returns, between the screening before the license and the one before the invoice."""

    def __init__(self) -> None:
        self.data = load_embargoes()
        self._when_licensed: list[tuple[str, str]] = []

    @staticmethod
    def program(name: str) -> str:
        return f"Test embargo on {name}"

    def embargo(self, code: str, name: str) -> None:
        """From now on, `code` (a country or an ISO 3166-2 region) is under embargo."""
        entry = Embargo(
            code=code, name=name, program=self.program(name), since=date(2000, 1, 1), source="test"
        )
        self.data = self.data.model_copy(
            update={
                "version": f"{self.data.version}+{code}",
                "entries": (*self.data.entries, entry),
            }
        )

    def embargo_when_licensed(self, code: str, name: str) -> None:
        self._when_licensed.append((code, name))

    def activities(self, settings: Settings) -> list[Callable[..., Any]]:
        """The worker's activities with `screen_party` and `issue_license` replaced."""
        licenses = LicenseActivities(settings)

        @activity.defn(name="screen_party")
        def screen_party(req: ScreeningRequest) -> ScreeningResult:
            return screen(req.country, req.subdivision, req.on, data=self.data)

        @activity.defn(name="issue_license")
        def issue_license(req: LicenseRequest) -> IssuedLicense:
            issued = licenses.issue_license(req)
            changes, self._when_licensed = self._when_licensed, []
            for code, name in changes:
                self.embargo(code, name)
            return issued

        replaced = {"screen_party", "issue_license"}
        kept = [a for a in all_activities(settings) if _name(a) not in replaced]
        return [*kept, screen_party, issue_license]


# --- the harness -----------------------------------------------------------------------------


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    task_queue: str
    site: str  # the partner website's base URL
    started: list[str] = field(default_factory=list)  # workflow ids, terminated at the end

    async def start(self, workflow: Any, arg: Any, workflow_id: str) -> WorkflowHandle:
        handle = await self.client.start_workflow(
            workflow, arg, id=workflow_id, task_queue=self.task_queue, execution_timeout=TIMEOUT
        )
        self.started.append(workflow_id)
        return handle

    async def start_order(self, **overrides: Any) -> WorkflowHandle:
        order = order_input(**overrides)
        return await self.start(OrderFulfillment.run, order, f"order-{order.order_id}")

    async def start_deal(
        self, deal: DealRegistrationInput | None = None, **overrides: Any
    ) -> WorkflowHandle:
        deal = deal or deal_input(**overrides)
        return await self.start(DealRegistration.run, deal, f"deal-{deal.deal_number}")

    async def start_resale(
        self, request: AuthorizedResaleInput | None = None, **overrides: Any
    ) -> WorkflowHandle:
        request = request or resale_input(**overrides)
        return await self.start(AuthorizedResale.run, request, f"resale-{request.request_id}")

    def handle(self, workflow_id: str) -> WorkflowHandle:
        """A workflow the test did not start itself (a child, a form's), ended afterwards."""
        self.started.append(workflow_id)
        return self.client.get_workflow_handle(workflow_id)

    def child(self, order_id: str) -> WorkflowHandle:
        return self.handle(f"order-{order_id}")

    async def task(self, handle: WorkflowHandle, task: str) -> dict[str, Any]:
        return await pending(handle, task)

    async def complete(self, handle: WorkflowHandle, task: str, **changes: Any) -> dict[str, Any]:
        """Wait for `task`, then send its published example (with `changes`)."""
        open_task = await pending(handle, task)
        await handle.signal(open_task["handler"], {**open_task["example"], **changes})
        return open_task

    async def gone(self, handle: WorkflowHandle, task: str) -> None:
        await gone(handle, task)

    def rows(self, table: type, workflow_id: str | None = None, **where: Any) -> list[Any]:
        if workflow_id is not None:
            where["workflow_id"] = workflow_id
        with session_scope(self.settings.resolved_database_url) as session:
            query = select(table)
            for key, value in where.items():
                query = query.where(getattr(table, key) == value)
            return list(session.exec(query))

    def emails(self, workflow_id: str) -> list[EmailRow]:
        return self.rows(EmailRow, workflow_id)

    def email_steps(self, workflow_id: str) -> list[str]:
        """The steps emailed so far, in the order they were sent."""
        return [row.step for row in self.emails(workflow_id)]

    async def emailed(self, workflow_id: str, *steps: str) -> list[str]:
        """The email steps once all of `steps` were sent (the activity a timer started)."""

        def sent() -> list[str]:
            found = self.email_steps(workflow_id)
            return found if set(steps) <= set(found) else []

        return await eventually(sent, what=f"emails {steps} of {workflow_id}")

    async def _quiet(self) -> None:
        """Until no started workflow has an activity in flight (bounded): an activity of a
        terminated workflow would lock time skipping for the next test until its timeout."""

        async def idle() -> bool:
            for workflow_id in dict.fromkeys(self.started):
                with contextlib.suppress(RPCError):  # never started (a child not yet made)
                    raw = await _describe(self.client, workflow_id)
                    running = raw.workflow_execution_info.status == RUNNING
                    if running and raw.pending_activities:
                        return False
            return True

        with contextlib.suppress(AssertionError):
            await eventually(idle, timeout=2.0, what="activities in flight to finish")


@contextlib.asynccontextmanager
async def workflow_harness(
    env: WorkflowEnvironment,
    settings: Settings,
    activities: list[Callable[..., Any]] | None = None,
) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue; `activities` replaces the real ones (fault tests)."""
    queue = f"wf-{uid()}"
    # Forms started through the intake land on this worker's task queue.
    queued = settings.model_copy(update={"temporal_task_queue": queue})
    with partner_site() as site:
        harness = Harness(env, env.client, queued, queue, site)
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=all_workflows(),
            workflow_runner=workflow_runner(),
            activities=all_activities(settings) if activities is None else activities,
            activity_executor=ThreadPoolExecutor(8),
        ):
            try:
                yield harness
                if recording():
                    await record_histories(harness.client, harness.started)
            finally:
                await harness._quiet()
                for workflow_id in dict.fromkeys(harness.started):
                    with contextlib.suppress(Exception):
                        await env.client.get_workflow_handle(workflow_id).terminate("test over")


# --- waiting for a workflow ------------------------------------------------------------------


async def status(handle: WorkflowHandle) -> dict[str, Any]:
    return await handle.query("status")


async def pending(handle: WorkflowHandle, task: str, timeout: float = 20.0) -> dict[str, Any]:
    """The task named `task` once it is pending on the workflow's current run."""

    async def found() -> dict[str, Any] | None:
        return next((t for t in await handle.query("pending_tasks") if t["task"] == task), None)

    try:
        return await eventually(found, timeout=timeout, what=f"{task} pending on {handle.id}")
    except AssertionError as waited:
        now = json.dumps(await status(handle), default=str)[:3000]
        raise AssertionError(f"{waited}; status: {now}") from None


async def task_once(
    handle: WorkflowHandle, task: str, condition: Callable[[dict[str, Any]], Any], what: str
) -> dict[str, Any]:
    """The pending `task` once `condition` holds for it (e.g. a timer's reminder counted)."""

    async def found() -> dict[str, Any] | None:
        tasks = await handle.query("pending_tasks")
        return next((t for t in tasks if t["task"] == task and condition(t)), None)

    return await eventually(found, what=f"{task} {what} on {handle.id}")


async def escalated(handle: WorkflowHandle, task: str) -> dict[str, Any]:
    """The pending `task` once its deadline escalated it."""
    return await task_once(handle, task, lambda t: t["escalated"], "escalated")


async def gone(handle: WorkflowHandle, task: str, timeout: float = 10.0) -> None:
    async def closed() -> bool:
        return all(t["task"] != task for t in await handle.query("pending_tasks"))

    await eventually(closed, timeout=timeout, what=f"{task} closed on {handle.id}")


def events(state: dict[str, Any], step: str) -> list[str]:
    """The events of `step` in a status query's history."""
    return [h["event"] for h in state["history"] if h["step"] == step]


async def history_events(handle: WorkflowHandle, step_prefix: str) -> list[tuple[str, str]]:
    return [
        (h["step"], h["event"])
        for h in (await status(handle))["history"]
        if h["step"].startswith(step_prefix)
    ]


async def _describe(client: Client, workflow_id: str) -> DescribeWorkflowExecutionResponse:
    """The raw description: the time-skipping server keeps unset datetime attributes in a
    shape the typed decoder of `handle.describe()` rejects."""
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace="default", execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )


async def history_once(handle: WorkflowHandle, step: str, event: str) -> list[tuple[str, str]]:
    """The history events of `step` (a prefix) once `event` of `step` is among them."""

    async def recorded() -> list[tuple[str, str]]:
        found = await history_events(handle, step)
        return found if (step, event) in found else []

    return await eventually(recorded, what=f"{step} {event} on {handle.id}")


async def search_attribute(handle: WorkflowHandle, key: SearchAttributeKey) -> Any:
    """One attribute, decoded on its own."""
    raw = await _describe(handle._client, handle.id)
    payload = raw.workflow_execution_info.search_attributes.indexed_fields.get(key.name)
    return json.loads(payload.data) if payload is not None and payload.data else None


async def attribute_is(handle: WorkflowHandle, key: SearchAttributeKey, value: Any) -> Any:
    """Wait until the workflow publishes `value` under `key`."""

    async def published() -> bool:
        return await search_attribute(handle, key) == value

    return await eventually(published, what=f"{key.name} = {value!r} on {handle.id}")


async def drive_to_invoice(handle: WorkflowHandle) -> dict[str, Any]:
    """Accept the terms and approve the license of an order; its open payment task."""
    for task in ("accept_terms", "review_license"):
        open_task = await pending(handle, task)
        await handle.signal(task, open_task["example"])
    return await pending(handle, "record_payment")


async def embargo_mid_flight(
    order: WorkflowHandle, embargoes: EmbargoList, point: str, code: str, name: str
) -> None:
    """Drive an order past the terms and put `code` under embargo just before the screening
    at `point` (`before_license`: while the license review waits; `before_invoice`: while
    the license is issued); the review approves, so the screening at `point` is next."""
    accept = await pending(order, "accept_terms")
    await order.signal(accept["handler"], accept["example"])
    review = await pending(order, "review_license")
    if point == "before_license":
        embargoes.embargo(code, name)
    else:
        assert point == "before_invoice", point
        embargoes.embargo_when_licensed(code, name)
    await order.signal(review["handler"], review["example"])


async def refusals(handle: WorkflowHandle) -> list[dict[str, Any]]:
    """The `refused` entries of a workflow's status history."""
    return [h for h in (await status(handle))["history"] if h["event"] == "refused"]


async def pay_child(harness: Harness, order_id: str) -> None:
    """Drive the child OrderFulfillment with its published examples to a paid invoice."""
    child = harness.child(order_id)
    for task in ("accept_terms", "review_license", "record_payment"):
        open_task = await pending(child, task)
        await child.signal(open_task["handler"], open_task["example"])


async def terminate_running(client: Client) -> None:
    """Terminate every running workflow on the client's namespace (children included)."""
    query = 'ExecutionStatus = "Running"'
    with contextlib.suppress(Exception):
        async for execution in client.list_workflows(query):
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(execution.id).terminate("test over")
