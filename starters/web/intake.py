"""The form webhooks: `GET /webhooks/forms` lists the forms, `GET .../{form}/schema` gives
one form's JSON Schema, and a signed `POST /webhooks/forms/{form}` starts (or advances) the
form's workflow at most once (`starters.intake` validates and starts)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from models.forms import FORMS
from models.json_input import JSONInputError, parse_json
from starters.intake import (
    SIGNATURE_HEADER,
    SignatureError,
    submit_form,
    unavailable,
    verify_signature,
)
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import MAX_BODY_BYTES, json_error, read_body
from starters.web.rate_limit import check as check_rate_limit

router = APIRouter(prefix="/webhooks/forms")

# The OpenAPI of the signed POST: the signature header, and each form's example as a body.
POST_FORM_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "in": "header",
            "name": SIGNATURE_HEADER,
            "required": True,
            "schema": {"type": "string", "example": "t=1767225600,v2=<hex>"},
            "description": 'HMAC-SHA256(PARTNERFLOW_WEBHOOK_SECRET, "<t>.<form>.<raw body>") '
            "as v2=; v1= (without the form) only until PARTNERFLOW_WEBHOOK_V1_UNTIL",
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
}


@router.get("")
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


@router.get("/{form}/schema", name="form_schema")
async def form_schema(form: str) -> JSONResponse:
    """The form's JSON Schema, with complete valid `examples`."""
    spec = FORMS.get(form)
    if spec is None:
        return JSONResponse({"detail": f"unknown form {form!r}"}, status_code=404)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec.json_schema()}
    return JSONResponse(schema)


@router.post("/{form}", status_code=202, openapi_extra=POST_FORM_OPENAPI)
async def post_form(
    request: Request,
    settings: SettingsDep,
    temporal: TemporalDep,
    form: str = PathParam(json_schema_extra={"enum": sorted(FORMS)}),
) -> JSONResponse:
    """A signed form submission: starts the form's workflow at most once.

    At most `PARTNERFLOW_RATE_LIMIT_PER_MINUTE` requests per minute per source address
    (429 with `Retry-After` beyond it), checked before the body is read. The body is read up
    to its form's limit (256 KiB; `directory-listing`, which carries a logo file, more: its
    `max_body_bytes`), 413 beyond."""
    if (limited := check_rate_limit(request.app.state.rate_limiter, request)) is not None:
        return limited
    if form not in FORMS:
        return json_error(404, f"unknown form {form!r}", forms=sorted(FORMS))
    limit = FORMS[form].max_body_bytes or MAX_BODY_BYTES
    raw = await read_body(request, limit)
    if raw is None:
        return json_error(413, f"request body larger than {limit} bytes (the {form} form's limit)")
    now = time.time()
    try:
        verify_signature(
            settings.secret("webhook_secret"),
            request.headers.get(SIGNATURE_HEADER),
            raw,
            now,
            settings.webhook_tolerance_seconds,
            form=form,
            accept_v1=settings.accepts_v1_signatures(now),
        )
    except SignatureError as exc:
        return json_error(401, f"invalid signature: {exc.reason}")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        return json_error(415, f"Content-Type must be application/json, not {content_type!r}")
    try:
        payload = parse_json(raw)
    except JSONInputError as exc:
        error = {"field": "body", "message": str(exc), "type": "json_invalid"}
        return json_error(422, f"body is not valid JSON: {exc}", errors=[error])
    try:
        client = await temporal.client()
    except TemporalUnavailable as exc:
        result = unavailable(exc)
    else:
        result = await submit_form(
            client, settings, form, payload, execution_timeout=request.app.state.execution_timeout
        )
    return JSONResponse(result.body, status_code=result.status_code)
