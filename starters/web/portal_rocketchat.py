"""The partner portal's Rocket.Chat pages (issue 15, item 3): the onboarding checklist with
the 60-day training countdown, the monthly sales report form, the quarterly reviews and the
revenue-share statements with their invoices.

Every page answers only about the session's partner of the Rocket.Chat program: the
workflows are addressed by ids built from the session's partner id
(`rc-onboarding-{partner}`, `rc-partnership-{partner}`, `rc-revenue-share-{partner}-{month}`),
never from the request; a session of another program gets 404 "Not found"."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.rocketchat_records import list_sales_reports
from models.constant_time import same_secret
from models.portal import PortalIdentity
from models.rocketchat_billing import revenue_share_workflow_id
from starters.task_updates import UpdateOutcome, complete_task
from starters.web import portal_rc_report as report_form
from starters.web import portal_rc_views as views
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import FormTooLarge, PageError, read_form, same_origin
from starters.web.portal import PortalPartner, portal_page, require_program
from starters.web.portal_tasks import PARTNER_ROLES, portal_form_token, portal_task_url
from starters.web.task_page import STATUS_CODES

log = logging.getLogger(__name__)
router = APIRouter()

PROGRAM = "rocketchat"
REPORT_HANDLER = "submit_sales_report"
MAX_SHARE_QUERIES = 24  # the newest months' share workflows asked for their stage
MAX_FIELDS = 300
REPORT_FORM_BYTES = 64 * 1024  # the report with every list at its most rows


def now() -> datetime:
    """The time the countdown and the due dates are read against (tests put the
    time-skipping server's time here)."""
    return datetime.now(UTC)


def _rocketchat(partner: PortalIdentity) -> PortalIdentity:
    """The pages exist only for Rocket.Chat partners: anyone else gets the same 404."""
    return require_program(partner, PROGRAM)


def onboarding_id(partner: PortalIdentity) -> str:
    return f"rc-onboarding-{partner.partner_id}"


def partnership_id(partner: PortalIdentity) -> str:
    return f"rc-partnership-{partner.partner_id}"


async def _client(temporal: TemporalDep) -> Client:
    try:
        return await temporal.client()
    except TemporalUnavailable as exc:
        raise PageError(503, "Temporal is not reachable", "Please try again in a minute.") from exc


async def status_of(client: Client, workflow_id: str) -> dict[str, Any] | None:
    """The workflow's `status` answer, or None when there is no such workflow."""
    try:
        answer = await client.get_workflow_handle(workflow_id).query("status")
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        log.warning("status of %s: %s", workflow_id, exc)
        raise PageError(
            503, "Your programme's records cannot be read now", "Please try again in a minute."
        ) from exc
    return answer if isinstance(answer, dict) else None


async def partnership_status(
    temporal: TemporalDep, partner: PortalIdentity
) -> dict[str, Any] | None:
    """The session's partnership's `status` (the guard first: Rocket.Chat sessions only)."""
    _rocketchat(partner)
    return await status_of(await _client(temporal), partnership_id(partner))


def _fresh_values(status: dict[str, Any] | None, partner: PortalIdentity) -> dict[str, str]:
    """A fresh report form, for the oldest month still to report."""
    months = ((status or {}).get("facts") or {}).get("outstanding_reports") or [""]
    return report_form.initial_values(months[0], partner.email)


def _partner_tasks(status: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The partner's open tasks of one workflow, each with its portal page."""
    if status is None:
        return []
    found = []
    for task in status.get("pending_tasks") or []:
        if task.get("assignee") not in PARTNER_ROLES:
            continue
        url = (
            "/portal/rocketchat/report"
            if task.get("handler") == REPORT_HANDLER
            else portal_task_url(status["workflow_id"], task["handler"], task.get("task"))
        )
        found.append({**task, "url": url, "due": str(task.get("due_at") or "")[:10]})
    return found


@router.get("/portal/rocketchat", response_class=HTMLResponse)
async def onboarding(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The onboarding checklist (seven steps), the program summary, the 60-day training
    countdown and the partner's open tasks."""
    _rocketchat(partner)
    client = await _client(temporal)
    onboarding_status, partnership = await asyncio.gather(
        status_of(client, onboarding_id(partner)), status_of(client, partnership_id(partner))
    )
    facts = (onboarding_status or {}).get("facts") or {}
    return portal_page(
        request, settings, partner, "portal_rc_onboarding.html",
        {
            "title": "Onboarding",
            "found": onboarding_status is not None,
            "stage": (onboarding_status or {}).get("stage", ""),
            "steps": views.onboarding_steps(onboarding_status or {}),
            "summary": facts.get("program_summary") or [],
            "countdown": views.training_countdown(facts, now()),
            "tasks": _partner_tasks(onboarding_status) + _partner_tasks(partnership),
        },
        nav="rc-onboarding",
    )  # fmt: skip


# --- the monthly sales report ----------------------------------------------------------------


def _report_page(
    request: Request,
    settings: SettingsDep,
    partner: PortalIdentity,
    status: dict[str, Any] | None,
    values: dict[str, str],
    counts: dict[str, int],
    *,
    errors: dict[str, str] | None = None,
    outcome: UpdateOutcome | None = None,
    share: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    facts = (status or {}).get("facts") or {}
    return portal_page(
        request, settings, partner, "portal_rc_report.html",
        {
            "title": "Monthly sales report",
            "found": status is not None,
            "open_months": facts.get("outstanding_reports") or [],
            "values": values,
            "counts": counts,
            "lists": report_form.LISTS,
            "products": report_form.PRODUCTS,
            "errors": errors or {},
            "outcome": outcome,
            "share": share,
            "csrf": portal_form_token(request, settings),
        },
        nav="rc-report", status_code=status_code,
    )  # fmt: skip


@router.get("/portal/rocketchat/report", response_class=HTMLResponse)
async def report(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The monthly sales report form, prefilled with the oldest month still to report."""
    status = await partnership_status(temporal, partner)
    values = _fresh_values(status, partner)
    return _report_page(request, settings, partner, status, values, report_form.row_counts(None))


async def _posted(request: Request) -> dict[str, str]:
    try:
        form: FormData = await read_form(request, REPORT_FORM_BYTES, max_fields=MAX_FIELDS)
    except FormTooLarge as exc:
        raise PageError(413, "The form is too large", f"Nothing was recorded: {exc}.") from None
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/portal/rocketchat/report", response_class=HTMLResponse)
async def report_submit(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Submit the report: the partnership's `submit_sales_report` Workflow Update; the answer
    (accepted, with the month's revenue share) or the validator's messages by field."""
    _rocketchat(partner)
    posted = await _posted(request)
    token = portal_form_token(request, settings)
    if not same_origin(request, settings) or not same_secret(posted.get("_csrf", ""), token):
        raise PageError(
            403, "This form has expired",
            "The form expired or came from another site, so nothing was recorded. Open the "
            "report form again from the portal.",
        )  # fmt: skip
    client = await _client(temporal)
    status = await status_of(client, partnership_id(partner))
    values = report_form.form_values(posted)
    more = posted.get("_action") == "more_rows"
    counts = report_form.row_counts(posted, more=more)
    if more or status is None:
        return _report_page(request, settings, partner, status, values, counts)
    payload, problems = report_form.parse_report(posted, counts, partner.email)
    if problems:
        return _report_page(
            request, settings, partner, status, values, counts, errors=problems, status_code=400
        )
    outcome = await complete_task(client, partnership_id(partner), REPORT_HANDLER, payload)
    if outcome.status == "failed":
        raise PageError(409, "The report could not be submitted", "Nothing was recorded.")
    share = None
    if outcome.status == "accepted":  # the share, and a fresh form for the next open month
        share = await _share_of(settings, partner, payload["month"])
        status = await status_of(client, partnership_id(partner))
        values = _fresh_values(status, partner)
        counts = report_form.row_counts(None)
    return _report_page(
        request, settings, partner, status, values, counts,
        errors=report_form.field_errors(outcome.problems), outcome=outcome, share=share,
        status_code=STATUS_CODES[outcome.status],
    )  # fmt: skip


async def _share_of(settings: SettingsDep, partner: PortalIdentity, month: str) -> dict[str, Any]:
    """The month's revenue share as recorded with the report."""
    rows = await asyncio.to_thread(list_sales_reports, settings, partner.partner_id)
    found = views.statements([(r.month, r.report_json, r.share_json) for r in rows], [], {})
    return {"month": month, "statement": next((s for s in found if s.month == month), None)}


# --- reviews and statements -----------------------------------------------------------------


@router.get("/portal/rocketchat/reviews", response_class=HTMLResponse)
async def reviews(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The quarterly reviews: outcome, failures and findings, goals and their attainment."""
    status = await partnership_status(temporal, partner)
    facts = (status or {}).get("facts") or {}
    pending = facts.get("review") if isinstance(facts.get("review"), dict) else None
    return portal_page(
        request, settings, partner, "portal_rc_reviews.html",
        {
            "title": "Quarterly reviews",
            "found": status is not None,
            "quarter": facts.get("quarter"),
            "goals": facts.get("goals") or [],
            "reviews": views.reviews(facts),
            "pending": pending,
            "metrics": views.METRICS,
            "metric_value": views.metric_value,
        },
        nav="rc-reviews",
    )  # fmt: skip


@router.get("/portal/rocketchat/statements", response_class=HTMLResponse)
async def statements(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Each month's revenue share (sales, the split, what is owed) with its invoice and stage,
    and the yearly program fee invoices."""
    _rocketchat(partner)
    client = await _client(temporal)
    status = await status_of(client, partnership_id(partner))
    facts = (status or {}).get("facts") or {}
    rows = await asyncio.to_thread(list_sales_reports, settings, partner.partner_id)
    shares = [s for s in facts.get("revenue_shares") or [] if isinstance(s, dict)]
    stages = await _share_stages(client, partner, [str(s.get("month")) for s in shares])
    return portal_page(
        request, settings, partner, "portal_rc_statements.html",
        {
            "title": "Revenue share",
            "found": status is not None or bool(rows),
            "statements": views.statements(
                [(r.month, r.report_json, r.share_json) for r in rows], shares, stages
            ),
            "fees": views.fee_invoices(facts, now()),
        },
        nav="rc-statements",
    )  # fmt: skip


async def _share_stages(
    client: Client, partner: PortalIdentity, months: list[str]
) -> dict[str, str]:
    """month → the invoice stage its `RocketChatRevenueShare` reports now (the newest
    `MAX_SHARE_QUERIES` months; a share that does not answer keeps the partnership's view)."""

    async def stage(month: str) -> tuple[str, str]:
        try:
            answer = await client.get_workflow_handle(
                revenue_share_workflow_id(partner.partner_id, month)
            ).query("status")
        except RPCError:
            return month, ""
        facts = answer.get("facts") if isinstance(answer, dict) else None
        return month, str((facts or {}).get("invoice_stage") or "")

    found = await asyncio.gather(*(stage(m) for m in sorted(months)[-MAX_SHARE_QUERIES:]))
    return {month: value for month, value in found if value}
