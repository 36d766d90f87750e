"""The partner portal's tasks: "waiting on you" lists the signed-in partner's own open tasks
across its running workflows (found by their `Program` and `PartnerId` search attributes),
and `/portal/tasks/{workflow_id}/{handler}` completes one with its Workflow Update, as the
operators' task page does, with the partner contact as the actor.

A workflow of another partner or program, or a task that is not the partner's to do, is a
404 that says nothing about it (as if it did not exist)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.client import Client
from temporalio.service import RPCError

from activities import portal_access
from models.constant_time import same_secret
from models.portal import PortalIdentity
from starters.task_forms import FormField, parse_form, problems_by_field, refill, task_form
from starters.task_inbox import TaskRow, collect_tasks, human_tasks_of, input_schema
from starters.task_updates import UpdateOutcome, complete_task
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import PAGE_HEADERS, PageError, message, read_body, same_origin, templates
from starters.web.portal import (
    SESSION_COOKIE,
    PortalPartner,
    PortalSignInRequired,
    portal_brand,
    portal_not_found,
)
from starters.web.task_page import MAX_FORM_BYTES, STATUS_CODES, OpenTask, _posted, open_task
from workflows.search_attributes import PARTNER_ID, PROGRAM

log = logging.getLogger(__name__)
router = APIRouter()

PARTNER_ROLES = frozenset({"partner"})  # the task assignees a partner contact may complete
# Tasks with a portal page of their own (a file to upload, say): the home links there.
TASK_PAGES = {("DirectoryListing", "submit_listing"): "/portal/listing"}
MAX_WORKFLOWS = 500


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def partner_query(identity: PortalIdentity) -> str:
    """The visibility query of the partner's running workflows."""
    return (
        f'ExecutionStatus = "Running" AND Program = {_quoted(identity.program)} '
        f"AND PartnerId = {_quoted(identity.partner_id)}"
    )


async def partner_tasks(client: Client, identity: PortalIdentity) -> list[TaskRow]:
    """The partner's own open tasks, earliest due first (tasks of other roles left out)."""
    inbox = await collect_tasks(client, query=partner_query(identity), limit=MAX_WORKFLOWS)
    return [row for row in inbox.rows if row.assignee in PARTNER_ROLES and row.answered]


def portal_task_url(workflow_id: str, handler: str, task: str | None = None) -> str:
    url = f"/portal/tasks/{quote(workflow_id, safe='')}/{quote(handler, safe='')}"
    return url + (f"?task={quote(task, safe='')}" if task else "")


def portal_form_token(request: Request, settings: SettingsDep) -> str:
    """The CSRF token of the portal's forms: an HMAC of the session cookie."""
    key = hmac.new(
        settings.secret("session_secret").encode(), b"partnerflow-portal-csrf-v1", hashlib.sha256
    ).digest()
    return hmac.new(
        key, request.cookies.get(SESSION_COOKIE, "").encode(), hashlib.sha256
    ).hexdigest()


async def _owned_task(
    temporal: TemporalDep,
    identity: PortalIdentity,
    workflow_id: str,
    handler: str,
    task: str | None,
) -> OpenTask:
    """The open task, when the workflow is the partner's and the task is the partner's to do;
    otherwise the same 404 whether or not it exists."""
    try:
        client = await temporal.client()
        described = await client.get_workflow_handle(workflow_id).describe()
    except TemporalUnavailable as exc:
        raise PageError(503, "Temporal is not reachable", "Please try again in a minute.") from exc
    except RPCError as exc:
        raise portal_not_found() from exc
    attributes = described.typed_search_attributes
    if (
        attributes.get(PROGRAM) != identity.program
        or attributes.get(PARTNER_ID) != identity.partner_id
    ):
        raise portal_not_found()
    try:
        found = await open_task(temporal, workflow_id, handler, task)
    except PageError as exc:
        # "not open" is said only of the partner's own kind of task (done already, say)
        if exc.status_code == 404 or (
            exc.status_code == 409 and not _partner_handler(described.workflow_type, handler)
        ):
            raise portal_not_found() from exc
        raise
    if found.pending.assignee not in PARTNER_ROLES:
        raise portal_not_found()
    return found


def _partner_handler(workflow_type: str | None, handler: str) -> bool:
    """Is `handler` one of the partner's tasks in workflows of this type?"""
    return any(
        spec.handler == handler and spec.assignee in PARTNER_ROLES
        for spec in human_tasks_of(workflow_type)
    )


def _form(found: OpenTask, identity: PortalIdentity) -> list[FormField]:
    fields = task_form(input_schema(found.spec.model), found.pending.example, identity.email)
    shown = []
    for field in fields:
        if field.widget == "fixed" and field.name == "via":
            field = replace(field, value="page", help="answered in the partner portal")
        elif field.widget == "fixed":
            field = replace(field, help="you: the signed-in partner contact")
        elif field.name == "partner_id":  # the session's partner, whatever is posted
            field = replace(
                field, widget="fixed", value=identity.partner_id, help="your organisation"
            )
        shown.append(field)
    return shown


def _page(
    request: Request,
    settings: SettingsDep,
    identity: PortalIdentity,
    found: OpenTask,
    fields: list[FormField],
    *,
    errors: dict[str, str] | None = None,
    outcome: UpdateOutcome | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "title": found.pending.task.replace("_", " "),
        "brand": portal_brand(settings, identity),
        "email": identity.email,
        "task": found.pending,
        "fields": fields,
        "errors": errors or {},
        "outcome": outcome,
        "csrf": portal_form_token(request, settings),
        "action": portal_task_url(found.status.workflow_id, found.pending.handler),
    }
    return templates.TemplateResponse(
        request, "portal_task.html", context, status_code=status_code, headers=PAGE_HEADERS
    )


@router.get("/portal/home", response_class=HTMLResponse)
async def home(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The signed-in partner's portal home: what the program waits for from it."""
    record = await asyncio.to_thread(portal_access.partner_row, settings, partner)
    if record is None:  # removed meanwhile: the guard's next call refuses the session
        raise PortalSignInRequired()
    tasks, problem = [], None
    try:
        now = datetime.now(UTC)
        tasks = [
            {"row": row, "url": TASK_PAGES.get((row.workflow_type, row.handler))
             or portal_task_url(row.workflow_id, row.handler, row.task),
             "overdue": row.overdue(now)}
            for row in await partner_tasks(await temporal.client(), partner)
        ]  # fmt: skip
    except (TemporalUnavailable, RPCError) as exc:
        log.warning("portal home of %s: %s", partner.partner_id, exc)
        problem = "Your open tasks cannot be shown right now; please try again in a minute."
    return templates.TemplateResponse(
        request,
        "portal_home.html",
        {
            "title": f"{record.company} · partner portal",
            "brand": portal_brand(settings, partner),
            "partner": record,
            "email": partner.email,
            "tasks": tasks,
            "tasks_error": problem,
        },
        headers=PAGE_HEADERS,
    )


@router.get("/portal/tasks/{workflow_id:path}/{handler}", response_class=HTMLResponse)
async def portal_task(
    request: Request,
    workflow_id: str,
    handler: str,
    settings: SettingsDep,
    temporal: TemporalDep,
    partner: PortalPartner,
    task: str | None = None,
) -> Response:
    """One of the partner's open tasks, with its form."""
    found = await _owned_task(temporal, partner, workflow_id, handler, task)
    return _page(request, settings, partner, found, _form(found, partner))


@router.post("/portal/tasks/{workflow_id:path}/{handler}", response_class=HTMLResponse)
async def portal_task_submit(
    request: Request,
    workflow_id: str,
    handler: str,
    settings: SettingsDep,
    temporal: TemporalDep,
    partner: PortalPartner,
) -> Response:
    """Complete the task (its Workflow Update) and show the answer, or the form again with
    the validator's message by each field."""
    body = await read_body(request, MAX_FORM_BYTES)
    if body is None:
        return message(request, 413, "The form is too large", "Nothing was done.")
    posted = _posted(body)
    if posted is None:
        return message(request, 400, "The form could not be read", "Nothing was done.")
    token = portal_form_token(request, settings)
    if not same_origin(request, settings) or not same_secret(posted.get("_csrf", ""), token):
        return message(
            request, 403, "This form has expired",
            "The form expired or came from another site, so nothing was done. Open the task "
            "again from the portal's home.",
        )  # fmt: skip
    found = await _owned_task(temporal, partner, workflow_id, handler, posted.get("_task"))
    fields = _form(found, partner)
    payload, problems = parse_form(fields, posted)
    if problems:
        return _page(
            request, settings, partner, found, refill(fields, posted), errors=problems,
            status_code=400,
        )  # fmt: skip
    outcome = await complete_task(found.client, workflow_id, found.pending.handler, payload)
    if outcome.status == "failed":
        raise PageError(409, "The task could not be completed", outcome.message)
    return _page(
        request, settings, partner, found, refill(fields, posted),
        errors=problems_by_field(outcome.problems, fields), outcome=outcome,
        status_code=STATUS_CODES[outcome.status],
    )  # fmt: skip
