"""The end customer's page to accept the Enterprise Subscription Terms of an order.

`GET /accept/{token}` shows the terms and the form; its plain POST validates it, signals
`accept_terms` to the order's workflow and redirects (303) to the confirmation. Works
without JavaScript.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.contracts import TermsAcceptance
from models.links import LinkClaims
from models.tasks import PendingTask, WorkflowStatus
from starters.intake import RPC_TIMEOUT
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import (
    PAGE_HEADERS,
    PageError,
    agreed,
    busy,
    friendly_errors,
    message,
    not_recorded,
    read_link,
    templates,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/accept")

ACCEPT_TASK = "accept_terms"
TERMS_TITLE = "Enterprise Subscription Terms for Purchase by Resale"
TERMS_URL = "https://mattermost.com/enterprise-edition-terms/"


@dataclass(frozen=True)
class OrderTerms:
    """The order behind an accept link: its status and its open `accept_terms` task."""

    claims: LinkClaims
    client: Client
    status: WorkflowStatus
    pending: PendingTask | None


async def load_order(token: str, settings: SettingsDep, temporal: TemporalDep) -> OrderTerms:
    """The link's order; a friendly page (`PageError`) when the link or the order is not
    usable: expired 410, invalid 403, unknown 404, closed 410, Temporal busy 503."""
    claims = read_link(
        settings,
        token,
        ACCEPT_TASK,
        expired="The link to accept the terms has expired. Please ask your reseller for a new one.",
    )
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(claims.workflow_id)
        status = await handle.query("status", result_type=WorkflowStatus, rpc_timeout=RPC_TIMEOUT)
        pending = await handle.query(
            "pending_tasks", result_type=list[PendingTask], rpc_timeout=RPC_TIMEOUT
        )
    except TemporalUnavailable as exc:
        log.warning("Temporal unreachable: %s", exc)
        raise busy() from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise PageError(404, "Order not found", "We could not find this order.") from exc
        log.warning("query of %s failed: %s", claims.workflow_id, exc)
        raise await _closed_or_busy(client, claims.workflow_id) from exc
    except WorkflowQueryFailedError as exc:
        log.warning("query of %s failed: %s", claims.workflow_id, exc)
        raise busy() from exc
    task = next((task for task in pending if task.task == ACCEPT_TASK), None)
    return OrderTerms(claims, client, status, task)


Order = Annotated[OrderTerms, Depends(load_order)]


@router.get("/{token}", response_class=HTMLResponse, name="accept_page")
async def accept_page(request: Request, order: Order) -> Response:
    """The end customer's page to accept the Enterprise Subscription Terms."""
    if order.pending is None:
        return _closed(request, order.status)
    contact = order.status.facts.get("end_customer_contact") or {}
    values = {"name": contact.get("name", ""), "title": "", "email": contact.get("email", "")}
    return _accept_form(request, order, values, {})


@router.post("/{token}", response_class=HTMLResponse)
async def accept_submit(token: str, request: Request, order: Order) -> Response:
    """The accept form's plain POST: validate, signal `accept_terms`, redirect (303)."""
    done_url = str(request.url_for("accept_done", token=token))
    if order.pending is None:  # already accepted (double submit) or closed
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
    form = await request.form()
    values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
    try:
        acceptance = TermsAcceptance.model_validate(
            {
                **values,
                "agreed": agreed(form.get("agreed")),
                "ip": request.client.host if request.client else None,
                "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                "via": "page",
            }
        )
    except ValidationError as exc:
        errors = friendly_errors(exc)
        return _accept_form(request, order, values, errors, status_code=400)
    workflow_id = order.claims.workflow_id
    try:
        await order.client.get_workflow_handle(workflow_id).signal(
            ACCEPT_TASK, acceptance.model_dump(mode="json"), rpc_timeout=RPC_TIMEOUT
        )
    except RPCError as exc:
        log.warning("accept_terms signal to %s failed: %s", workflow_id, exc)
        return not_recorded(request, "acceptance")
    return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)


@router.get("/{token}/done", response_class=HTMLResponse, name="accept_done")
async def accept_done(request: Request, order: Order) -> Response:
    """Confirmation after the terms were accepted."""
    facts = order.status.facts
    return message(
        request,
        200,
        "Thank you",
        f"Your acceptance of the {facts.get('terms_title') or TERMS_TITLE} for "
        f"order {facts.get('order_id', '')} was received. "
        "Your license will be sent to you by email.",
    )


async def _closed_or_busy(client: Client, workflow_id: str) -> PageError:
    try:
        description = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=RPC_TIMEOUT
        )
    except RPCError:
        return busy()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return PageError(
            410,
            "No longer open",
            "This order is closed: there is nothing "
            "left to accept. If you think this is a mistake, contact your reseller.",
        )
    return busy()


def _expires(facts: dict[str, Any]) -> str | None:
    value = facts.get("acceptance_expires_at")
    if not value:
        return None
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return when.strftime("%d %B %Y, %H:%M %Z").strip()


def _accept_form(
    request: Request,
    order: OrderTerms,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    facts = order.status.facts
    context = {
        "facts": facts,
        "task": order.pending,
        "values": values,
        "errors": errors,
        "terms_title": facts.get("terms_title") or TERMS_TITLE,
        "terms_url": facts.get("terms_url") or TERMS_URL,
        "expires": _expires(facts),
    }
    return templates.TemplateResponse(
        request, "accept.html", context, status_code=status_code, headers=PAGE_HEADERS
    )


def _closed(request: Request, status: WorkflowStatus) -> Response:
    order_id = status.facts.get("order_id", "")
    return message(
        request,
        200,
        "Already accepted or no longer open",
        f"The subscription terms for order {order_id} have already been accepted, or the "
        "request is no longer open. There is nothing more to do here.",
    )
