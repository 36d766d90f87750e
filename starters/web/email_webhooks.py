"""`POST /webhooks/sendgrid`: SendGrid's Event Webhook turns undelivered process emails into
operations tasks on the workflow that sent them.

The request is verified with SendGrid's own helper (`sendgrid.helpers.eventwebhook`): an
ECDSA P-256 signature over the `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the
raw body, checked with `SENDGRID_WEBHOOK_PUBLIC_KEY`; the timestamp must be within
`PARTNERFLOW_WEBHOOK_TOLERANCE` seconds. The body is a JSON array of events.

Process emails carry `custom_args` (`workflow_id`, `step`, `idempotency_key`, set by
`activities.email.sendgrid.sendgrid_body`), which SendGrid copies onto each event. A `bounce`
(also of type `blocked`) or a `dropped` event of a process email is sent to its workflow as the
`email_event` signal; the workflow ignores an `sg_event_id` it has seen, so SendGrid's retries
have no second effect. Every other event (delivered, open, deferred, ...) and events of
workflows that no longer run answer 200 and are ignored; Temporal unavailable answers 503 so
that SendGrid retries the batch.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from temporalio.service import RPCError, RPCStatusCode

from models.json_input import JSONInputError, parse_json
from starters.intake import RPC_TIMEOUT
from starters.web.deps import SettingsDep, TemporalDep
from starters.web.pages import json_error, read_body

log = logging.getLogger(__name__)
router = APIRouter()

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
MAX_EVENT_BODY_BYTES = 4 * 1024 * 1024  # SendGrid batches events; a batch is well below this
EMAIL_EVENT_SIGNAL = "email_event"
ROUTED_EVENTS = {"bounce", "dropped"}


def email_signal(event: Any) -> tuple[str, dict[str, Any]] | None:
    """(workflow id, `email_event` payload) for an undelivered process email, else None."""
    if not isinstance(event, dict) or event.get("event") not in ROUTED_EVENTS:
        return None
    workflow_id, step, event_id = (
        event.get("workflow_id"),
        event.get("step"),
        event.get("sg_event_id"),
    )
    if not all(isinstance(v, str) and v for v in (workflow_id, step, event_id)):
        return None  # not a process email (no custom_args), or a malformed event
    kind = event["event"]
    if kind == "bounce" and event.get("type") == "blocked":
        kind = "blocked"
    timestamp = event.get("timestamp")
    payload = {
        "sg_event_id": event_id,
        "event": kind,
        "email": str(event.get("email") or "(unknown)"),
        "reason": str(event.get("reason") or event.get("response") or "")[:2000] or None,
        "step": step,
        "timestamp": timestamp
        if isinstance(timestamp, int) and not isinstance(timestamp, bool)
        else None,
    }
    return workflow_id, payload  # type: ignore[return-value]


class _Verifier:
    """SendGrid's `EventWebhook`, built once from the configured public key."""

    def __init__(self, public_key: str) -> None:
        self.public_key = public_key
        self._webhook: EventWebhook | None = None

    def webhook(self) -> EventWebhook:
        if self._webhook is None:
            self._webhook = EventWebhook(self.public_key.strip())
        return self._webhook

    def verify(self, payload: str, signature: str, timestamp: str) -> bool:
        """True when the signature matches; ValueError when the configured key is unusable."""
        webhook = self.webhook()
        try:
            base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            return bool(webhook.verify_signature(payload, signature, timestamp))
        except (InvalidSignature, ValueError, TypeError):
            return False


@functools.lru_cache(maxsize=4)
def _verifier(public_key: str) -> _Verifier:
    """One verifier per configured key (loading the key is not free)."""
    return _Verifier(public_key)


@router.post(
    "/webhooks/sendgrid",
    openapi_extra={
        "parameters": [
            {
                "in": "header",
                "name": SIGNATURE_HEADER,
                "required": True,
                "schema": {"type": "string", "description": "base64 DER ECDSA signature"},
            },
            {
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "required": True,
                "schema": {"type": "string", "example": "1767225600"},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "email": {"type": "string"},
                                "timestamp": {"type": "integer"},
                                "event": {"type": "string"},
                                "sg_event_id": {"type": "string"},
                                "reason": {"type": "string"},
                                "type": {"type": "string"},
                                "workflow_id": {"type": "string"},
                                "step": {"type": "string"},
                            },
                        },
                    }
                }
            },
        },
    },
)
async def sendgrid_webhook(
    request: Request, settings: SettingsDep, temporal: TemporalDep
) -> JSONResponse:
    """SendGrid Event Webhook (signed, `SENDGRID_WEBHOOK_PUBLIC_KEY`): a bounced, blocked
    or dropped process email becomes the task `fix_email_delivery` on its workflow."""
    key = (settings.sendgrid_webhook_public_key or "").strip()
    if not key:
        return json_error(
            404, "SendGrid event webhooks are not configured (SENDGRID_WEBHOOK_PUBLIC_KEY)"
        )
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    if not signature or not timestamp:
        return json_error(401, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.isdigit() or not timestamp.isascii():
        return json_error(401, f"malformed {TIMESTAMP_HEADER} header: unix seconds expected")
    tolerance = settings.webhook_tolerance_seconds
    if abs(time.time() - int(timestamp)) > tolerance:
        return json_error(
            401, f"stale timestamp: more than {tolerance} seconds from the server's clock"
        )
    raw = await read_body(request, MAX_EVENT_BODY_BYTES)
    if raw is None:
        return json_error(413, f"request body larger than {MAX_EVENT_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return json_error(400, "body is not UTF-8")
    try:
        valid = _verifier(key).verify(text, signature, timestamp)
    except ValueError as exc:  # the configured key cannot be loaded: fix it, SendGrid retries
        log.error("SENDGRID_WEBHOOK_PUBLIC_KEY is not a valid public key: %s", exc)
        return json_error(503, "SendGrid event webhook misconfigured")
    if not valid:
        return json_error(401, "invalid SendGrid signature")
    try:
        events = parse_json(text)
    except JSONInputError as exc:
        return json_error(400, f"body is not valid JSON: {exc}")
    if not isinstance(events, list):
        return json_error(400, "body must be a JSON array of events")
    routed: list[str] = []
    ignored = 0
    for event in events:
        signal = email_signal(event)
        if signal is None:
            ignored += 1
            continue
        workflow_id, payload = signal
        try:
            client = await temporal.client()
            await client.get_workflow_handle(workflow_id).signal(
                EMAIL_EVENT_SIGNAL, payload, rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # closed or not ours
                ignored += 1
                continue
            log.warning("email_event to %s failed: %s", workflow_id, exc)
            return json_error(503, "temporarily unavailable")  # SendGrid retries the batch
        except Exception as exc:
            log.warning(
                "Temporal unreachable for SendGrid event %s: %s", payload["sg_event_id"], exc
            )
            return json_error(503, "temporarily unavailable")
        routed.append(workflow_id)
    return JSONResponse({"received": len(events), "routed": routed, "ignored": ignored})
