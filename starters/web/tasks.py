"""The operators' task inbox: `GET /tasks` (HTML) and `GET /tasks.json`, login required.

Every pending human task across the running workflows, filtered with plain GET query
parameters (`assignee`, `process`, `overdue`, `q`; works without JavaScript), each with its
form (posted to `starters.web.task_page`, which completes the task), the handler and JSON
input that complete it, the equivalent `partnerflow act` command and a link to the workflow
in the Temporal UI.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from starters.task_forms import FormField, task_form
from starters.task_inbox import (
    Inbox,
    TaskFilters,
    TaskRow,
    choices,
    collect_tasks,
    counts_by_assignee,
    filter_tasks,
    human_task,
    input_schema,
    workflow_ui_url,
)
from starters.web.deps import Operator, SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.operators import form_token
from starters.web.pages import INTERNAL_PAGE_HEADERS, PAGE_HEADERS, templates, unreachable
from starters.web.task_page import task_url

log = logging.getLogger(__name__)
router = APIRouter()


def task_filters(
    assignee: str | None = None,
    process: str | None = None,
    overdue: str | None = None,
    q: str | None = None,
) -> TaskFilters:
    """The inbox filters from the query string (bounded lengths)."""
    return TaskFilters(
        assignee=(assignee or "").strip()[:100] or None,
        process=(process or "").strip()[:100] or None,
        overdue=(overdue or "") in {"1", "on", "yes", "true"},
        text=(q or "").strip()[:200] or None,
    )


Filters = Annotated[TaskFilters, Depends(task_filters)]


async def _inbox(temporal: TemporalDep) -> Inbox | None:
    try:
        return await collect_tasks(await temporal.client())
    except TemporalUnavailable as exc:
        log.warning("task inbox: Temporal unreachable: %s", exc)
        return None


def row_form(row: TaskRow, operator: str) -> list[FormField] | None:
    """The row's form, prefilled with its example; None when it has none here (a workflow
    that did not answer, a task this code does not declare, a signal)."""
    spec = human_task(row.workflow_type, row.task) if row.answered else None
    if spec is None or row.kind != "update":
        return None
    return task_form(input_schema(spec.model), row.example, operator)


@router.get("/tasks", response_class=HTMLResponse, name="task_inbox")
async def task_inbox(
    request: Request,
    operator: Operator,
    filters: Filters,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> Response:
    """Every pending human task, with how to complete it (operators only)."""
    found = await _inbox(temporal)
    if found is None:
        return unreachable(request, "task inbox")
    now = datetime.now(UTC)
    rows = filter_tasks(found.rows, filters, now)
    assignees, processes = choices(found.rows)
    ui_base = settings.temporal_ui_url.rstrip("/")
    context = {
        "title": "Task inbox",
        "operator": operator,
        "internal": True,
        "referrer_policy": "same-origin",
        "wide": True,
        "nav": "tasks",
        "proxy_mode": settings.auth_mode == "proxy-header",
        "rows": rows,
        "total": len(found.rows),
        "counts": counts_by_assignee(found.rows, now),
        "overdue_total": sum(1 for r in found.rows if r.overdue(now)),
        "assignees": assignees,
        "processes": processes,
        "filters": filters,
        "now": now,
        "unanswered": found.unanswered,
        "workflows": found.workflows,
        "ui_url": lambda workflow_id: workflow_ui_url(
            settings.temporal_ui_url, settings.temporal_namespace, workflow_id
        ),
        "ui_filter_url": f"{ui_base}/namespaces/{settings.temporal_namespace}/workflows",
        "form_for": lambda row: row_form(row, operator),
        "task_url": task_url,
        "csrf": form_token(request, settings, operator),
    }
    return templates.TemplateResponse(request, "tasks.html", context, headers=INTERNAL_PAGE_HEADERS)


@router.get("/tasks.json", name="task_inbox_json")
async def task_inbox_json(operator: Operator, filters: Filters, temporal: TemporalDep) -> Response:
    """The task inbox as JSON (same filters; operators only)."""
    found = await _inbox(temporal)
    if found is None:
        return JSONResponse({"detail": "Temporal is not reachable"}, status_code=503)
    rows = filter_tasks(found.rows, filters, datetime.now(UTC))
    return JSONResponse(
        {
            "tasks": [r.to_json() for r in rows],
            "total": len(found.rows),
            "unanswered": found.unanswered,
        },
        headers=PAGE_HEADERS,
    )
