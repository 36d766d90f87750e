"""One open task of the inbox: `GET /tasks/{workflow_id}/{handler}` shows its form, and the
form's `POST` to the same address completes the task; login required.

The form comes from the task input's JSON Schema (`starters.task_forms`), prefilled with the
task's current example; the signed-in operator's name fills the actor field, and the server
sets it again on POST whatever was sent. A POST needs the form's CSRF token (an HMAC of the
session, `operators.form_token`) and a same-site Origin, else 403 and nothing runs. It then
executes the task's Workflow Update with `starters.task_updates.complete_task`, as
`partnerflow act` does, and the page says what came of it:

- accepted (200): the decision, who decided, the new stage and the next tasks;
- rejected (422): the validator's message next to each field, in the form as it was posted;
  400 when a value is not even of its type (a word in a number, broken JSON);
- unanswered (503): no worker took the update; nothing was recorded, submit again;
- the task is not open (409), no such workflow (404), Temporal unreachable (503).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.constant_time import same_secret
from models.tasks import PendingTask, WorkflowStatus
from starters.task_forms import FormField, parse_form, problems_by_field, refill, task_form
from starters.task_inbox import human_task, input_schema, workflow_ui_url
from starters.task_updates import PAGE_WAIT, UpdateOutcome, complete_task
from starters.web.deps import Operator, SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.operators import form_token
from starters.web.pages import (
    INTERNAL_PAGE_HEADERS,
    PageError,
    message,
    read_body,
    same_origin,
    templates,
)
from workflows.human_tasks import HumanTask

log = logging.getLogger(__name__)
router = APIRouter()

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 200
STATUS_CODES = {"accepted": 200, "rejected": 422, "unanswered": 503}


def task_url(workflow_id: str, handler: str) -> str:
    """The task's page (and its form's action)."""
    return f"/tasks/{quote(workflow_id, safe='')}/{quote(handler, safe='')}"


@dataclass(frozen=True)
class OpenTask:
    """A task the workflow waits for now, with the declaration of its input."""

    client: Client
    status: WorkflowStatus
    pending: PendingTask
    spec: HumanTask


async def open_task(
    temporal: TemporalDep, workflow_id: str, handler: str, task: str | None
) -> OpenTask:
    """The workflow's open task of `handler` (named `task`, when several share the handler);
    a message page (`PageError`) when there is none."""
    missing = PageError(404, "No such workflow", f"There is no workflow {workflow_id!r}.")
    if not workflow_id.strip():
        raise missing
    try:
        client = await temporal.client()
        status = await client.get_workflow_handle(workflow_id).query(
            "status", result_type=WorkflowStatus, rpc_timeout=PAGE_WAIT
        )
    except TemporalUnavailable as exc:
        log.warning("task page: Temporal unreachable: %s", exc)
        raise PageError(503, "Temporal is not reachable", "Please try again in a minute.") from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise missing from exc
        raise _no_answer(workflow_id, exc) from exc
    except WorkflowQueryFailedError as exc:
        raise _no_answer(workflow_id, exc) from exc
    pending = next(
        (t for t in status.pending_tasks if t.handler == handler and (not task or t.task == task)),
        None,
    )
    if pending is None:
        raise PageError(
            409,
            "This task is not open",
            f"{workflow_id} does not wait for {task or handler} now (stage {status.stage}): it "
            "was completed, or the process moved on. Nothing was done.",
        )
    spec = human_task(status.workflow_type, pending.task)
    if spec is None or pending.kind != "update":
        raise PageError(
            409,
            "No form for this task",
            f"{pending.task} of {status.workflow_type} has no form here: complete it from "
            "the Temporal UI or with `partnerflow act`.",
        )
    return OpenTask(client, status, pending, spec)


def _no_answer(workflow_id: str, exc: Exception) -> PageError:
    log.warning("status query of %s failed: %s", workflow_id, exc)
    return PageError(
        503,
        "The workflow did not answer",
        f"{workflow_id} did not answer (is its worker running?). Nothing was done; try again.",
    )


def _form(found: OpenTask, operator: str) -> list[FormField]:
    return task_form(input_schema(found.spec.model), found.pending.example, operator)


def _page(
    request: Request,
    settings: SettingsDep,
    operator: str,
    found: OpenTask,
    fields: list[FormField],
    *,
    errors: dict[str, str] | None = None,
    outcome: UpdateOutcome | None = None,
    status_code: int = 200,
) -> Response:
    workflow_id = found.status.workflow_id
    context: dict[str, Any] = {
        "title": f"{found.pending.task} · {workflow_id}",
        "operator": operator,
        "internal": True,
        "referrer_policy": "same-origin",
        "nav": "tasks",
        "proxy_mode": settings.auth_mode == "proxy-header",
        "status": found.status,
        "task": found.pending,
        "fields": fields,
        "errors": errors or {},
        "outcome": outcome,
        "csrf": form_token(request, settings, operator),
        "action": task_url(workflow_id, found.pending.handler),
        "workflow_url": workflow_ui_url(
            settings.temporal_ui_url, settings.temporal_namespace, workflow_id
        ),
    }
    return templates.TemplateResponse(
        request, "task.html", context, status_code=status_code, headers=INTERNAL_PAGE_HEADERS
    )


@router.get("/tasks/{workflow_id:path}/{handler}", response_class=HTMLResponse, name="task_page")
async def task_page(
    request: Request,
    workflow_id: str,
    handler: str,
    operator: Operator,
    settings: SettingsDep,
    temporal: TemporalDep,
    task: str | None = None,
) -> Response:
    """One open task with its form (operators only)."""
    found = await open_task(temporal, workflow_id, handler, task)
    return _page(request, settings, operator, found, _form(found, operator))


def _posted(body: bytes) -> dict[str, str] | None:
    """The urlencoded form's fields (the last of a repeated name); None if unreadable."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


@router.post("/tasks/{workflow_id:path}/{handler}", response_class=HTMLResponse)
async def task_submit(
    request: Request,
    workflow_id: str,
    handler: str,
    operator: Operator,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Complete the task with the posted form (CSRF-checked), as its Workflow Update; the
    page shows the result, or the form again with the validator's message by each field."""
    body = await read_body(request, MAX_FORM_BYTES)
    if body is None:
        return message(request, 413, "The form is too large", "Nothing was done.")
    posted = _posted(body)
    if posted is None:
        return message(request, 400, "The form could not be read", "Nothing was done.")
    token = form_token(request, settings, operator)
    if not same_origin(request, settings) or not same_secret(posted.get("_csrf", ""), token):
        return message(
            request,
            403,
            "This form has expired",
            "The form expired or came from another site, so nothing was done. Open the task "
            "inbox again and submit the task from there.",
        )
    found = await open_task(temporal, workflow_id, handler, posted.get("_task"))
    fields = _form(found, operator)
    payload, problems = parse_form(fields, posted)
    if problems:
        shown = refill(fields, posted)
        return _page(request, settings, operator, found, shown, errors=problems, status_code=400)
    outcome = await complete_task(found.client, workflow_id, found.pending.handler, payload)
    if outcome.status == "failed":
        raise PageError(
            404 if outcome.not_found else 409, "The task could not be completed", outcome.message
        )
    errors = problems_by_field(outcome.problems, fields)
    return _page(
        request,
        settings,
        operator,
        found,
        refill(fields, posted),
        errors=errors,
        outcome=outcome,
        status_code=STATUS_CODES[outcome.status],
    )
