"""Shared harness of the Rocket.Chat workflow tests: a worker with the real activities
(local adapters), a loopback partner website, and helpers to read records."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import session_scope
from models.settings import Settings
from models.tables import EmailRow
from tests.workflows.recording import record_histories, recording
from workers.main import WORKFLOWS, activities_for, workflow_runner
from workflows.rocketchat_onboarding import RocketChatOnboarding
from workflows.rocketchat_partnership import RocketChatPartnership


class PartnerSite(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = (
            b"<html><body>We are an official <b>Rocket.Chat</b> Technology Provider.</body></html>"
        )
        if self.path.startswith("/plain"):
            body = b"<html><body>Chat hosting and more.</body></html>"
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


def all_activities(settings: Settings) -> list[Any]:
    """The worker's activities (the Rocket.Chat ones included once registered)."""
    from activities.community import CommunityActivities
    from activities.rocketchat_records import RocketChatRecordActivities
    from activities.web_checks import WebCheckActivities

    registered = activities_for(settings)
    names = {getattr(a, "__temporal_activity_definition").name for a in registered}
    extra = [
        WebCheckActivities(settings).check_partner_website,
        CommunityActivities(settings).create_workgroup,
        RocketChatRecordActivities(settings).record_sales_report,
    ]
    return registered + [
        a for a in extra if getattr(a, "__temporal_activity_definition").name not in names
    ]


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    task_queue: str
    site: str
    started: list[str] = field(default_factory=list)

    def rows(self, table: type, **where: Any) -> list[Any]:
        with session_scope(self.settings.resolved_database_url) as session:
            query = select(table)
            for key, value in where.items():
                query = query.where(getattr(table, key) == value)
            return list(session.exec(query))

    def email_steps(self, workflow_id: str) -> list[str]:
        return [row.step for row in self.rows(EmailRow, workflow_id=workflow_id)]

    def emails(self, workflow_id: str) -> list[EmailRow]:
        return self.rows(EmailRow, workflow_id=workflow_id)


@contextlib.asynccontextmanager
async def harness(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Harness]:
    task_queue = f"rc-{uuid.uuid4().hex[:8]}"
    workflows = list({*WORKFLOWS, RocketChatOnboarding, RocketChatPartnership})
    with partner_site() as site:
        h = Harness(env, env.client, settings, task_queue, site)
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=workflows,
            workflow_runner=workflow_runner(),
            activities=all_activities(settings),
            activity_executor=ThreadPoolExecutor(8),
        ):
            try:
                yield h
                if recording():
                    await record_histories(h.client, h.started)
            finally:
                # Let in-flight activities finish: an activity of a terminated workflow would
                # lock time skipping for the next test until its timeout.
                await asyncio.sleep(0.3)
                for workflow_id in h.started:
                    with contextlib.suppress(Exception):
                        await env.client.get_workflow_handle(workflow_id).terminate("test finished")


async def pending(handle: WorkflowHandle, task: str, timeout: float = 20.0) -> dict[str, Any]:
    """Wait (real time) until `task` is pending on the workflow's current run."""
    for _ in range(int(timeout / 0.05)):
        for t in await handle.query("pending_tasks"):
            if t["task"] == task:
                return t
        await asyncio.sleep(0.05)
    status = await handle.query("status")
    raise AssertionError(f"{task} never became pending; status: {status}")


async def gone(handle: WorkflowHandle, task: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if all(t["task"] != task for t in await handle.query("pending_tasks")):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{task} still pending")


def events(status: dict[str, Any], step: str) -> list[str]:
    return [h["event"] for h in status["history"] if h["step"] == step]
