"""The accept, sign and listing pages send a person's answer as the task's Workflow Update,
on the dev server with the real worker: accepted, the process has already moved when the
page answers; refused by the workflow's validator (an input the page's own checks let
through), the form shows the validator's reason and nothing is recorded; with no worker
answering, the answer goes as the signal, the page says it is recorded, and once a worker
runs the process takes it exactly once.

The refusals: a sign page whose stored text no longer matches the workflow's draft (hash
mismatch), and an accept or listing page left open while the same answer was taken (the
task is no longer pending): the page's state is the one loaded before, as a second tab
has it (`app.dependency_overrides` on the POST's loader).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from fastapi import Request
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetStickyTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from activities.agreements import get_agreement
from activities.database import session_scope
from models.directory import LISTING_EXAMPLE
from models.links import make_token
from models.settings import Settings
from models.tables import AgreementRow
from models.tasks import HistoryEntry, WorkflowStatus
from starters.web.accept import load_order
from starters.web.app import create_app
from starters.web.deps import TemporalConnection
from starters.web.directory import FIELDS, load_listing
from tests.eventually import eventually
from tests.starters.conftest import PagesStack
from tests.starters.test_directory_pages import listing_input, png
from workers.main import build_worker

LISTING = {field: LISTING_EXAMPLE[field] for field in FIELDS}


def link(settings: Settings, workflow_id: str, purpose: str, subject: str | None = None) -> str:
    expires = datetime.now(UTC) + timedelta(days=1)
    token = make_token(settings.secret("link_secret"), workflow_id, purpose, expires, subject)
    return {"accept_terms": "/accept/", "sign_agreement": "/sign/"}.get(
        purpose, "/listing/"
    ) + token


@contextlib.asynccontextmanager
async def web(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def loaded_for_a_post(loader: Any, app: Any, settings: Settings, path: str) -> Any:
    """What the page's loader gives a POST to `path` now (the page as a tab has it)."""
    post = Request({"type": "http", "method": "POST"})
    return await loader(path.split("/")[-1], post, settings, TemporalConnection(app))


async def status(client: Client, workflow_id: str) -> WorkflowStatus:
    handle = client.get_workflow_handle(workflow_id)
    return await handle.query("status", result_type=WorkflowStatus)


def entries(state: WorkflowStatus, step: str, event: str) -> list[HistoryEntry]:
    return [h for h in state.history if h.step == step and h.event == event]


def decisions(state: WorkflowStatus, step: str) -> list[HistoryEntry]:
    """The decisions recorded for `step` (`decide()`: the entry with the whole input; the
    handler notes an entry of its own as well)."""
    return [h for h in entries(state, step, "accepted") if "agreed" in h.detail]


def signatures(state: WorkflowStatus, step: str) -> list[HistoryEntry]:
    """The signatures noted for `step` (the handler's entry, with the signer's name and
    title; `decide()` notes one of its own)."""
    return [h for h in entries(state, step, "signed") if "title" in h.detail]


def pending(state: WorkflowStatus) -> set[str]:
    return {t.task for t in state.pending_tasks}


def acceptance(order: dict[str, Any]) -> dict[str, str]:
    contact = order["end_customer"]["contact"]
    return {"name": contact["name"], "title": "Head of IT", "email": contact["email"]} | {
        "agreed": "yes"
    }


async def start_listing(stack: PagesStack) -> str:
    data = listing_input()
    handle: WorkflowHandle = await stack.client.start_workflow(
        "DirectoryListing",
        data,
        id=f"directory-{data.partner_id}",
        task_queue=stack.settings.temporal_task_queue,
    )
    stack.started.append(handle.id)
    await stack.task(handle.id, "submit_listing")
    return handle.id


async def post_listing(http: httpx.AsyncClient, path: str) -> httpx.Response:
    return await http.post(path, data=LISTING, files={"logo": ("logo.png", png(240), "image/png")})


async def resale_to_sign(stack: PagesStack) -> tuple[str, dict[str, Any]]:
    """A one-time resale waiting for the reseller's signature, and that task."""
    resale_id, _ = await stack.start("authorized-resale")
    await stack.complete(resale_id, "reach_out")
    await stack.complete(resale_id, "approve_resale")
    return resale_id, await stack.task(resale_id, "sign_reseller_agreement")


async def at_rest(client: Client, workflow_id: str) -> bool:
    """No activity and no workflow task in flight: a worker stopped now leaves nothing half
    done (a task it held would wait for its timeout, 10 s, before another worker got it)."""
    description = await client.get_workflow_handle(workflow_id).describe()
    raw = description.raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


async def forget_sticky_queue(client: Client, workflow_id: str) -> None:
    """Send the workflow's next task to its task queue, not to the stopped worker's sticky
    queue (which the server otherwise gives up on only after 10 seconds)."""
    await client.workflow_service.reset_sticky_task_queue(
        ResetStickyTaskQueueRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )


async def test_accept_page_moves_the_order_at_once_or_shows_the_validators_reason(
    pages_stack: PagesStack,
) -> None:
    settings, client = pages_stack.settings, pages_stack.client
    order_id, order = await pages_stack.start("order")
    await pages_stack.task(order_id, "accept_terms")
    path = link(settings, order_id, "accept_terms")
    app = create_app(settings, client)
    # the page as a second tab loaded it, before the terms were accepted in the first
    second_tab = await loaded_for_a_post(load_order, app, settings, path)
    async with web(app) as http:
        accepted = await http.post(path, data=acceptance(order), headers={"User-Agent": "B/1"})
        assert accepted.status_code == 303 and accepted.headers["location"].endswith("/done")
        moved = await status(client, order_id)  # the update waited: no need to wait here
        assert "accept_terms" not in pending(moved) and "review_license" in pending(moved)
        [decision] = decisions(moved, "accept_terms")
        assert decision.detail["via"] == "page" and decision.detail["ip"] == "127.0.0.1"
        assert decision.detail["user_agent"] == "B/1" and decision.detail["title"] == "Head of IT"

        app.dependency_overrides[load_order] = lambda: second_tab
        refused = await http.post(path, data=acceptance(order))
        assert refused.status_code == 409
        assert "Nothing was recorded" in refused.text
        assert f"accept_terms is not pending (stage {moved.stage})" in refused.text
        assert 'value="Head of IT"' in refused.text  # what was typed is kept
        assert await status(client, order_id) == moved

        del app.dependency_overrides[load_order]
        again = await http.post(path, data=acceptance(order))  # the double submit
        assert again.status_code == 303 and again.headers["location"].endswith("/done")
    assert len(decisions(await status(client, order_id), "accept_terms")) == 1


async def test_sign_page_signs_at_once_or_shows_the_validators_reason(
    pages_stack: PagesStack,
) -> None:
    settings, client = pages_stack.settings, pages_stack.client
    resale_id, task = await resale_to_sign(pages_stack)
    agreement_id, sha256 = task["example"]["agreement_id"], task["example"]["sha256"]
    path = link(settings, resale_id, "sign_agreement", agreement_id)
    form = {"name": "Jonas Weber", "title": "Managing Director", "email": "j@example.com"}
    await eventually(partial(at_rest, client, resale_id), what="the resale at rest")
    before = await status(client, resale_id)
    # the stored text changed after the workflow prepared it: the page shows (and sends) the
    # stored hash, which the workflow's draft does not have
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(AgreementRow, agreement_id)
        assert row is not None
        row.sha256 = "f" * 64
    async with web(create_app(settings, client)) as http:
        refused = await http.post(path, data={**form, "sha256": "f" * 64, "agreed": "yes"})
        assert refused.status_code == 409
        assert "the signed text is not the current version of the agreement" in refused.text
        assert 'value="Managing Director"' in refused.text
        assert await status(client, resale_id) == before

        with session_scope(settings.resolved_database_url) as session:
            row = session.get(AgreementRow, agreement_id)
            assert row is not None
            row.sha256 = sha256
        signed = await http.post(
            path, data={**form, "sha256": sha256, "agreed": "yes"}, headers={"User-Agent": "B/1"}
        )
        assert signed.status_code == 303 and signed.headers["location"].endswith("/done")
        moved = await status(client, resale_id)
        assert "sign_reseller_agreement" not in pending(moved)
        assert "submit_purchase_order" in pending(moved)
        [signature] = signatures(moved, "sign_reseller_agreement")
        assert signature.detail["title"] == "Managing Director"
        stored = get_agreement(settings, agreement_id)
        assert stored is not None and stored.signer_title == "Managing Director"
        assert (stored.signer_ip, stored.signer_user_agent) == ("127.0.0.1", "B/1")


async def test_listing_page_takes_the_listing_at_once_or_shows_the_validators_reason(
    pages_stack: PagesStack,
) -> None:
    settings, client = pages_stack.settings, pages_stack.client
    workflow_id = await start_listing(pages_stack)
    path = link(settings, workflow_id, "directory_listing")
    app = create_app(settings, client)
    second_tab = await loaded_for_a_post(load_listing, app, settings, path)
    async with web(app) as http:
        taken = await post_listing(http, path)
        assert taken.status_code == 303 and taken.headers["location"].endswith("/done")
        moved = await status(client, workflow_id)
        assert moved.stage == "listing_review" and pending(moved) == {"review_listing"}
        assert moved.facts["submitted_listing"]["name"] == LISTING["name"]

        app.dependency_overrides[load_listing] = lambda: second_tab
        refused = await post_listing(http, path)
        assert refused.status_code == 409
        assert "submit_listing is not pending (stage listing_review)" in refused.text
        assert f'value="{LISTING["website"]}"' in refused.text
        assert await status(client, workflow_id) == moved


async def test_with_no_worker_the_pages_record_the_answer_and_it_is_taken_once(
    pages_stack: PagesStack,
) -> None:
    """The workflows' worker stops once each waits for its person; the pages (a 1-second
    wait) send the signals and say so; a worker started afterwards applies each once."""
    client = pages_stack.client
    settings = pages_stack.settings.model_copy(
        update={
            "temporal_task_queue": f"pages-down-{uuid.uuid4().hex[:8]}",
            "page_wait_seconds": 1,
        }
    )
    stack = PagesStack(client, settings)
    app = create_app(settings, client)
    async with build_worker(client, settings):
        order_id, order = await stack.start("order")
        resale_id, task = await resale_to_sign(stack)
        listing_id = await start_listing(stack)
        await stack.task(order_id, "accept_terms")
        accept_path = link(settings, order_id, "accept_terms")
        # the accept page's state as read just before the worker stopped: its POST tries the
        # update, which no worker takes; the sign and listing pages find their state query
        # unanswered and do not try it
        loaded = await loaded_for_a_post(load_order, app, settings, accept_path)
        for workflow_id in (order_id, resale_id, listing_id):
            await eventually(partial(at_rest, client, workflow_id), what=f"{workflow_id} at rest")
    for workflow_id in (order_id, resale_id, listing_id):
        await forget_sticky_queue(client, workflow_id)
    app.dependency_overrides[load_order] = lambda: loaded
    sign_path = link(settings, resale_id, "sign_agreement", task["example"]["agreement_id"])
    signature = {"name": "Jonas Weber", "title": "CEO", "email": "j@example.com", "agreed": "yes"}
    async with web(app) as http:
        answers = await asyncio.gather(
            http.post(accept_path, data=acceptance(order)),
            http.post(sign_path, data={**signature, "sha256": task["example"]["sha256"]}),
            post_listing(http, link(settings, listing_id, "directory_listing")),
        )
    for answer, what in zip(answers, ("acceptance", "signature", "listing"), strict=True):
        assert answer.status_code == 202, answer.text
        assert f"your {what} is recorded" in answer.text and "will be processed" in answer.text

    async with build_worker(client, settings):

        async def taken() -> bool:
            order_now = await status(client, order_id)
            resale_now = await status(client, resale_id)
            listing_now = await status(client, listing_id)
            return (
                "review_license" in pending(order_now)
                and "submit_purchase_order" in pending(resale_now)
                and listing_now.stage == "listing_review"
            )

        await eventually(taken, what="the three answers taken")
        order_now = await status(client, order_id)
        [decision] = decisions(order_now, "accept_terms")
        assert decision.detail["via"] == "page"
        assert not entries(order_now, "accept_terms", "rejected")
        listing_now = await status(client, listing_id)
        assert len(entries(listing_now, "submit_listing", "submitted")) == 1
        assert not [h for h in listing_now.history if h.event == "rejected"]
        resale_now = await status(client, resale_id)
        assert len(signatures(resale_now, "sign_reseller_agreement")) == 1
        assert not [h for h in resale_now.history if h.event == "rejected"]
        stored = get_agreement(settings, task["example"]["agreement_id"])
        assert stored is not None and stored.status == "signed" and stored.signer_title == "CEO"
