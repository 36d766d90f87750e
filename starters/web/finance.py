"""The finance board: `GET /finance` (HTML) and `GET /finance.csv`, login required.

Invoices by stage (draft, open, overdue, paid, void, uncollectible) from the invoice search
attributes, with totals per stage and the aging of unpaid invoices; referral-fee payables
and the Rocket.Chat revenue share from the records. Amounts are exact cents.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from models.settings import Settings
from starters.finance import (
    AGING_BUCKETS,
    INVOICE_STAGES,
    Invoice,
    build_board,
    grand_total,
    list_invoices,
    list_lapsed_subscriptions,
    list_referral_fees,
    list_revenue_share,
    list_upcoming_renewals,
    money,
    to_csv,
    totals_by,
    with_records,
    with_share_stages,
)
from starters.task_inbox import workflow_ui_url
from starters.web.deps import (
    Operator,
    SettingsDep,
    TemporalConnection,
    TemporalDep,
    TemporalUnavailable,
)
from starters.web.pages import INTERNAL_PAGE_HEADERS, PAGE_HEADERS, templates, unreachable

log = logging.getLogger(__name__)
RECORDS_UNREACHABLE_RENEWALS = (
    "The records database is not reachable: subscription renewals are not shown."
)
router = APIRouter()
STAGE_TITLES = {
    "draft": "Draft", "open": "Open (not yet due)", "overdue": "Overdue", "paid": "Paid",
    "void": "Void", "uncollectible": "Uncollectible",
}  # fmt: skip
RECORDS_UNREACHABLE = (
    "The records database is not reachable: referral fees and revenue share are not shown."
)


async def _invoices(settings: Settings, temporal: TemporalConnection) -> list[Invoice] | None:
    try:
        found = await list_invoices(await temporal.client())
    except TemporalUnavailable as exc:
        log.warning("finance board: Temporal unreachable: %s", exc)
        return None
    try:
        return await asyncio.to_thread(with_records, settings, found)
    except Exception as exc:  # the records are optional here: currency then defaults
        log.warning("finance board: invoice records not readable: %s", exc)
        return found


async def _renewals(settings: Settings, now: datetime) -> dict[str, object]:
    """Subscriptions expiring in the next 90 days and lapsed ones, for the board's renewals
    section (`_finance_renewals.html`); an unreadable records database shows a notice."""
    try:
        upcoming = await asyncio.to_thread(list_upcoming_renewals, settings, now)
        lapsed = await asyncio.to_thread(list_lapsed_subscriptions, settings)
    except Exception as exc:
        log.warning("finance board: subscriptions not readable: %s", exc)
        return {"renewals": [], "lapsed": [], "renewals_error": RECORDS_UNREACHABLE_RENEWALS}
    return {
        "renewals": upcoming,
        "renewal_totals": grand_total(upcoming, "value_cents"),
        "lapsed": lapsed,
        "lapsed_totals": grand_total(lapsed, "value_cents"),
        "renewals_error": None,
    }


@router.get("/finance", response_class=HTMLResponse, name="finance_board")
async def finance_board(
    request: Request, operator: Operator, settings: SettingsDep, temporal: TemporalDep
) -> Response:
    """Invoices by stage, aging, referral fees, Rocket.Chat revenue share and subscription
    renewals (operators only)."""
    found = await _invoices(settings, temporal)
    if found is None:
        return unreachable(request, "finance board")
    now = datetime.now(UTC)
    board = build_board(found, now)
    try:
        fees = await asyncio.to_thread(list_referral_fees, settings)
        shares = with_share_stages(await asyncio.to_thread(list_revenue_share, settings), found)
        records_error = None
    except Exception as exc:
        log.warning("finance board: records not readable: %s", exc)
        fees, shares, records_error = [], [], RECORDS_UNREACHABLE
    context = {
        "title": "Finance",
        "operator": operator,
        "internal": True,
        "referrer_policy": "same-origin",
        "wide": True,
        "nav": "finance",
        "proxy_mode": settings.auth_mode == "proxy-header",
        "board": board,
        "stages": [*INVOICE_STAGES, *(s for s in board.by_stage if s not in INVOICE_STAGES)],
        "stage_titles": STAGE_TITLES,
        "aging_buckets": AGING_BUCKETS,
        "fees": fees,
        "fee_totals": totals_by(fees, "status", "amount_cents"),
        "shares": shares,
        "share_totals": totals_by(shares, "stage", "owed_to_rocketchat_cents"),
        "share_total": grand_total(shares, "owed_to_rocketchat_cents"),
        "records_error": records_error,
        **await _renewals(settings, now),
        "money": money,
        "now": now,
        "ui_url": lambda workflow_id: workflow_ui_url(
            settings.temporal_ui_url, settings.temporal_namespace, workflow_id
        ),
    }
    return templates.TemplateResponse(
        request, "finance.html", context, headers=INTERNAL_PAGE_HEADERS
    )


@router.get("/finance.csv", name="finance_csv")
async def finance_csv(operator: Operator, settings: SettingsDep, temporal: TemporalDep) -> Response:
    """Every invoice as CSV (exact amounts, aging of unpaid ones; operators only)."""
    found = await _invoices(settings, temporal)
    if found is None:
        return JSONResponse({"detail": "Temporal is not reachable"}, status_code=503)
    now = datetime.now(UTC)
    body = to_csv(build_board(found, now).invoices, now)
    filename = f"partnerflow-invoices-{now:%Y-%m-%d}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'},
    )
