"""Mattermost Enterprise license files, signed with Ed25519 and verifiable offline.

File format (`<license_id>.mattermost-license`, UTF-8 text, safe to email)::

    -----BEGIN MATTERMOST ENTERPRISE LICENSE-----
    <base64 of the payload, wrapped at 64 columns>
    -----ED25519 SIGNATURE-----
    <base64 of the 64-byte Ed25519 signature of the payload bytes>
    -----END MATTERMOST ENTERPRISE LICENSE-----

The payload is canonical JSON (UTF-8, keys sorted, no spaces) of: `format`
("mattermost-enterprise-license/1"), `license_id`, `licensee`, `customer`,
`customer_email`, `sku`, `users`, `starts_at`, `expires_at`, `issued_at` (ISO 8601 UTC,
`Z`) and `key_id` (first 16 hex digits of SHA-256 of the raw 32-byte public key). The
signature covers exactly the decoded payload bytes, so anyone holding the public key
(`<signing key>.pub`, PEM) can check a file with `verify_license`, or with any Ed25519
library: base64-decode both blocks (ignoring whitespace) and verify.

A license id is derived from the issuing step's idempotency key (26 base32 characters of
its SHA-256), so a retried `issue_license` finds and returns the stored license.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from temporalio import activity

from activities.database import session_scope
from activities.errors import InvalidLicenseRequest
from models.contracts import IssuedLicense, LicenseRequest
from models.settings import Settings
from models.tables import LicenseRow

FORMAT = "mattermost-enterprise-license/1"
BEGIN = "-----BEGIN MATTERMOST ENTERPRISE LICENSE-----"
SIGNATURE = "-----ED25519 SIGNATURE-----"
END = "-----END MATTERMOST ENTERPRISE LICENSE-----"
SUFFIX = ".mattermost-license"
_FIELDS = ("license_id", "licensee", "customer", "customer_email", "sku", "users", "key_id")


class LicenseVerification(BaseModel):
    """The outcome of `verify_license`; payload fields are set only when the signature holds."""

    valid: bool
    status: Literal["valid", "bad_signature", "malformed", "not_yet_valid", "expired"]
    reason: str
    license_id: str | None = None
    licensee: str | None = None
    customer: str | None = None
    customer_email: str | None = None
    sku: str | None = None
    users: int | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    issued_at: datetime | None = None
    key_id: str | None = None


# --- keys --------------------------------------------------------------------------------


def public_key_path(private_key_path: Path) -> Path:
    """Where the public key of `private_key_path` is written: same name, `.pub` suffix."""
    return Path(private_key_path).with_suffix(".pub")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _write_new(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` atomically; False when it already exists (never replaced)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # atomic, fails if another process created it first
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key at `path` (PKCS#8 PEM), created once with mode 0600 when
    missing; its public key is written beside it (`public_key_path`, PEM, 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(path, pem, 0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    pub = public_key_path(path)
    if not pub.exists():
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(pub, pem, 0o644)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key PEM gives its public key)."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        key: object = private.public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} does not hold an Ed25519 key")
    return key


# --- file format -------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone")
    return parsed.astimezone(UTC)


def _b64(data: bytes) -> str:
    return "\n".join(textwrap.wrap(base64.b64encode(data).decode("ascii"), 64))


def license_id_for(idempotency_key: str) -> str:
    """The license id of an issuing step: 26 lowercase base32 characters of SHA-256."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:26]


def sign_license(payload: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    """The license file text for `payload` (JSON-able values), signed by `private_key`."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data = body.encode("utf-8")
    signature = private_key.sign(data)
    # No trailing newline: the contracts strip whitespace, and `sha256` covers this text.
    return f"{BEGIN}\n{_b64(data)}\n{SIGNATURE}\n{_b64(signature)}\n{END}"


def _parse(content: str) -> tuple[bytes, bytes]:
    lines = [line.strip() for line in content.replace("\r\n", "\n").split("\n")]
    try:
        begin, sig, end = lines.index(BEGIN), lines.index(SIGNATURE), lines.index(END)
    except ValueError:
        raise ValueError("not a Mattermost license file (missing armor lines)") from None
    if not begin < sig < end:
        raise ValueError("armor lines out of order")
    try:
        payload = base64.b64decode("".join(lines[begin + 1 : sig]), validate=True)
        signature = base64.b64decode("".join(lines[sig + 1 : end]), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    if len(signature) != 64:
        raise ValueError(f"signature is {len(signature)} bytes, not 64")
    return payload, signature


def verify_license(
    content: str,
    public_key: Ed25519PublicKey | Ed25519PrivateKey,
    now: datetime | None = None,
) -> LicenseVerification:
    """Check a license file offline: armor and encoding, the Ed25519 signature, then the
    validity window at `now` (default: the current time; must be timezone-aware)."""
    if isinstance(public_key, Ed25519PrivateKey):
        public_key = public_key.public_key()
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        data, signature = _parse(content)
    except ValueError as exc:
        return LicenseVerification(valid=False, status="malformed", reason=str(exc))
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        reason = f"the signature does not verify with public key {key_id(public_key)}"
        return LicenseVerification(valid=False, status="bad_signature", reason=reason)
    try:
        payload = json.loads(data.decode("utf-8"))
        if payload.get("format") != FORMAT:
            raise ValueError(f"unknown format {payload.get('format')!r}")
        starts, expires = _parse_time(payload["starts_at"]), _parse_time(payload["expires_at"])
        fields = {name: payload[name] for name in _FIELDS}
        result = LicenseVerification(
            valid=True,
            status="valid",
            reason="",
            starts_at=starts,
            expires_at=expires,
            issued_at=_parse_time(payload["issued_at"]),
            **fields,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = f"signed payload is not a v1 license: {exc!r}"
        return LicenseVerification(valid=False, status="malformed", reason=reason)
    if now < starts:
        status, reason = "not_yet_valid", f"valid from {_iso(starts)}, now {_iso(now)}"
    elif now >= expires:
        status, reason = "expired", f"expired at {_iso(expires)}, now {_iso(now)}"
    else:
        status = "valid"
        reason = (
            f"license {result.license_id} for {result.customer}: {result.users} users "
            f"until {_iso(expires)}"
        )
    return result.model_copy(
        update={"valid": status == "valid", "status": status, "reason": reason}
    )


# --- activity ----------------------------------------------------------------------------


def _issued(row: LicenseRow) -> IssuedLicense:
    return IssuedLicense(**row.model_dump(include=set(IssuedLicense.model_fields)))


class LicenseActivities:
    """Issues licenses into the records database and `settings.licenses_dir`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def signing_key(self) -> Ed25519PrivateKey:
        """The signing key (`settings.resolved_license_key_path`), created on first use."""
        with self._lock:
            if self._key is None:
                self._key = load_or_create_signing_key(self.settings.resolved_license_key_path)
            return self._key

    def _stored(self, idempotency_key: str) -> LicenseRow | None:
        with session_scope(self.settings.resolved_database_url) as session:
            query = select(LicenseRow).where(LicenseRow.idempotency_key == idempotency_key)
            return session.exec(query).first()

    def _new_row(self, req: LicenseRequest) -> LicenseRow:
        for name in ("starts_at", "expires_at"):
            if getattr(req, name).tzinfo is None:
                raise InvalidLicenseRequest(f"{name} must be timezone-aware")
        if req.expires_at <= req.starts_at:
            raise InvalidLicenseRequest("expires_at must be after starts_at")
        key = self.signing_key()
        license_id = license_id_for(req.idempotency_key)
        fields = req.model_dump(include={"licensee", "customer", "customer_email", "sku", "users"})
        times: dict[str, Any] = {
            "starts_at": req.starts_at.astimezone(UTC),
            "expires_at": req.expires_at.astimezone(UTC),
            "issued_at": datetime.now(UTC).replace(microsecond=0),
        }
        payload = {"format": FORMAT, "license_id": license_id, "key_id": key_id(key.public_key())}
        payload |= fields | {name: _iso(value) for name, value in times.items()}
        content = sign_license(payload, key)
        return LicenseRow(
            license_id=license_id,
            idempotency_key=req.idempotency_key,
            workflow_id=req.workflow_id,
            filename=f"{license_id}{SUFFIX}",
            sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(),
            content=content,
            **fields,
            **times,
        )

    def _write_file(self, row: LicenseRow) -> None:
        path = self.settings.licenses_dir / row.filename
        if path.exists() and path.read_text(encoding="utf-8") == row.content:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{row.filename}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(row.content)
        os.replace(tmp, path)

    @activity.defn(name="issue_license")
    def issue_license(self, req: LicenseRequest) -> IssuedLicense:
        """Sign and store the license of `req.idempotency_key`, write its file, and return
        it; a repeated call returns the stored license (same id and content)."""
        row = self._stored(req.idempotency_key)
        if row is None:
            row = self._new_row(req)
            try:
                with session_scope(self.settings.resolved_database_url) as session:
                    session.add(row)
                row = self._stored(req.idempotency_key) or row
            except IntegrityError:  # a concurrent attempt stored it first
                row = self._stored(req.idempotency_key)
                if row is None:
                    raise
        self._write_file(row)
        return _issued(row)
