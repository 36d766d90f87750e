"""`POST /webhooks/stripe`: Stripe invoice events advance the workflow that owns the invoice.

The `Stripe-Signature` header is verified with Stripe's own library (5-minute tolerance).
Invoice events are routed by the invoice's `metadata.workflow_id` (set by the billing
activity) as the `invoice_event` signal; the workflow ignores an event id it has seen, so
Stripe's retries and replays have no second effect, and records as ignored an event that
arrives after the invoice moved past the stage it reports (stages only move forward,
`models/invoices.py`). Unknown or unrelated events answer 200.
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.json_input import JSONInputError, parse_json
from starters.intake import RPC_TIMEOUT
from starters.web.deps import SettingsDep, TemporalDep
from starters.web.pages import json_error, read_body

log = logging.getLogger(__name__)
router = APIRouter()
# Stripe's event objects are well under this (an invoice with many lines included).
STRIPE_MAX_BODY_BYTES = 1024 * 1024

ONBOARDING_PREFIX = "rc-onboarding-"

# Stripe event type -> the invoice status it reports
INVOICE_EVENTS = {
    "invoice.finalized": "open",
    "invoice.sent": "open",
    "invoice.paid": "paid",
    "invoice.payment_failed": "open",
    "invoice.voided": "void",
    "invoice.marked_uncollectible": "uncollectible",
}


def invoice_signal(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(workflow id, `invoice_event` payload) for an invoice event we track, else None."""
    status = INVOICE_EVENTS.get(event.get("type", ""))
    invoice = (event.get("data") or {}).get("object") or {}
    workflow_id = (invoice.get("metadata") or {}).get("workflow_id")
    if status is None or not workflow_id or invoice.get("object") != "invoice":
        return None
    payload = {
        "event_id": event["id"],
        "type": event["type"],
        "invoice_id": invoice["id"],
        "status": invoice.get("status") or status,
        "amount_paid_cents": int(invoice.get("amount_paid") or 0),
    }
    return workflow_id, payload


@router.post("/webhooks/stripe")
async def stripe_webhook(
    request: Request, settings: SettingsDep, temporal: TemporalDep
) -> JSONResponse:
    """Stripe event webhook (signed with `STRIPE_WEBHOOK_SECRET`)."""
    secret = settings.stripe_webhook_secret
    if secret is None:
        return JSONResponse(
            {"detail": "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"},
            status_code=404,
        )
    raw = await read_body(request, STRIPE_MAX_BODY_BYTES)  # never read past the limit
    if raw is None:
        return json_error(413, f"request body larger than {STRIPE_MAX_BODY_BYTES} bytes")
    try:
        stripe.WebhookSignature.verify_header(
            raw.decode("utf-8"),
            request.headers.get("Stripe-Signature"),
            secret.get_secret_value(),
            tolerance=settings.webhook_tolerance_seconds,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        return JSONResponse({"detail": f"invalid Stripe signature: {exc}"}, status_code=400)
    try:
        event = parse_json(raw)
    except JSONInputError as exc:
        return JSONResponse({"detail": f"body is not valid JSON: {exc}"}, status_code=400)
    routed = invoice_signal(event) if isinstance(event, dict) and "id" in event else None
    if routed is None:
        return JSONResponse({"received": True, "ignored": True})
    workflow_id, payload = routed
    try:
        client = await temporal.client()
        workflow_id = await _signal_invoice_event(client, workflow_id, payload)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # closed long ago or not ours
            return JSONResponse(
                {
                    "received": True,
                    "ignored": True,
                    "reason": f"no running workflow {workflow_id}",
                }
            )
        log.warning("invoice_event to %s failed: %s", workflow_id, exc)
        return json_error(503, "temporarily unavailable")  # Stripe retries
    except Exception as exc:
        log.warning("Temporal unreachable for Stripe event %s: %s", event.get("id"), exc)
        return json_error(503, "temporarily unavailable")
    return JSONResponse({"received": True, "workflow_id": workflow_id})


async def _signal_invoice_event(client: Client, workflow_id: str, payload: dict[str, Any]) -> str:
    """Signal `invoice_event` to the invoice's workflow (the id it was signalled to). A
    Rocket.Chat onboarding that has ended hands its program fee invoice to the partnership
    it started, so a fee paid after the onboarding reaches `rc-partnership-{partner_id}`."""
    try:
        await client.get_workflow_handle(workflow_id).signal(
            "invoice_event", payload, rpc_timeout=RPC_TIMEOUT
        )
        return workflow_id
    except RPCError as exc:
        partner_id = workflow_id.removeprefix(ONBOARDING_PREFIX)
        if exc.status != RPCStatusCode.NOT_FOUND or partner_id == workflow_id:
            raise
    successor = f"rc-partnership-{partner_id}"
    await client.get_workflow_handle(successor).signal(
        "invoice_event", payload, rpc_timeout=RPC_TIMEOUT
    )
    return successor
