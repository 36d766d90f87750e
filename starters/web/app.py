"""The Partnerflow web service: signed form webhooks, the accept-terms and sign pages.

Run it with `uvicorn --factory starters.web.app:app` (settings from the environment), or
build it in code with `create_app(settings, client)`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from models.contracts import TermsAcceptance
from models.forms import FORMS
from models.links import LinkClaims, LinkError, read_token
from models.settings import Settings
from models.tasks import PendingTask, WorkflowStatus
from starters.intake import (
    RPC_TIMEOUT,
    SIGNATURE_HEADER,
    SignatureError,
    submit_form,
    unavailable,
    verify_signature,
)
from starters.web.rate_limit import RateLimiter
from starters.web.rate_limit import check as check_rate_limit

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
ACCEPT_TASK = "accept_terms"
TERMS_TITLE = "Enterprise Subscription Terms for Purchase by Resale"
TERMS_URL = "https://mattermost.com/enterprise-edition-terms/"
PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
FIELD_LABELS = {"name": "full name", "title": "job title", "email": "email address"}

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class TemporalUnavailable(RuntimeError):
    """Temporal cannot be reached right now."""


class PageError(Exception):
    """An error shown to a person as a friendly page."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.title, self.message = status_code, title, message


def create_app(
    settings: Settings,
    client: Client | None = None,
    *,
    workflow_execution_timeout: timedelta | None = None,
) -> FastAPI:
    """The FastAPI app; without `client` it connects to Temporal on startup (and retries
    on each request until connected). `workflow_execution_timeout` caps started workflows."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if app.state.temporal is None:
            try:
                await _temporal(app)
            except TemporalUnavailable as exc:
                log.warning("Temporal not reachable at startup, will retry: %s", exc)
        yield

    app = FastAPI(title="Partnerflow", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.temporal = client
    app.state.connect_lock = asyncio.Lock()
    app.state.execution_timeout = workflow_execution_timeout
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers; says whether Temporal is connected."""
        return {"status": "ok", "temporal": "connected" if app.state.temporal else "pending"}

    @app.get("/webhooks/forms")
    async def list_forms(request: Request) -> list[dict[str, str]]:
        """Every form the service accepts, with the workflow it starts and its schema URL."""
        return [
            {
                "form": spec.name,
                "workflow_type": spec.workflow_type,
                "title": spec.title,
                "description": spec.description,
                "schema_url": str(request.url_for("form_schema", form=spec.name)),
            }
            for spec in FORMS.values()
        ]

    @app.get("/webhooks/forms/{form}/schema", name="form_schema")
    async def form_schema(form: str) -> JSONResponse:
        """The form's JSON Schema, with complete valid `examples`."""
        spec = FORMS.get(form)
        if spec is None:
            return JSONResponse({"detail": f"unknown form {form!r}"}, status_code=404)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec.json_schema()}
        return JSONResponse(schema)

    @app.post(
        "/webhooks/forms/{form}",
        status_code=202,
        openapi_extra={
            "parameters": [
                {
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "required": True,
                    "schema": {"type": "string", "example": "t=1767225600,v1=<hex>"},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": "see schema_url of GET /webhooks/forms",
                        },
                        "examples": {
                            spec.name: {"summary": spec.title, "value": spec.examples()[0]}
                            for spec in FORMS.values()
                            if spec.examples()
                        },
                    }
                },
            },
        },
    )
    async def post_form(
        request: Request,
        form: str = PathParam(json_schema_extra={"enum": sorted(FORMS)}),
    ) -> JSONResponse:
        """A signed form submission: starts the form's workflow at most once.

        At most `PARTNERFLOW_RATE_LIMIT_PER_MINUTE` requests per minute per source address
        (429 with `Retry-After` beyond it), checked before the body is read."""
        if (limited := check_rate_limit(app.state.rate_limiter, request)) is not None:
            return limited
        if form not in FORMS:
            return _json(404, f"unknown form {form!r}", forms=sorted(FORMS))
        raw = await read_body(request)
        if raw is None:
            return _json(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        try:
            verify_signature(
                settings.secret("webhook_secret"),
                request.headers.get(SIGNATURE_HEADER),
                raw,
                time.time(),
                settings.webhook_tolerance_seconds,
            )
        except SignatureError as exc:
            return _json(401, f"invalid signature: {exc.reason}")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            return _json(415, f"Content-Type must be application/json, not {content_type!r}")
        try:
            payload = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            error = {"field": "body", "message": str(exc), "type": "json_invalid"}
            return _json(422, f"body is not valid JSON: {exc}", errors=[error])
        try:
            temporal = await _temporal(app)
        except TemporalUnavailable as exc:
            result = unavailable(exc)
        else:
            result = await submit_form(
                temporal, settings, form, payload, execution_timeout=app.state.execution_timeout
            )
        return JSONResponse(result.body, status_code=result.status_code)

    @app.get("/accept/{token}", response_class=HTMLResponse, name="accept_page")
    async def accept_page(token: str, request: Request) -> Response:
        """The end customer's page to accept the Enterprise Subscription Terms."""
        try:
            claims = _claims(settings, token)
            status, pending = await _load(app, claims)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        if pending is None:
            return _closed(request, status)
        contact = status.facts.get("end_customer_contact") or {}
        values = {"name": contact.get("name", ""), "title": "", "email": contact.get("email", "")}
        return _accept_form(request, status, pending, values, {})

    @app.post("/accept/{token}", response_class=HTMLResponse)
    async def accept_submit(token: str, request: Request) -> Response:
        """The accept form's plain POST: validate, signal `accept_terms`, redirect (303)."""
        try:
            claims = _claims(settings, token)
            status, pending = await _load(app, claims)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        done_url = str(request.url_for("accept_done", token=token))
        if pending is None:  # already accepted (double submit) or closed
            return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
        form = await request.form()
        values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
        try:
            acceptance = TermsAcceptance.model_validate(
                {
                    **values,
                    "agreed": str(form.get("agreed") or "") in {"yes", "on", "true", "1"},
                    "ip": request.client.host if request.client else None,
                    "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                    "via": "page",
                }
            )
        except ValidationError as exc:
            errors = _friendly_errors(exc)
            return _accept_form(request, status, pending, values, errors, status_code=400)
        try:
            handle = app.state.temporal.get_workflow_handle(claims.workflow_id)
            await handle.signal(
                ACCEPT_TASK, acceptance.model_dump(mode="json"), rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            log.warning("accept_terms signal to %s failed: %s", claims.workflow_id, exc)
            return _message(
                request,
                503,
                "Please try again",
                "We could not record your "
                "acceptance just now. Nothing was recorded; please submit again.",
            )
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)

    @app.get("/accept/{token}/done", response_class=HTMLResponse, name="accept_done")
    async def accept_done(token: str, request: Request) -> Response:
        """Confirmation after the terms were accepted."""
        try:
            claims = _claims(settings, token)
            status, _ = await _load(app, claims)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        order_id = status.facts.get("order_id", "")
        return _message(
            request,
            200,
            "Thank you",
            f"Your acceptance of the {status.facts.get('terms_title') or TERMS_TITLE} for "
            f"order {order_id} was received. Your license will be sent to you by email.",
        )

    from starters.web.sign import register_sign_pages

    register_sign_pages(app, settings)
    from starters.web.billing_webhooks import register_billing_webhooks

    register_billing_webhooks(app, settings)
    from starters.web.email_webhooks import register_email_webhooks

    register_email_webhooks(app, settings)
    from starters.web.directory import register_directory_pages

    register_directory_pages(app, settings)
    from starters.web.codec import register_codec_server

    register_codec_server(app, settings)
    from starters.web.auth import register_auth
    from starters.web.finance import register_finance_pages
    from starters.web.tasks import register_task_pages

    register_auth(app, settings)
    register_task_pages(app, settings)
    register_finance_pages(app, settings)
    return app


# --- Temporal ----------------------------------------------------------------------------------


async def _temporal(app: FastAPI) -> Client:
    if app.state.temporal is not None:
        return app.state.temporal
    async with app.state.connect_lock:
        if app.state.temporal is None:
            from workers.client import connect  # the lead's module; imported when needed

            try:
                app.state.temporal = await connect(app.state.settings)
            except Exception as exc:  # connection errors surface as RuntimeError
                raise TemporalUnavailable(str(exc)) from exc
    return app.state.temporal


async def _load(app: FastAPI, claims: LinkClaims) -> tuple[WorkflowStatus, PendingTask | None]:
    """The workflow's status and its open `accept_terms` task (None when not pending)."""
    try:
        client = await _temporal(app)
        handle = client.get_workflow_handle(claims.workflow_id)
        status = await handle.query("status", result_type=WorkflowStatus, rpc_timeout=RPC_TIMEOUT)
        pending = await handle.query(
            "pending_tasks", result_type=list[PendingTask], rpc_timeout=RPC_TIMEOUT
        )
    except TemporalUnavailable as exc:
        log.warning("Temporal unreachable: %s", exc)
        raise _busy() from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise PageError(404, "Order not found", "We could not find this order.") from exc
        log.warning("query of %s failed: %s", claims.workflow_id, exc)
        raise await _closed_or_busy(client, claims.workflow_id) from exc
    except WorkflowQueryFailedError as exc:
        log.warning("query of %s failed: %s", claims.workflow_id, exc)
        raise _busy() from exc
    task = next((task for task in pending if task.task == ACCEPT_TASK), None)
    return status, task


async def _closed_or_busy(client: Client, workflow_id: str) -> PageError:
    try:
        description = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=RPC_TIMEOUT
        )
    except RPCError:
        return _busy()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return PageError(
            410,
            "No longer open",
            "This order is closed: there is nothing "
            "left to accept. If you think this is a mistake, contact your reseller.",
        )
    return _busy()


def _busy() -> PageError:
    return PageError(
        503,
        "Please try again later",
        "We cannot load your order right now. Please try again in a few minutes.",
    )


# --- helpers -----------------------------------------------------------------------------------


def _json(status_code: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status_code)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The raw body, or None as soon as it exceeds `limit` bytes (never read further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _claims(settings: Settings, token: str) -> LinkClaims:
    try:
        return read_token(settings.secret("link_secret"), token, ACCEPT_TASK)
    except LinkError as exc:
        if "expired" in str(exc):
            raise PageError(
                410,
                "This link has expired",
                "The link to accept the terms has expired. Please ask your reseller for a new one.",
            ) from exc
        raise PageError(
            403,
            "This link is not valid",
            "We could not verify this link. "
            "Please use the link from your email exactly as it was sent.",
        ) from exc


def _friendly_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "form"
        if field == "agreed":
            message = "Please tick “I agree” to accept the terms."
        elif field in FIELD_LABELS and error["type"] in {
            "missing",
            "string_too_short",
            "value_error",
        }:
            message = f"Please enter your {FIELD_LABELS[field]}."
        else:
            message = f"{FIELD_LABELS.get(field, field).capitalize()}: {error['msg']}"
        errors.setdefault(field, message)
    return errors


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
    status: WorkflowStatus,
    task: PendingTask,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    facts = status.facts
    context = {
        "facts": facts,
        "task": task,
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
    return _message(
        request,
        200,
        "Already accepted or no longer open",
        f"The subscription terms for order {order_id} have already been accepted, or the "
        "request is no longer open. There is nothing more to do here.",
    )


def _message(request: Request, status_code: int, title: str, message: str) -> Response:
    return templates.TemplateResponse(
        request,
        "message.html",
        {"title": title, "message": message},
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def app() -> FastAPI:
    """Factory for `uvicorn --factory starters.web.app:app`: settings from the environment."""
    from models.settings import get_settings

    return create_app(get_settings())
