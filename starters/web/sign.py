"""The click-sign page: the signer reads the stored agreement text and signs it.

`GET /sign/{token}` shows the exact stored text (and its SHA-256); the plain POST signals
`sign_agreement` to the workflow with the hash of the text shown, so what was signed is
provable. Works without JavaScript.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.agreements import get_agreement
from models.contracts import AgreementSignature
from models.links import LinkClaims
from models.tables import AgreementRow
from models.tasks import PendingTask
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
router = APIRouter(prefix="/sign")
PURPOSE = "sign_agreement"


@dataclass(frozen=True)
class AgreementToSign:
    """The agreement behind a sign link, and its open `sign_agreement` task (if any)."""

    claims: LinkClaims
    agreement: AgreementRow
    task: PendingTask | None


async def load_agreement(
    token: str, settings: SettingsDep, temporal: TemporalDep
) -> AgreementToSign:
    """The link's agreement; a friendly page (`PageError`) when the link or the agreement
    is not usable: expired 410, invalid 403, unknown 404, Temporal busy 503."""
    claims = read_link(
        settings,
        token,
        PURPOSE,
        expired="The link to sign has expired. Please ask your partner manager for a new one.",
    )
    agreement = get_agreement(settings, claims.subject or "")
    if agreement is None or agreement.workflow_id != claims.workflow_id:
        raise PageError(404, "Agreement not found", "We could not find this agreement.")
    try:
        client = await temporal.client()
        pending = await client.get_workflow_handle(claims.workflow_id).query(
            "pending_tasks", result_type=list[PendingTask], rpc_timeout=RPC_TIMEOUT
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise PageError(
                404, "Agreement not found", "We could not find this agreement."
            ) from exc
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
    return AgreementToSign(claims, agreement, task)


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
    token: str, request: Request, loaded: Agreement, temporal: TemporalDep
) -> Response:
    """The sign form's plain POST: validate, signal `sign_agreement`, redirect (303)."""
    agreement = loaded.agreement
    done_url = str(request.url_for("sign_done", token=token))
    if loaded.task is None:
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
    form = await request.form()
    values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
    if str(form.get("sha256") or "") != agreement.sha256:
        return message(
            request,
            409,
            "The agreement changed",
            "The text you read is not the current version. "
            "Please reload the page, read it again and sign.",
        )
    try:
        signature = AgreementSignature.model_validate(
            {
                **values,
                "agreement_id": agreement.agreement_id,
                "sha256": agreement.sha256,
                "agreed": agreed(form.get("agreed")),
                "ip": request.client.host if request.client else None,
                "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                "via": "page",
            }
        )
    except ValidationError as exc:
        return _page(request, agreement, values, friendly_errors(exc), status_code=400)
    workflow_id = loaded.claims.workflow_id
    try:
        client = await temporal.client()
        await client.get_workflow_handle(workflow_id).signal(
            PURPOSE, signature.model_dump(mode="json"), rpc_timeout=RPC_TIMEOUT
        )
    except Exception as exc:
        log.warning("sign_agreement signal to %s failed: %s", workflow_id, exc)
        return not_recorded(request, "signature")
    return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)


@router.get("/{token}/done", response_class=HTMLResponse, name="sign_done")
async def sign_done(request: Request, loaded: Agreement) -> Response:
    """Confirmation after signing."""
    return message(
        request,
        200,
        "Thank you",
        f"Your signature of the {loaded.agreement.title} was received. A copy stays on record "
        "with us; we will be in touch about the next steps.",
    )


def _page(
    request: Request,
    agreement: AgreementRow,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {"agreement": agreement, "values": values, "errors": errors}
    return templates.TemplateResponse(
        request, "sign.html", context, status_code=status_code, headers=PAGE_HEADERS
    )


def _closed(request: Request, agreement: AgreementRow) -> Response:
    if agreement.status == "signed":
        return message(
            request,
            200,
            "Already signed",
            f"The {agreement.title} was signed by {agreement.signer_name} on "
            f"{agreement.signed_at:%d %B %Y}. There is nothing more to do here.",
        )
    return message(
        request,
        410,
        "No longer open",
        f"The {agreement.title} is no longer waiting for a signature.",
    )
