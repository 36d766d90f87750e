"""What every page and webhook of the web service shares: the templates, the page headers,
the friendly message page (and `PageError`, shown as one), the JSON error body, reading a
bounded request body and form, the same-origin check of a form post, signed links,
form-error wording, and how the accept, sign and listing pages submit a person's answer
(`submit_answer`: the task's Workflow Update, else its signal)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException
from starlette.types import Message
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from models.links import LinkClaims, LinkError, read_token
from models.programs import ProgramIdentity, program_identity, program_of_workflow_id
from models.settings import Settings
from starters.intake import RPC_TIMEOUT
from starters.task_updates import UpdateOutcome, complete_task

MAX_BODY_BYTES = 256 * 1024
PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
# Internal pages send their origin on same-site requests (the login's Origin check needs it),
# and nothing to other sites.
INTERNAL_PAGE_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
FIELD_LABELS = {"name": "full name", "title": "job title", "email": "email address"}

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class PageError(Exception):
    """An error shown to a person as a friendly page; raise it from a route or dependency."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.title, self.message = status_code, title, message


def message(
    request: Request,
    status_code: int,
    title: str,
    text: str,
    brand: ProgramIdentity | None = None,
) -> Response:
    """The message page: a title and one paragraph (in a program's brand when given)."""
    return templates.TemplateResponse(
        request,
        "message.html",
        {"title": title, "message": text, **({"brand": brand} if brand else {})},
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def page_brand(request: Request, workflow_id: str) -> ProgramIdentity:
    """The identity of the program a page's workflow belongs to (its header and footer)."""
    settings: Settings = request.app.state.settings
    return program_identity(settings, program_of_workflow_id(workflow_id))


async def page_error_handler(request: Request, exc: Exception) -> Response:
    """`PageError` raised anywhere in a route answers as the message page."""
    assert isinstance(exc, PageError)
    return message(request, exc.status_code, exc.title, exc.message)


def busy() -> PageError:
    """503: the workflow cannot be read right now."""
    return PageError(
        503,
        "Please try again later",
        "We cannot load your order right now. Please try again in a few minutes.",
    )


def unreachable(request: Request, what: str) -> Response:
    """503 page of an internal page that needs Temporal when it cannot be reached."""
    return message(
        request,
        503,
        "Temporal is not reachable",
        f"The {what} cannot be loaded right now. Please try again in a minute.",
    )


def not_recorded(request: Request, what: str) -> Response:
    """503 page when a signal carrying a person's submission could not be delivered."""
    return message(
        request,
        503,
        "Please try again",
        f"We could not record your {what} just now. Nothing was recorded; please submit again.",
    )


def recorded(request: Request, what: str) -> Response:
    """202 page when a person's submission went by signal (no worker answered in time):
    Temporal keeps it, and the process takes it as soon as a worker runs."""
    return message(
        request,
        202,
        f"Thank you: your {what} is recorded",
        f"Your {what} is recorded and will be processed shortly; our system is busy just now. "
        "There is no need to submit it again.",
    )


# --- a person's answer to a task: its Workflow Update, else its signal -----------------------


def page_wait(settings: Settings) -> timedelta:
    """How long a page waits for a worker: to answer the state query, to take the update."""
    return timedelta(seconds=settings.page_wait_seconds)


def submits(request: Request) -> bool:
    """Whether the request submits a person's answer (a POST): the page's loader then bounds
    its state queries by the page's wait, and a worker that does not answer in time is no
    error (the answer goes by signal)."""
    return request.method == "POST"


def query_limit(settings: Settings, *, submitting: bool) -> timedelta:
    """How long a page's state queries may take in all (`asyncio.timeout` around them, as a
    query's RPC is retried after some errors, each try with the whole `rpc_timeout`): the
    page's wait when it submits an answer, else `RPC_TIMEOUT`."""
    return page_wait(settings) if submitting else RPC_TIMEOUT


def unknown_workflow(error: BaseException) -> bool:
    """Whether a query failed because Temporal does not know the workflow."""
    return isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND


@dataclass(frozen=True)
class Answer:
    """A person's answer to a human task, as a page sends it."""

    workflow_id: str
    handler: str
    payload: dict[str, Any]
    what: str  # "acceptance", "signature", ...: named in the page's messages


@dataclass(frozen=True)
class AnswerForm:
    """The page's form, to show again with the problems the workflow's validator found."""

    fields: Collection[str]  # the form's fields; a problem with another field shows at the top
    render: Callable[[dict[str, str], int], Response]  # (errors by field, status code)


async def submit_answer(
    request: Request,
    client: Client,
    answer: Answer,
    *,
    settings: Settings,
    done_url: str,
    form: AnswerForm,
    missing: PageError,
    closed: PageError,
    answered: bool = True,
) -> Response:
    """Execute the task's Workflow Update and answer the person at once:

    - accepted: 303 to `done_url` (the process already acted on it);
    - rejected: the form again with the validator's problems, nothing recorded (409 when the
      process's state is the problem, else 422);
    - unanswered (no worker took it within the page's wait; `answered=False`: the page's
      state query went unanswered already, so the update is not tried): the task's signal,
      kept by Temporal until a worker runs it, and 202 "recorded" (503 `not_recorded` when
      the signal fails too);
    - failed: `missing` (404) or `closed` (410) when the workflow is unknown or closed; any
      other refusal falls back to the signal as well.
    """
    if answered:
        outcome = await complete_task(
            client, answer.workflow_id, answer.handler, answer.payload, wait=page_wait(settings)
        )
    else:
        outcome = UpdateOutcome("unanswered", "the workflow's worker did not answer its query")
    if outcome.status == "accepted":
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
    if outcome.status == "rejected":
        errors = rejected_fields(outcome, form.fields)
        return form.render(errors, 409 if "" in errors else 422)
    if outcome.status == "failed" and outcome.not_found:
        description = await describe(client, answer.workflow_id)
        if description is None:
            raise missing
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise closed
    log.warning(
        "%s update to %s %s (%s); sending the signal",
        answer.handler,
        answer.workflow_id,
        outcome.status,
        outcome.message,
    )
    try:
        await client.get_workflow_handle(answer.workflow_id).signal(
            answer.handler, answer.payload, rpc_timeout=RPC_TIMEOUT
        )
    except RPCError as exc:
        log.warning("%s signal to %s failed: %s", answer.handler, answer.workflow_id, exc)
        return not_recorded(request, answer.what)
    return recorded(request, answer.what)


def rejected_fields(outcome: UpdateOutcome, fields: Collection[str]) -> dict[str, str]:
    """The validator's problems by form field (`logo.width` is the form's `logo`); a problem
    with no field of the form (the process's state, a hidden value) is keyed `""`."""
    errors: dict[str, str] = {}
    for field, text in outcome.field_errors().items():
        key = field.split(".")[0]
        if key in fields:
            text = f"{FIELD_LABELS.get(key, key).capitalize()}: {text}"
        else:
            key = ""
        errors[key] = f"{errors[key]}; {text}" if key in errors else text
    return errors


async def describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """The workflow's description (it needs no worker); None when it is unknown. Other RPC
    errors (Temporal unreachable) raise `busy()`."""
    try:
        return await client.get_workflow_handle(workflow_id).describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise busy() from exc


def json_error(status_code: int, detail: str, **extra: Any) -> JSONResponse:
    """`{"detail": ..., **extra}` with the status code."""
    return JSONResponse({"detail": detail, **extra}, status_code=status_code)


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


class FormTooLarge(Exception):
    """The posted form exceeds its limit (answer 413)."""


async def read_form(
    request: Request, limit: int = MAX_BODY_BYTES, *, max_fields: int = 50, max_files: int = 0
) -> FormData:
    """The posted form (urlencoded or multipart), read up to `limit` bytes and parsed with
    caps on fields, files and part size: `FormTooLarge` past `limit`; too many fields or
    files, or a malformed multipart body, is Starlette's 400 naming the problem."""
    raw = await read_body(request, limit)
    if raw is None:
        raise FormTooLarge(f"the form is larger than {limit} bytes")
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        return await Request(request.scope, replay).form(
            max_fields=max_fields, max_files=max_files, max_part_size=limit
        )
    except MultiPartException as exc:
        raise FormTooLarge(str(exc)) from None


PAGE_FORM_BYTES = 16 * 1024  # the accept and sign forms: names, a title, an email, a hash


async def page_form(
    request: Request, limit: int = PAGE_FORM_BYTES, *, max_files: int = 0
) -> FormData:
    """A person's form post, bounded (`read_form`); past the limit a friendly 413 page."""
    try:
        return await read_form(request, limit, max_fields=30, max_files=max_files)
    except FormTooLarge as exc:
        raise PageError(413, "The form is too large", f"Nothing was recorded: {exc}.") from None


def same_origin(request: Request, settings: Settings) -> bool:
    """An Origin (or, without it, Referer) header, when sent, names this site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        # No information: non-browser clients, or a strict referrer policy (a browser then
        # sends `Origin: null`). The forms' CSRF tokens and SameSite still apply.
        return True
    parts = urlsplit(origin)
    sent = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    public = urlsplit(settings.public_base_url)
    allowed.add(f"{public.scheme}://{public.netloc}".lower())
    host = request.headers.get("host")
    if host:
        allowed.update({f"http://{host}".lower(), f"https://{host}".lower()})
    return sent in allowed


def read_link(settings: Settings, token: str, purpose: str, *, expired: str) -> LinkClaims:
    """The claims of a signed link; 410 (saying `expired`) or 403 as a page otherwise."""
    try:
        return read_token(settings.secret("link_secret"), token, purpose)
    except LinkError as exc:
        if "expired" in str(exc):
            raise PageError(410, "This link has expired", expired) from exc
        raise PageError(
            403,
            "This link is not valid",
            "We could not verify this link. "
            "Please use the link from your email exactly as it was sent.",
        ) from exc


def agreed(value: object) -> bool:
    """Whether a form's "I agree" checkbox was ticked."""
    return str(value or "") in {"yes", "on", "true", "1"}


def friendly_errors(exc: ValidationError) -> dict[str, str]:
    """One sentence per bad field of a signer's form (name, title, email, agreed)."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "form"
        if field == "agreed":
            text = "Please tick “I agree” to accept the terms."
        elif field in FIELD_LABELS and error["type"] in {
            "missing",
            "string_too_short",
            "value_error",
        }:
            text = f"Please enter your {FIELD_LABELS[field]}."
        else:
            text = f"{FIELD_LABELS.get(field, field).capitalize()}: {error['msg']}"
        errors.setdefault(field, text)
    return errors
