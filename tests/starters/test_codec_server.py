"""The codec server the Temporal UI decrypts with: CORS, authentication, encode/decode — and,
on the real dev server, a stored history that holds no plaintext personal data."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from activities.operator_sessions import open_session
from models.forms import FORMS
from models.settings import Settings
from starters.cli import app as cli
from starters.devstack import dev_server_command
from starters.intake import submit_form
from starters.order_prerequisites import seed_order_example
from starters.web.app import create_app
from starters.web.codec import CodecTokensOff, codec_token, codec_token_valid
from starters.web.operators import SESSION_COOKIE, hash_password, operators_for, sign_session
from tests.workflows.harness import pending
from workers.codec import REFUSED, EncryptionCodec, data_converter
from workers.main import build_worker

UI = "http://127.0.0.1:8233"
JSON_PLAIN = base64.b64encode(b"json/plain").decode()
ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()


def _with_key(settings: Settings, **update: Any) -> Settings:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return settings.model_copy(update={"payload_key": SecretStr(key), **update})


def _json_payload(value: Any) -> dict[str, Any]:
    data = json.dumps(value, separators=(",", ":")).encode()
    return {"metadata": {"encoding": JSON_PLAIN}, "data": base64.b64encode(data).decode()}


def _web(settings: Settings, client: Client | None = None) -> httpx.AsyncClient:
    app = create_app(settings, client)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_cors_preflight_only_for_the_temporal_ui_origin(settings: Settings) -> None:
    async with _web(_with_key(settings)) as web:
        request = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }
        allowed = await web.options("/codec/abc/decode", headers={"Origin": UI, **request})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert {"content-type", "x-namespace", "authorization"} <= {
            h.strip() for h in allowed.headers["access-control-allow-headers"].split(",")
        }
        assert "POST" in allowed.headers["access-control-allow-methods"]
        other = await web.options(
            "/codec/decode", headers={"Origin": "https://evil.example", **request}
        )
        assert other.status_code == 403
        assert "access-control-allow-origin" not in other.headers


async def test_the_codec_server_needs_the_token_or_an_operator(settings: Settings) -> None:
    settings = _with_key(settings)
    body = {"payloads": [_json_payload({"name": "Anna Schmidt"})]}
    async with _web(settings) as web:
        for path, headers in [
            ("/codec/encode", {}),
            ("/codec/decode", {"Authorization": "Bearer wrong"}),
            ("/codec/not-the-token/encode", {}),
            ("/codec/decode", {"Authorization": f"Basic {codec_token(settings)}"}),
        ]:
            response = await web.post(path, json=body, headers={"Origin": UI, **headers})
            assert response.status_code == 401, path
            assert response.json()["detail"].startswith("codec server")
            assert response.headers["access-control-allow-origin"] == UI  # the UI can show why

        settings = settings.model_copy(
            update={
                "operators": SecretStr(f"alice:{hash_password('correct horse', iterations=1000)}")
            }
        )
        cookie = sign_session(
            settings.secret("session_secret"),
            "alice",
            operators_for(settings)["alice"].fingerprint,
            sid=open_session(settings, "alice", 600),
        )
    async with _web(settings) as web:
        web.cookies.set(SESSION_COOKIE, cookie)
        assert (await web.post("/codec/encode", json=body)).status_code == 200


async def test_encode_then_decode_through_capability_path_and_bearer(settings: Settings) -> None:
    settings = _with_key(settings)
    token = codec_token(settings)
    original = _json_payload(
        {"name": "Anna Schmidt", "email": "anna.schmidt@stadtwerke-kiel.example"}
    )
    headers = {"Origin": UI, "X-Namespace": "default"}
    async with _web(settings) as web:
        encoded = await web.post(
            f"/codec/{token}/encode", json={"payloads": [original]}, headers=headers
        )
        assert encoded.status_code == 200, encoded.text
        assert encoded.headers["access-control-allow-origin"] == UI
        assert encoded.headers["cache-control"] == "no-store"
        [sealed] = encoded.json()["payloads"]
        assert sealed["metadata"]["encoding"] == ENCRYPTED
        assert b"Anna" not in base64.b64decode(sealed["data"])
        bearer = {**headers, "Authorization": f"Bearer {token}"}
        decoded = await web.post(
            "/codec/decode", json={"payloads": [sealed, original]}, headers=bearer
        )
        assert decoded.status_code == 200, decoded.text
        refused = {k: base64.b64encode(v).decode() for k, v in REFUSED.metadata.items()}
        # What arrived unencrypted is shown as the worker sees it: refused.
        assert decoded.json()["payloads"] == [
            original,
            {"metadata": refused, "data": base64.b64encode(REFUSED.data).decode()},
        ]

        other_namespace = await web.post(
            "/codec/decode", json={"payloads": [sealed]}, headers={**bearer, "X-Namespace": "other"}
        )
        assert other_namespace.status_code == 403
        tampered = {
            **sealed,
            "data": base64.b64encode(base64.b64decode(sealed["data"])[:-1] + b"\0").decode(),
        }
        refused = await web.post("/codec/decode", json={"payloads": [tampered]}, headers=bearer)
        assert refused.status_code == 422 and "altered" in refused.json()["detail"]
        malformed = await web.post(
            "/codec/decode", json={"payloads": [{"data": "%%%"}]}, headers=bearer
        )
        assert malformed.status_code == 400


async def test_without_a_payload_key_the_codec_server_answers_404(settings: Settings) -> None:
    async with _web(settings) as web:
        response = await web.post(f"/codec/{codec_token(settings)}/decode", json={"payloads": []})
    assert response.status_code == 404
    assert "PARTNERFLOW_PAYLOAD_KEY" in response.json()["detail"]


def test_make_run_wires_the_ui_to_the_codec_server(settings: Settings) -> None:
    assert "--ui-codec-endpoint" not in dev_server_command(settings)  # no key: nothing to decode
    settings.ensure_dev_payload_key()  # what `partnerflow run` does
    command = dev_server_command(settings)
    endpoint = command[command.index("--ui-codec-endpoint") + 1]
    prefix = f"{settings.public_base_url}/codec/"
    assert endpoint.startswith(prefix) and codec_token_valid(settings, endpoint[len(prefix) :])


def test_codec_tokens_expire_are_their_own_and_rotate(settings: Settings) -> None:
    token = codec_token(settings, now=1_000_000, days=1)
    assert codec_token_valid(settings, token, now=1_000_000 + 86_399)
    assert not codec_token_valid(settings, token, now=1_000_000 + 86_400)  # expired
    other_sessions = settings.model_copy(update={"session_secret": SecretStr("changed")})
    assert codec_token_valid(other_sessions, token, now=1_000_000)  # not the session secret
    rotated = settings.model_copy(update={"codec_secret": SecretStr("rotated")})
    assert not codec_token_valid(rotated, token, now=1_000_000)
    for junk in ("", ".", "abc.def", f"{'9' * 40}.00", token.split(".")[1]):
        assert not codec_token_valid(settings, junk, now=1_000_000)
    public = settings.model_copy(update={"public_base_url": "https://partners.example.com"})
    assert not codec_token_valid(public, codec_token(settings), now=1_000_000)
    with pytest.raises(CodecTokensOff):
        codec_token(public)


def test_keygen_prints_a_fresh_usable_key(tmp_path: Path) -> None:
    first, second = (CliRunner().invoke(cli, ["codec", "keygen"]) for _ in range(2))
    assert first.exit_code == 0 and first.output != second.output
    settings = Settings(
        PARTNERFLOW_DATA_DIR=tmp_path, PARTNERFLOW_PAYLOAD_KEY=first.output.strip(), _env_file=None
    )
    assert len(settings.resolved_payload_key() or b"") == 32


# --- on the real dev server --------------------------------------------------------------------


def _payloads(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every payload (`{"metadata": ..., "data": ...}`) in a history's JSON, with its path."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield path, node
            return
        for key, value in node.items():
            yield from _payloads(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _payloads(value, f"{path}[{index}]")


def _bookkeeping(path: str) -> bool:
    """Search attributes and the SDK's markers (local-activity results' metadata, patch ids)."""
    markers = (
        ".markerRecordedEventAttributes.details.data.",
        ".markerRecordedEventAttributes.details.patch-data.",
    )
    return ".searchAttributes.indexedFields." in path or any(marker in path for marker in markers)


async def _until_pending(handle: WorkflowHandle, task: str) -> None:
    await pending(handle, task)


async def test_history_holds_no_plaintext_personal_data_and_the_ui_path_decodes_it(
    local_env: WorkflowEnvironment, settings: Settings
) -> None:
    settings = _with_key(settings, temporal_task_queue=f"codec-{uuid.uuid4().hex[:8]}")
    client = Client(
        local_env.client.service_client,
        namespace="default",
        data_converter=data_converter(settings),
    )
    plain = local_env.client  # no codec: sees what Temporal stores
    marker = uuid.uuid4().hex[:8]
    seed_order_example(settings)  # the example's active VAR and approved registration
    submission = FORMS["order"].fresh_example()
    contact = {"name": f"Ilse Quandt{marker}", "email": f"ilse.{marker}@stadtwerke.example"}
    submission["end_customer"]["contact"] = contact
    submission["end_customer"]["address"]["line1"] = f"Uhlenkrog {marker}"
    submission["reseller"]["contact"]["email"] = f"lena.{marker}@nordlicht.example"
    personal = [
        contact["name"],
        contact["email"],
        submission["reseller"]["contact"]["email"],
        f"Uhlenkrog {marker}",
    ]
    token = codec_token(settings)
    ui = {"Origin": UI, "X-Namespace": "default"}

    async with build_worker(client, settings), _web(settings, client) as web:
        started = await submit_form(
            client, settings, "order", submission, execution_timeout=timedelta(minutes=10)
        )
        assert started.status_code == 202, started.body
        handle = client.get_workflow_handle(started.body["workflow_id"])
        try:
            again = await submit_form(client, settings, "order", submission)
            assert again.status_code == 200, again.body  # the encrypted memo still dedupes
            await _until_pending(handle, "accept_terms")
            # An operator sends the signal from the UI: JSON, encoded by the codec server.
            acceptance = {**contact, "title": f"CTO {marker}", "agreed": True}
            encoded = await web.post(
                f"/codec/{token}/encode", json={"payloads": [_json_payload(acceptance)]}, headers=ui
            )
            assert encoded.status_code == 200, encoded.text
            await client.workflow_service.signal_workflow_execution(
                SignalWorkflowExecutionRequest(
                    namespace="default",
                    workflow_execution=WorkflowExecution(workflow_id=handle.id),
                    signal_name="accept_terms",
                    input=Payloads(payloads=[_proto(p) for p in encoded.json()["payloads"]]),
                    identity="temporal-ui",
                )
            )
            await _until_pending(handle, "review_license")  # the worker read the UI's signal

            history = json.loads(
                (await plain.get_workflow_handle(handle.id).fetch_history()).to_json()
            )
            found = list(_payloads(history))
            stored = json.dumps(history) + "".join(
                base64.b64decode(p.get("data", "")).decode("latin-1") for _, p in found
            )
            for value in personal:
                assert value not in stored, f"{value} stored in plaintext"
            # Plaintext only in search attributes and the SDK's markers (local activities, patches).
            sealed = [(path, p) for path, p in found if not _bookkeeping(path)]
            plain_paths = [path for path, p in sealed if p["metadata"]["encoding"] != ENCRYPTED]
            assert sealed and plain_paths == [], "payloads stored unencrypted"

            decoded = await web.post(
                f"/codec/{token}/decode", json={"payloads": [p for _, p in sealed]}, headers=ui
            )
            assert decoded.status_code == 200, decoded.text
            readable = "".join(
                base64.b64decode(p["data"]).decode() for p in decoded.json()["payloads"]
            )
            for value in [*personal, f"CTO {marker}"]:
                assert value in readable

            # Sent around the codec (straight to Temporal's frontend, unencrypted), the same
            # decision is refused: the signal is recorded as rejected, the update is rejected
            # with the reason, the task stays open.
            review = await pending(handle, "review_license")
            around = Client(
                local_env.client.service_client,
                namespace="default",
                data_converter=dataclasses.replace(
                    data_converter(settings),
                    payload_codec=AroundTheCodec(settings.resolved_payload_keys()),
                ),
            )
            forged = around.get_workflow_handle(handle.id)
            await forged.signal("review_license", review["example"])
            with pytest.raises(WorkflowUpdateFailedError) as rejected:
                await forged.execute_update("review_license", review["example"])
            assert "refused: this payload was not encrypted" in str(rejected.value.cause)
            # The update's answer came after the signal was delivered: both were refused.
            status = await handle.query("status")
            assert status["stage"] == "license_review", status["stage"]
            assert [t["task"] for t in status["pending_tasks"]] == ["review_license"]
            [refusal] = [h for h in status["history"] if h["step"] == "review_license"]
            assert refusal["event"] == "rejected" and refusal["detail"]["reason"] == (
                "unencrypted input"
            )
        finally:
            await handle.terminate("codec test done")


class AroundTheCodec(EncryptionCodec):
    """A client that sends plaintext straight to Temporal (as someone bypassing the codec
    would) but can read the worker's encrypted answers."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def _proto(payload: dict[str, Any]) -> Payload:
    metadata = {k: base64.b64decode(v) for k, v in payload["metadata"].items()}
    return Payload(metadata=metadata, data=base64.b64decode(payload["data"]))
