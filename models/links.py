"""Signed, expiring links for people outside the company (accept terms, sign an agreement).

A token is `<base64url(json claims)>.<hex HMAC-SHA256(secret, payload)>`. It names the
workflow and the purpose; pages verify it before they query or signal the workflow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

from pydantic import BaseModel

from models.constant_time import same_secret

# purpose -> path of the page that serves it
PURPOSE_PATHS: dict[str, str] = {
    "accept_terms": "/accept",
    "sign_agreement": "/sign",
    "directory_listing": "/listing",
}


class LinkError(ValueError):
    """The link is malformed, forged, for another purpose, or expired."""


class LinkClaims(BaseModel):
    workflow_id: str
    purpose: str
    expires_at: datetime
    subject: str | None = None  # e.g. the agreement id a sign link is for


def make_token(
    secret: str, workflow_id: str, purpose: str, expires_at: datetime, subject: str | None = None
) -> str:
    claims: dict[str, object] = {"w": workflow_id, "p": purpose, "e": int(expires_at.timestamp())}
    if subject:
        claims["s"] = subject
    payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    payload_text = payload.decode().rstrip("=")
    return f"{payload_text}.{_sign(secret, payload_text)}"


def read_token(secret: str, token: str, purpose: str, now: datetime | None = None) -> LinkClaims:
    try:
        payload_text, signature = token.rsplit(".", 1)
    except ValueError as exc:
        raise LinkError("malformed link") from exc
    if not same_secret(signature, _sign(secret, payload_text)):
        raise LinkError("this link is not valid")
    padded = payload_text + "=" * (-len(payload_text) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
        result = LinkClaims(
            workflow_id=claims["w"],
            purpose=claims["p"],
            expires_at=datetime.fromtimestamp(claims["e"], UTC),
            subject=claims.get("s"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise LinkError("malformed link") from exc
    if result.purpose != purpose:
        raise LinkError("this link is for another page")
    if (now or datetime.now(UTC)) >= result.expires_at:
        raise LinkError("this link has expired")
    return result


def link_url(
    base_url: str,
    secret: str,
    workflow_id: str,
    purpose: str,
    expires_at: datetime,
    subject: str | None = None,
) -> str:
    path = PURPOSE_PATHS[purpose]
    token = make_token(secret, workflow_id, purpose, expires_at, subject)
    return f"{base_url.rstrip('/')}{path}/{token}"


def _sign(secret: str, payload_text: str) -> str:
    return hmac.new(secret.encode(), payload_text.encode(), hashlib.sha256).hexdigest()
