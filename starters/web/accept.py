"""The end customer's page to accept the Enterprise Subscription Terms of an order.

`GET /accept/{token}` shows the terms and the form; its plain POST validates it and executes
the `accept_terms` Workflow Update: accepted, it redirects (303) to the confirmation; refused,
the form shows the reason; with no worker answering in time, the acceptance goes as the
`accept_terms` signal and the page says it is recorded (`pages.submit_answer`). Works without
JavaScript.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from models.contracts import TermsAcceptance
from models.links import LinkClaims
from models.tasks import PendingTask, WorkflowStatus
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import (
    PAGE_HEADERS,
    Answer,
    AnswerForm,
    PageError,
    agreed,
    busy,
    describe,
    friendly_errors,
    message,
    page_form,
    query_limit,
    read_link,
    submit_answer,
    submits,
    templates,
    unknown_workflow,
)
from starters.web.proxies import client_address

log = logging.getLogger(__name__)
router = APIRouter(prefix="/accept")

ACCEPT_TASK = "accept_terms"
TERMS_TITLE = "Enterprise Subscription Terms for Purchase by Resale"
TERMS_URL = "https://mattermost.com/enterprise-edition-terms/"
FORM_FIELDS = ("name", "title", "email", "agreed")


@dataclass(frozen=True)
class OrderTerms:
    """The order behind an accept link: its status and its open `accept_terms` task.
    `answered` is False (status None) when its worker did not answer the page's query in
    time (the POST only: the acceptance then goes by signal)."""

    claims: LinkClaims
    client: Client
    status: WorkflowStatus | None
    pending: PendingTask | None
    answered: bool = True

    @property
    def facts(self) -> dict[str, Any]:
        return self.status.facts if self.status is not None else {}


async def load_order(
    token: str, request: Request, settings: SettingsDep, temporal: TemporalDep
) -> OrderTerms:
    """The link's order; a friendly page (`PageError`) when the link or the order is not
    usable: expired 410, invalid 403, unknown 404, closed 410, Temporal busy 503. For the
    POST (`submitting`), the queries wait the page's wait at most, and a running order whose
    worker does not answer in time is loaded with `answered=False`."""
    submitting = submits(request)
    claims = read_link(
        settings,
        token,
        ACCEPT_TASK,
        expired="The link to accept the terms has expired. Please ask your reseller for a new one.",
    )
    limit = query_limit(settings, submitting=submitting)
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(claims.workflow_id)
        async with asyncio.timeout(limit.total_seconds()):
            status = await handle.query("status", result_type=WorkflowStatus, rpc_timeout=limit)
            pending = await handle.query(
                "pending_tasks", result_type=list[PendingTask], rpc_timeout=limit
            )
    except TemporalUnavailable as exc:
        log.warning("Temporal unreachable: %s", exc)
        raise busy() from exc
    except (RPCError, TimeoutError) as exc:
        if unknown_workflow(exc):
            raise _missing() from exc
        log.warning("query of %s failed: %s", claims.workflow_id, exc)
        description = await describe(client, claims.workflow_id)
        if description is None:
            raise _missing() from exc
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise _no_longer_open() from exc
        if submitting:  # running, its worker did not answer in time
            return OrderTerms(claims, client, None, None, answered=False)
        raise busy() from exc
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
        return _closed(request, order.facts)
    contact = order.facts.get("end_customer_contact") or {}
    values = {"name": contact.get("name", ""), "title": "", "email": contact.get("email", "")}
    return _accept_form(request, order, values, {})


@router.post("/{token}", response_class=HTMLResponse)
async def accept_submit(
    token: str, request: Request, order: Order, settings: SettingsDep
) -> Response:
    """The accept form's plain POST: validate, then the `accept_terms` update (or, with no
    worker answering, the signal): see `pages.submit_answer`."""
    done_url = str(request.url_for("accept_done", token=token))
    if order.answered and order.pending is None:  # already accepted (double submit) or closed
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
    form = await page_form(request)
    values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
    try:
        acceptance = TermsAcceptance.model_validate(
            {
                **values,
                "agreed": agreed(form.get("agreed")),
                "ip": client_address(request, settings),
                "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                "via": "page",
            }
        )
    except ValidationError as exc:
        errors = friendly_errors(exc)
        return _accept_form(request, order, values, errors, status_code=400)
    return await submit_answer(
        request,
        order.client,
        Answer(
            order.claims.workflow_id,
            ACCEPT_TASK,
            acceptance.model_dump(mode="json"),
            "acceptance",
        ),
        settings=settings,
        done_url=done_url,
        form=AnswerForm(
            FORM_FIELDS,
            lambda errors, status_code: _accept_form(request, order, values, errors, status_code),
        ),
        missing=_missing(),
        closed=_no_longer_open(),
        answered=order.answered,
    )


@router.get("/{token}/done", response_class=HTMLResponse, name="accept_done")
async def accept_done(request: Request, order: Order) -> Response:
    """Confirmation after the terms were accepted."""
    facts = order.facts
    return message(
        request,
        200,
        "Thank you",
        f"Your acceptance of the {facts.get('terms_title') or TERMS_TITLE} for "
        f"order {facts.get('order_id', '')} was received. "
        "Your license will be sent to you by email.",
    )


def _missing() -> PageError:
    return PageError(404, "Order not found", "We could not find this order.")


def _no_longer_open() -> PageError:
    return PageError(
        410,
        "No longer open",
        "This order is closed: there is nothing "
        "left to accept. If you think this is a mistake, contact your reseller.",
    )


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
    facts = order.facts
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


def _closed(request: Request, facts: dict[str, Any]) -> Response:
    order_id = facts.get("order_id", "")
    return message(
        request,
        200,
        "Already accepted or no longer open",
        f"The subscription terms for order {order_id} have already been accepted, or the "
        "request is no longer open. There is nothing more to do here.",
    )
