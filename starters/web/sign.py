"""The click-sign page: the signer reads the stored agreement text and signs it.

`GET /sign/{token}` shows the exact stored text (and its SHA-256); the plain POST signals
`sign_agreement` to the workflow with the hash of the text shown, so what was signed is
provable. Works without JavaScript.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.agreements import get_agreement
from models.contracts import AgreementSignature
from models.links import LinkClaims, LinkError, read_token
from models.settings import Settings
from models.tables import AgreementRow
from models.tasks import PendingTask
from starters.intake import RPC_TIMEOUT

log = logging.getLogger(__name__)
PURPOSE = "sign_agreement"


def register_sign_pages(app: FastAPI, settings: Settings) -> None:
    from starters.web.app import (
        PAGE_HEADERS,
        PageError,
        _busy,
        _friendly_errors,
        _message,
        _temporal,
        templates,
    )

    async def load(token: str) -> tuple[LinkClaims, AgreementRow, PendingTask | None]:
        try:
            claims = read_token(settings.secret("link_secret"), token, PURPOSE)
        except LinkError as exc:
            if "expired" in str(exc):
                raise PageError(
                    410,
                    "This link has expired",
                    "The link to sign has expired. Please ask your partner manager for a new one.",
                ) from exc
            raise PageError(
                403,
                "This link is not valid",
                "We could not verify this link. Please use the link from your email exactly as it was sent.",
            ) from exc
        agreement = get_agreement(settings, claims.subject or "")
        if agreement is None or agreement.workflow_id != claims.workflow_id:
            raise PageError(404, "Agreement not found", "We could not find this agreement.")
        try:
            client = await _temporal(app)
            pending = await client.get_workflow_handle(claims.workflow_id).query(
                "pending_tasks", result_type=list[PendingTask], rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise PageError(
                    404, "Agreement not found", "We could not find this agreement."
                ) from exc
            pending = []  # a closed workflow answers queries; anything else: nothing to sign now
        except WorkflowQueryFailedError as exc:
            raise _busy() from exc
        task = next(
            (
                t
                for t in pending
                if t.handler == PURPOSE and t.example.get("agreement_id") == agreement.agreement_id
            ),
            None,
        )
        return claims, agreement, task

    def page(
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

    def closed(request: Request, agreement: AgreementRow) -> Response:
        if agreement.status == "signed":
            return _message(
                request,
                200,
                "Already signed",
                f"The {agreement.title} was signed by {agreement.signer_name} on {agreement.signed_at:%d %B %Y}. There is nothing more to do here.",
            )
        return _message(
            request,
            410,
            "No longer open",
            f"The {agreement.title} is no longer waiting for a signature.",
        )

    @app.get("/sign/{token}", response_class=HTMLResponse, name="sign_page")
    async def sign_page(token: str, request: Request) -> Response:
        """Show the stored agreement and the signature form."""
        try:
            _, agreement, task = await load(token)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        if task is None:
            return closed(request, agreement)
        values = {
            "name": str(task.example.get("name", "")),
            "title": "",
            "email": agreement.signer_email,
        }
        return page(request, agreement, values, {})

    @app.post("/sign/{token}", response_class=HTMLResponse)
    async def sign_submit(token: str, request: Request) -> Response:
        """The sign form's plain POST: validate, signal `sign_agreement`, redirect (303)."""
        try:
            claims, agreement, task = await load(token)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        done_url = str(request.url_for("sign_done", token=token))
        if task is None:
            return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)
        form = await request.form()
        values = {key: str(form.get(key) or "").strip() for key in ("name", "title", "email")}
        if str(form.get("sha256") or "") != agreement.sha256:
            return _message(
                request,
                409,
                "The agreement changed",
                "The text you read is not the current version. Please reload the page, read it again and sign.",
            )
        try:
            signature = AgreementSignature.model_validate(
                {
                    **values,
                    "agreement_id": agreement.agreement_id,
                    "sha256": agreement.sha256,
                    "agreed": str(form.get("agreed") or "") in {"yes", "on", "true", "1"},
                    "ip": request.client.host if request.client else None,
                    "user_agent": (request.headers.get("user-agent") or "")[:500] or None,
                    "via": "page",
                }
            )
        except ValidationError as exc:
            return page(request, agreement, values, _friendly_errors(exc), status_code=400)
        try:
            client = await _temporal(app)
            await client.get_workflow_handle(claims.workflow_id).signal(
                PURPOSE, signature.model_dump(mode="json"), rpc_timeout=RPC_TIMEOUT
            )
        except Exception as exc:
            log.warning("sign_agreement signal to %s failed: %s", claims.workflow_id, exc)
            return _message(
                request,
                503,
                "Please try again",
                "We could not record your signature just now. Nothing was recorded; please submit again.",
            )
        return RedirectResponse(done_url, status_code=303, headers=PAGE_HEADERS)

    @app.get("/sign/{token}/done", response_class=HTMLResponse, name="sign_done")
    async def sign_done(token: str, request: Request) -> Response:
        """Confirmation after signing."""
        try:
            _, agreement, _ = await load(token)
        except PageError as exc:
            return _message(request, exc.status_code, exc.title, exc.message)
        return _message(
            request,
            200,
            "Thank you",
            f"Your signature of the {agreement.title} was received. A copy stays on record with us; we will be in touch about the next steps.",
        )
