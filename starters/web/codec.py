"""The codec server: Temporal's remote codec protocol, so the Temporal UI (and
`temporal --codec-endpoint`) show and send encrypted payloads as JSON.

`POST /codec/encode` and `POST /codec/decode` take and return
`{"payloads": [{"metadata": {key: base64}, "data": base64}]}`. Who may call them:

- the capability URL `POST /codec/{token}/encode|decode` — what `partnerflow run` gives the
  dev server's UI (`--ui-codec-endpoint`); `token` is `<expiry>.<HMAC-SHA256>` under its own
  secret (`PARTNERFLOW_CODEC_SECRET`), valid `PARTNERFLOW_CODEC_TOKEN_DAYS` (rotating the
  secret ends every token);
- `Authorization: Bearer {token}` on `/codec/encode|decode`, for the CLI and other tools;
- a signed-in operator (session cookie, or the proxy's header in proxy-header mode).

Browsers may call it only from `PARTNERFLOW_CODEC_CORS_ORIGIN` (the Temporal UI's origin).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from temporalio.api.common.v1 import Payload

from models.constant_time import same_secret
from models.json_input import JSONInputError, parse_json
from models.settings import Settings
from starters.web.deps import SettingsDep
from starters.web.operators import current_operator
from starters.web.pages import read_body
from workers.codec import EncryptionCodec, UnknownKeyError

ACTIONS = ("encode", "decode")
MAX_BODY_BYTES = 8 * 1024 * 1024
ALLOW_HEADERS = "content-type, x-namespace, authorization"

router = APIRouter(prefix="/codec")


class CodecTokensOff(RuntimeError):
    """A public service without `PARTNERFLOW_CODEC_SECRET` issues no codec tokens."""


def _signing_key(settings: Settings) -> bytes | None:
    """The key of codec tokens: `PARTNERFLOW_CODEC_SECRET`, else the local stack's dev value;
    None for a public service without it (operators' sessions only)."""
    if settings.codec_secret is not None:
        return settings.codec_secret.get_secret_value().encode()
    if settings.trusted_hosts() is None:  # a local stack
        return settings.secret("codec_secret").encode()
    return None


def _signature(key: bytes, expires: int) -> str:
    return hmac.new(key, f"codec.{expires}".encode(), hashlib.sha256).hexdigest()


def codec_token(settings: Settings, *, now: float | None = None, days: int | None = None) -> str:
    """A codec token `<expires>.<HMAC>`, valid for `days` (`PARTNERFLOW_CODEC_TOKEN_DAYS`)."""
    key = _signing_key(settings)
    if key is None:
        raise CodecTokensOff("set PARTNERFLOW_CODEC_SECRET to issue codec tokens")
    issued = int(now if now is not None else time.time())
    expires = issued + 86_400 * (days or settings.codec_token_days)
    return f"{expires}.{_signature(key, expires)}"


def codec_token_valid(settings: Settings, token: str, *, now: float | None = None) -> bool:
    """Is `token` a codec token of the current secret that has not expired?"""
    key = _signing_key(settings)
    expires, _, signature = token.partition(".")
    if key is None or not re.fullmatch(r"[0-9]{1,12}", expires):
        return False
    if int(expires) <= (now if now is not None else time.time()):
        return False
    return same_secret(signature, _signature(key, int(expires)))


def codec_endpoint(settings: Settings) -> str:
    """The capability URL for the Temporal UI's codec endpoint (a secret: never print it)."""
    return f"{settings.public_base_url.rstrip('/')}/codec/{codec_token(settings)}"


@router.options("/{action}", include_in_schema=False)
@router.options("/{token}/{action}", include_in_schema=False)
async def codec_preflight(request: Request, settings: SettingsDep) -> Response:
    """CORS preflight: allowed only for the configured Temporal UI origin."""
    headers = _cors_headers(settings, request)
    if not headers:
        return Response(status_code=403)
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    )
    return Response(status_code=204, headers=headers)


@router.post("/{action}")
async def codec(action: str, request: Request, settings: SettingsDep) -> Response:
    """Encode or decode payloads (`Authorization: Bearer` or an operator session)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return await _apply(settings, request, action, token if scheme.lower() == "bearer" else None)


@router.post("/{token}/{action}", include_in_schema=False)
async def codec_capability(
    token: str, action: str, request: Request, settings: SettingsDep
) -> Response:
    """Encode or decode payloads through the capability URL given to the Temporal UI."""
    return await _apply(settings, request, action, token)


async def _apply(settings: Settings, request: Request, action: str, token: str | None) -> Response:
    headers = {**_cors_headers(settings, request), "Cache-Control": "no-store"}

    def error(status_code: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)

    if action not in ACTIONS:
        return error(404, f"unknown codec action {action!r}: use encode or decode")
    # an operator's session is a records read: off the event loop (the UI decodes often)
    if not await asyncio.to_thread(_authorized, settings, request, token):
        return error(
            401,
            "codec server: authenticate with the codec token (capability URL or "
            "Authorization: Bearer) or sign in",
        )
    keys = settings.resolved_payload_keys()
    if not keys:
        return error(
            404,
            "payload encryption is off (no PARTNERFLOW_PAYLOAD_KEY): "
            "there is nothing to encode or decode",
        )
    namespace = request.headers.get("x-namespace")
    if namespace and namespace != settings.temporal_namespace:
        served = settings.temporal_namespace
        return error(403, f"this codec server serves namespace {served!r}, not {namespace!r}")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return error(415, "Content-Type must be application/json")
    raw = await read_body(request, MAX_BODY_BYTES)
    if raw is None:
        return error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        payloads = _parse(raw)
    except ValueError as exc:
        return error(400, f"body is not a payloads object: {exc}")
    codec = EncryptionCodec(keys, accept_plaintext=settings.accept_plaintext_payloads)
    try:
        result = await (codec.encode(payloads) if action == "encode" else codec.decode(payloads))
    except UnknownKeyError as exc:
        return error(422, str(exc))
    except InvalidTag:
        return error(
            422, "a payload failed authentication: it was altered or encrypted with another key"
        )
    return JSONResponse({"payloads": [_payload_json(p) for p in result]}, headers=headers)


def _authorized(settings: Settings, request: Request, token: str | None) -> bool:
    if token and codec_token_valid(settings, token):
        return True
    return current_operator(request, settings) is not None


def _cors_headers(settings: Settings, request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin or origin != settings.codec_cors_origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _parse(raw: bytes) -> list[Payload]:
    try:
        body: Any = parse_json(raw)
    except JSONInputError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("payloads", []), list):
        raise ValueError('expected {"payloads": [...]}')
    payloads = []
    for index, item in enumerate(body.get("payloads", [])):
        if not isinstance(item, dict) or not isinstance(item.get("metadata", {}), dict):
            raise ValueError(f"payloads[{index}] must be an object with a metadata object")
        try:
            metadata = {str(k): _b64(v) for k, v in item.get("metadata", {}).items()}
            payloads.append(Payload(metadata=metadata, data=_b64(item.get("data", ""))))
        except (TypeError, binascii.Error):
            raise ValueError(
                f"payloads[{index}]: metadata values and data must be base64 strings"
            ) from None
    return payloads


def _b64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not a string")
    value = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)


def _payload_json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }
