"""Program insights: `GET /insights` (HTML with inline SVG charts), `GET /insights.json` and
`GET /insights/{table}.csv`, operators only.

For one program and a date range (tasks opened, deals and partners created in it): the
service levels of the human steps (decided on time, late, open past due; median and 90th
percentile business days to decision; escalations; the weekly trend) and the funnels of
applications and deal registrations. Read from the records database only (`task_events`,
`deal_registrations`, `partners`), never from workflow histories; computed by
`models.insights`, drawn by `starters.web.insights_charts`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from activities.insights import list_deal_statuses, list_partner_statuses, list_task_events
from models.insights import TABLES, build_report
from models.settings import Settings
from starters.web import insights_charts as charts
from starters.web.deps import Operator, SettingsDep
from starters.web.pages import INTERNAL_PAGE_HEADERS, PAGE_HEADERS, templates

log = logging.getLogger(__name__)
router = APIRouter()
PROGRAMS = {"mattermost": "Mattermost", "rocketchat": "Rocket.Chat"}
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
TABLE_TITLES = {
    "sla": "Service levels by human step",
    "trend": "Decisions by week",
    "var_funnel": "VAR applications",
    "si_funnel": "SI applications",
    "deal_funnel": "Deal registrations",
    "rc_onboarding": "Rocket.Chat onboardings by step",
}


def _date(value: str | None, field: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{field}: must be a date as YYYY-MM-DD, got {value!r}") from None


def period(program: str, start: str | None, end: str | None) -> tuple[str, date, date]:
    """The checked selection: a known program and start <= end within three years."""
    if program not in PROGRAMS:
        raise HTTPException(422, f"program: must be one of {', '.join(PROGRAMS)}")
    today = datetime.now(UTC).date()
    last = _date(end, "end", today)
    first = _date(start, "start", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise HTTPException(422, "start: must not be after end")
    if (last - first).days > MAX_DAYS:
        raise HTTPException(422, f"start: the range may span at most {MAX_DAYS} days")
    return program, first, last


def _report(settings: Settings, program: str, first: date, last: date) -> dict[str, Any]:
    events = list_task_events(settings, program, first, last)
    deals = list_deal_statuses(settings, first, last) if program == "mattermost" else []
    partners = list_partner_statuses(settings, program, first, last)
    now = datetime.now(UTC)
    return build_report(events, deals, partners, now, first, last, settings.calendar_country)


async def report_for(
    settings: Settings, program: str, start: str | None, end: str | None
) -> tuple[str, date, date, dict[str, Any]]:
    program, first, last = period(program, start, end)
    report = await asyncio.to_thread(_report, settings, program, first, last)
    return program, first, last, report


@router.get("/insights", response_class=HTMLResponse, name="insights")
async def insights_page(
    request: Request,
    operator: Operator,
    settings: SettingsDep,
    program: str = "mattermost",
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Service levels and funnels of one program over a date range (operators only)."""
    program, first, last, report = await report_for(settings, program, start, end)
    svg = {
        "sla": charts.sla_chart(report["sla"]),
        "trend": charts.trend_chart(report["trend"]),
        "rc_onboarding": charts.onboarding_chart(report["rc_onboarding"]),
        **{
            name: charts.funnel_chart(TABLE_TITLES[name], report[name])
            for name in ("var_funnel", "si_funnel", "deal_funnel")
        },
    }
    context = {
        "title": "Insights",
        "operator": operator,
        "internal": True,
        "referrer_policy": "same-origin",
        "wide": True,
        "nav": "insights",
        "proxy_mode": settings.auth_mode == "proxy-header",
        "programs": PROGRAMS,
        "program": program,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "report": report,
        "svg": svg,
        "titles": TABLE_TITLES,
        "query": f"program={program}&start={first.isoformat()}&end={last.isoformat()}",
    }
    return templates.TemplateResponse(
        request, "insights.html", context, headers=INTERNAL_PAGE_HEADERS
    )


@router.get("/insights.json", name="insights_json")
async def insights_json(
    operator: Operator,
    settings: SettingsDep,
    program: str = "mattermost",
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """Every table behind the insights charts, as JSON (operators only)."""
    program, first, last, report = await report_for(settings, program, start, end)
    body = {"program": program, "start": first.isoformat(), "end": last.isoformat(), **report}
    return JSONResponse(body, headers=PAGE_HEADERS)


@router.get("/insights/{table}.csv", name="insights_csv")
async def insights_csv(
    table: str,
    operator: Operator,
    settings: SettingsDep,
    program: str = "mattermost",
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """One table behind an insights chart, as CSV (operators only)."""
    if table not in TABLES:
        raise HTTPException(404, f"table: must be one of {', '.join(TABLES)}")
    program, first, last, report = await report_for(settings, program, start, end)
    filename = f"partnerflow-{program}-{table}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        to_csv(report[table]),
        media_type="text/csv; charset=utf-8",
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


def to_csv(rows: list[dict[str, object]]) -> str:
    """Rows as CSV with a header line (empty cells for None)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
    return out.getvalue()
