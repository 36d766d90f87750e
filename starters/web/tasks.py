"""The operators' task inbox: `GET /tasks` (HTML) and `GET /tasks.json`, login required.

Every pending human task across the running workflows, filtered with plain GET query
parameters (`assignee`, `process`, `overdue`, `q`; works without JavaScript), with the
handler and JSON input that completes each task, the equivalent `partnerflow act` command
and a link to the workflow in the Temporal UI.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from models.settings import Settings
from starters.task_inbox import (
    Inbox,
    TaskFilters,
    choices,
    collect_tasks,
    counts_by_assignee,
    filter_tasks,
    workflow_ui_url,
)
from starters.web.auth import INTERNAL_PAGE_HEADERS, require_operator

log = logging.getLogger(__name__)


def _filters(
    assignee: str | None, process: str | None, overdue: str | None, q: str | None
) -> TaskFilters:
    return TaskFilters(
        assignee=(assignee or "").strip()[:100] or None,
        process=(process or "").strip()[:100] or None,
        overdue=(overdue or "") in {"1", "on", "yes", "true"},
        text=(q or "").strip()[:200] or None,
    )


def register_task_pages(app: FastAPI, settings: Settings) -> None:
    from starters.web.app import PAGE_HEADERS, TemporalUnavailable, _message, _temporal, templates

    async def inbox() -> Inbox | None:
        try:
            client = await _temporal(app)
            return await collect_tasks(client)
        except TemporalUnavailable as exc:
            log.warning("task inbox: Temporal unreachable: %s", exc)
            return None

    @app.get("/tasks", response_class=HTMLResponse, name="task_inbox")
    async def task_inbox(
        request: Request,
        assignee: str | None = None,
        process: str | None = None,
        overdue: str | None = None,
        q: str | None = None,
    ) -> Response:
        """Every pending human task, with how to complete it (operators only)."""
        operator = require_operator(request, settings)
        found = await inbox()
        if found is None:
            return _message(
                request,
                503,
                "Temporal is not reachable",
                "The task inbox cannot be loaded right now. Please try again in a minute.",
            )
        now = datetime.now(UTC)
        filters = _filters(assignee, process, overdue, q)
        rows = filter_tasks(found.rows, filters, now)
        assignees, processes = choices(found.rows)
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
            "ui_filter_url": f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows",
        }
        return templates.TemplateResponse(
            request, "tasks.html", context, headers=INTERNAL_PAGE_HEADERS
        )

    @app.get("/tasks.json", name="task_inbox_json")
    async def task_inbox_json(
        request: Request,
        assignee: str | None = None,
        process: str | None = None,
        overdue: str | None = None,
        q: str | None = None,
    ) -> Response:
        """The task inbox as JSON (same filters; operators only)."""
        require_operator(request, settings)
        found = await inbox()
        if found is None:
            return JSONResponse({"detail": "Temporal is not reachable"}, status_code=503)
        now = datetime.now(UTC)
        rows = filter_tasks(found.rows, _filters(assignee, process, overdue, q), now)
        return JSONResponse(
            {
                "tasks": [r.to_json() for r in rows],
                "total": len(found.rows),
                "unanswered": found.unanswered,
            },
            headers=PAGE_HEADERS,
        )
