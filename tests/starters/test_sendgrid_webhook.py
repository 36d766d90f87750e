"""`POST /webhooks/sendgrid`: SendGrid's signed Event Webhook. A bounced process email of a
running order becomes the operations task `fix_email_delivery` (once per `sg_event_id`),
`email_delivery_fixed` closes it; unsigned, stale, malformed and irrelevant events change
nothing. Signed here exactly as SendGrid signs: ECDSA P-256 / SHA-256 over timestamp + body,
base64 DER signature, verified with the base64 DER public key from SendGrid's settings."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from starters.web.app import create_app
from starters.web.email_webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, email_signal
from tests.eventually import eventually
from tests.factories import order_input
from workers.main import build_worker
from workflows.search_attributes import PENDING_TASK

PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def signed(
    events: Any, *, t: int | None = None, key: ec.EllipticCurvePrivateKey = PRIVATE_KEY
) -> tuple[bytes, dict[str, str]]:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    timestamp = str(int(time.time()) if t is None else t)
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: timestamp,
        "Content-Type": "application/json",
    }


def bounce(workflow_id: str, *, event_id: str = "sg-evt-1", **changes: Any) -> dict[str, Any]:
    return {
        "email": "anna.schmidt@kunde.example",
        "timestamp": int(time.time()),
        "event": "bounce",
        "type": "bounce",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist",
        "status": "5.1.1",
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "workflow_id": workflow_id,
        "step": "acceptance:request",
        "idempotency_key": f"{workflow_id}:acceptance:request",
        **changes,
    }


class RecordingClient:
    """A Temporal client stand-in that records signals (never contacts a server)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.signals: list[tuple[str, str, Any]] = []
        self.error = error

    def get_workflow_handle(self, workflow_id: str) -> Any:
        client = self

        class Handle:
            async def signal(self, name: str, arg: Any, **_: Any) -> None:
                if client.error is not None:
                    raise client.error
                client.signals.append((workflow_id, name, arg))

        return Handle()


def web(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def sg_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sendgrid_webhook_public_key": PUBLIC_KEY})


# --- without Temporal ----------------------------------------------------------------------------


async def test_not_configured_answers_404(settings: Settings) -> None:
    client = RecordingClient()
    async with web(create_app(settings, client)) as http:  # type: ignore[arg-type]
        body, headers = signed([bounce("order-1")])
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 404 and "not configured" in response.json()["detail"]
    assert client.signals == []


async def test_bad_signature_stale_timestamp_and_malformed_bodies_change_nothing(
    sg_settings: Settings,
) -> None:
    client = RecordingClient()
    other = ec.generate_private_key(ec.SECP256R1())
    async with web(create_app(sg_settings, client)) as http:  # type: ignore[arg-type]
        events = [bounce("order-1")]

        body, headers = signed(events, key=other)
        assert (
            await http.post("/webhooks/sendgrid", content=body, headers=headers)
        ).status_code == 401

        body, headers = signed(events)
        tampered = body.replace(b"order-1", b"order-2")
        assert (
            await http.post("/webhooks/sendgrid", content=tampered, headers=headers)
        ).status_code == 401

        for bad in ["not base64!", "", base64.b64encode(b"not DER").decode()]:
            response = await http.post(
                "/webhooks/sendgrid", content=body, headers={**headers, SIGNATURE_HEADER: bad}
            )
            assert response.status_code == 401, bad
        response = await http.post(
            "/webhooks/sendgrid", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401

        stale = int(time.time()) - sg_settings.webhook_tolerance_seconds - 5
        body, headers = signed(events, t=stale)
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
        assert response.status_code == 401 and "stale" in response.json()["detail"]
        body, headers = signed(events)
        response = await http.post(
            "/webhooks/sendgrid", content=body, headers={**headers, TIMESTAMP_HEADER: "soon"}
        )
        assert response.status_code == 401

        body, headers = signed(b'[{"event": "bounce",')
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
        assert response.status_code == 400 and "JSON" in response.json()["detail"]
        body, headers = signed({"event": "bounce"})
        assert (
            await http.post("/webhooks/sendgrid", content=body, headers=headers)
        ).status_code == 400
        body, headers = signed(b"\xff\xfe[]")
        assert (
            await http.post("/webhooks/sendgrid", content=body, headers=headers)
        ).status_code == 400
    assert client.signals == []


async def test_only_undelivered_process_emails_are_routed(sg_settings: Settings) -> None:
    client = RecordingClient()
    events = [
        bounce("order-1", event_id="e1"),
        bounce("order-1", event_id="e2", type="blocked", reason="550 blocked by policy"),
        bounce("order-2", event_id="e3", event="dropped", reason="Bounced Address"),
        bounce("order-1", event_id="e4", event="delivered"),
        bounce("order-1", event_id="e5", event="deferred"),
        bounce("order-1", event_id="e6", event="open"),
        {
            k: v for k, v in bounce("order-1", event_id="e7").items() if k != "workflow_id"
        },  # not ours
        "not an event",
    ]
    async with web(create_app(sg_settings, client)) as http:  # type: ignore[arg-type]
        body, headers = signed(events)
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {
        "received": 8,
        "routed": ["order-1", "order-1", "order-2"],
        "ignored": 5,
    }
    assert [(w, n, a["sg_event_id"], a["event"]) for w, n, a in client.signals] == [
        ("order-1", "email_event", "e1", "bounce"),
        ("order-1", "email_event", "e2", "blocked"),
        ("order-2", "email_event", "e3", "dropped"),
    ]
    payload = client.signals[0][2]
    assert (
        payload["email"] == "anna.schmidt@kunde.example" and payload["step"] == "acceptance:request"
    )
    assert payload["reason"].startswith("550 5.1.1") and isinstance(payload["timestamp"], int)
    assert email_signal(bounce("x", event="processed")) is None


async def test_unknown_workflow_is_ignored_and_unavailable_temporal_answers_503(
    sg_settings: Settings,
) -> None:
    body, headers = signed([bounce("order-gone")])
    missing = RecordingClient(RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b""))
    async with web(create_app(sg_settings, missing)) as http:  # type: ignore[arg-type]
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["ignored"] == 1
    down = RecordingClient(RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""))
    async with web(create_app(sg_settings, down)) as http:  # type: ignore[arg-type]
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 503  # SendGrid retries the batch


# --- a real order on the dev server ----------------------------------------------------------


async def pending(
    handle: WorkflowHandle, task: str, *, present: bool = True
) -> list[dict[str, Any]]:
    async def settled() -> list[dict[str, Any]] | None:
        tasks = await handle.query("pending_tasks")
        return tasks if (task in [t["task"] for t in tasks]) == present else None

    return await eventually(settled, what=f"{task} {'' if present else 'no longer '}pending")


async def _listed(handle: WorkflowHandle, task: str) -> bool:
    return task in await search_pending(handle)


async def search_pending(handle: WorkflowHandle) -> list[str]:
    description = await handle.describe()
    return list(description.typed_search_attributes.get(PENDING_TASK) or [])


@pytest.fixture
async def order(
    local_env: WorkflowEnvironment, sg_settings: Settings
) -> AsyncIterator[WorkflowHandle]:
    queue = f"sendgrid-{uuid.uuid4().hex[:8]}"
    worker_settings = sg_settings.model_copy(update={"temporal_task_queue": queue})
    async with build_worker(local_env.client, worker_settings):
        data = order_input()
        handle = await local_env.client.start_workflow(
            "OrderFulfillment",
            data,
            id=f"order-{data.order_id}",
            task_queue=queue,
            execution_timeout=timedelta(hours=1),
        )
        try:
            await pending(handle, "accept_terms")
            yield handle
        finally:
            try:
                await handle.terminate("test over")
            except Exception:
                pass


async def test_a_bounce_becomes_an_operations_task_once_and_is_closed(
    local_env: WorkflowEnvironment, sg_settings: Settings, order: WorkflowHandle
) -> None:
    app = create_app(sg_settings, local_env.client)
    async with web(app) as http:
        delivered = bounce(order.id, event_id="sg-delivered", event="delivered")
        body, headers = signed([delivered])
        response = await http.post("/webhooks/sendgrid", content=body, headers=headers)
        assert response.status_code == 200 and response.json()["routed"] == []

        body, headers = signed([bounce(order.id, event_id="sg-bounce-1")])
        first = await http.post("/webhooks/sendgrid", content=body, headers=headers)
        assert first.status_code == 200 and first.json()["routed"] == [order.id]
        tasks = await pending(order, "fix_email_delivery")
        [task] = [t for t in tasks if t["task"] == "fix_email_delivery"]
        assert task["assignee"] == "operations" and task["handler"] == "email_delivery_fixed"
        assert "acceptance:request" in task["description"]
        assert (
            "anna.schmidt@kunde.example" in task["description"]
            and "550 5.1.1" in task["description"]
        )
        assert "accept_terms" in [t["task"] for t in tasks]  # the main flow still waits as before

        again = await http.post(
            "/webhooks/sendgrid", content=body, headers=headers
        )  # SendGrid retry
        assert again.status_code == 200
        status = await order.query("status")
        assert [t["task"] for t in status["pending_tasks"]].count("fix_email_delivery") == 1
        bounces = [h for h in status["history"] if h["event"] == "email_bounce"]
        assert len(bounces) == 1 and bounces[0]["detail"]["sg_event_id"] == "sg-bounce-1"
        assert not [h for h in status["history"] if h["step"] == "email_event"]  # nothing rejected

        await eventually(
            lambda: _listed(order, "fix_email_delivery"), what="the task in the search attribute"
        )
        assert set(await search_pending(order)) >= {"fix_email_delivery", "accept_terms"}

    await order.signal(
        "email_delivery_fixed", {"decided_by": "partners@mattermost.com", "action": "bogus"}
    )
    await order.signal("email_delivery_fixed", task["example"])
    await pending(order, "fix_email_delivery", present=False)
    status = await order.query("status")
    assert [t["task"] for t in status["pending_tasks"]] == ["accept_terms"]
    [fixed] = [
        h
        for h in status["history"]
        if h["step"] == "fix_email_delivery" and h["event"] == "contact_updated"
    ]
    assert fixed["actor"] == "partners@mattermost.com" and fixed["detail"]["steps"] == [
        "acceptance:request"
    ]
    assert [
        h
        for h in status["history"]
        if h["step"] == "fix_email_delivery" and h["event"] == "rejected"
    ]
    await order.signal("email_delivery_fixed", task["example"])  # not pending any more: rejected
    [accept] = [t for t in await pending(order, "accept_terms") if t["task"] == "accept_terms"]
    await order.signal("accept_terms", accept["example"])
    await pending(order, "review_license")  # the main flow goes on undisturbed
