"""The click-sign page: the signer reads the stored agreement text and signs it.

`GET /sign/{token}` shows the exact stored text (and its SHA-256); the plain POST sends
`sign_agreement` to the workflow with the hash of the text shown, so what was signed is
provable: as a Workflow Update (signed at once, or the form shows the reason), or as the
signal when no worker answers in time (`pages.submit_answer`). Works without JavaScript.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.agreements import get_agreement
from models.contracts import AgreementSignature
from models.links import LinkClaims
from models.tables import AgreementRow
from models.tasks import PendingTask
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
    page_brand,
    page_form,
    query_limit,
    read_link,
    submit_answer,
    submits,
    templates,
    unknown_workflow,
)
from starters.web.proxies import client_address

router = APIRouter(prefix="/sign")
PURPOSE = "sign_agreement"
FORM_FIELDS = ("name", "title", "email", "agreed")


@dataclass(frozen=True)
class AgreementToSign:
    """The agreement behind a sign link, and its open `sign_agreement` task (if any).
    `answered` is False when the workflow runs but its worker did not answer the page's
    query in time (the POST only: the signature then goes by signal)."""

    claims: LinkClaims
    agreement: AgreementRow
    task: PendingTask | None
    client: Client
    answered: bool = True


async def load_agreement(
    token: str, request: Request, settings: SettingsDep, temporal: TemporalDep
) -> AgreementToSign:
    """The link's agreement; a friendly page (`PageError`) when the link or the agreement
    is not usable: expired 410, invalid 403, unknown 404, Temporal busy 503. For the POST
    (`submitting`), the query waits the page's wait at most, and a running workflow whose
    worker does not answer in time gives `answered=False`."""
    submitting = submits(request)
    claims = read_link(
        settings,
        token,
        PURPOSE,
        expired="The link to sign has expired. Please ask your partner manager for a new one.",
    )
    agreement = get_agreement(settings, claims.subject or "")
    if agreement is None or agreement.workflow_id != claims.workflow_id:
        raise _missing()
    limit = query_limit(settings, submitting=submitting)
    try:
        client = await temporal.client()
        async with asyncio.timeout(limit.total_seconds()):
            pending = await client.get_workflow_handle(claims.workflow_id).query(
                "pending_tasks", result_type=list[PendingTask], rpc_timeout=limit
            )
    except (RPCError, TimeoutError) as exc:
        if unknown_workflow(exc):
            raise _missing() from exc
        if submitting and await _running(client, claims.workflow_id):
            # its worker did not answer in time: the signature goes by signal
            return AgreementToSign(claims, agreement, None, client, answered=False)
        pending = []  # a closed workflow answers queries; anything else: nothing to sign now
    except (WorkflowQueryFailedError, TemporalUnavailable) as exc:
        raise busy() from exc
    task = next(
        (
            t
            for t in pending
            if t.handler == PURPOSE and t.example.get("agreement_id") == agreement.agreement_id
        ),
        None,
    )
    return AgreementToSign(claims, agreement, task, client)


Agreement = Annotated[AgreementToSign, Depends(load_agreement)]


@router.get("/{token}", response_class=HTMLResponse, name="sign_page")
async def sign_page(request: Request, loaded: Agreement) -> Response:
    """Show the stored agreement and the signature form."""
    agreement, task = loaded.agreement, loaded.task
    if task is None:
        return _closed(request, agreement)
    values = {
        "name": str(task.example.get("name", "")),
        "title": "",
        "email": agreement.signer_email,
    }
    return _page(request, agreement, values, {})


@router.post("/{token}", response_class=HTMLResponse)
async def sign_submit(
    token: str, request: Request, loaded: Agreement, settings: SettingsDep
) -> Response:
    """The sign form's plain POST: validate, then the `sign_agreement` update (or, with no
    worker answering, the signal): see `pages.submit_answer`."""
    agreement = loaded.agreement
    done_url = str(request.url_for("sign_done", token=token))
    if loaded.answered and loaded.task is None:  # signed already (double submit) or closed
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
    form = await page_form(request)
    values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
    if str(form.get("sha256") or "") != agreement.sha256:
        return message(
            request,
            409,
            "The agreement changed",
            "The text you read is not the current version. "
            "Please reload the page, read it again and sign.",
            page_brand(request, agreement.workflow_id),
        )
    try:
        signature = AgreementSignature.model_validate(
            {
                **values,
                "agreement_id": agreement.agreement_id,
                "sha256": agreement.sha256,
                "agreed": agreed(form.get("agreed")),
                "ip": client_address(request, settings),
                "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                "via": "page",
            }
        )
    except ValidationError as exc:
        return _page(request, agreement, values, friendly_errors(exc), status_code=400)
    return await submit_answer(
        request,
        loaded.client,
        Answer(loaded.claims.workflow_id, PURPOSE, signature.model_dump(mode="json"), "signature"),
        settings=settings,
        done_url=done_url,
        form=AnswerForm(
            FORM_FIELDS,
            lambda errors, status_code: _page(request, agreement, values, errors, status_code),
        ),
        missing=_missing(),
        closed=_no_longer_open(agreement),
        answered=loaded.answered,
    )


@router.get("/{token}/done", response_class=HTMLResponse, name="sign_done")
async def sign_done(request: Request, loaded: Agreement) -> Response:
    """Confirmation after signing."""
    return message(
        request,
        200,
        "Thank you",
        f"Your signature of the {loaded.agreement.title} was received. A copy stays on record "
        "with us; we will be in touch about the next steps.",
        page_brand(request, loaded.agreement.workflow_id),
    )


def _page(
    request: Request,
    agreement: AgreementRow,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "agreement": agreement,
        "values": values,
        "errors": errors,
        "brand": page_brand(request, agreement.workflow_id),
    }
    return templates.TemplateResponse(
        request, "sign.html", context, status_code=status_code, headers=PAGE_HEADERS
    )


async def _running(client: Client, workflow_id: str) -> bool:
    description = await describe(client, workflow_id)
    return description is not None and description.status == WorkflowExecutionStatus.RUNNING


def _missing() -> PageError:
    return PageError(404, "Agreement not found", "We could not find this agreement.")


def _no_longer_open(agreement: AgreementRow) -> PageError:
    return PageError(
        410, "No longer open", f"The {agreement.title} is no longer waiting for a signature."
    )


def _closed(request: Request, agreement: AgreementRow) -> Response:
    brand = page_brand(request, agreement.workflow_id)
    if agreement.status == "signed":
        return message(
            request,
            200,
            "Already signed",
            f"The {agreement.title} was signed by {agreement.signer_name} on "
            f"{agreement.signed_at:%d %B %Y}. There is nothing more to do here.",
            brand,
        )
    gone = _no_longer_open(agreement)
    return message(request, gone.status_code, gone.title, gone.message, brand)
