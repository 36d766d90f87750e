"""Who may use the internal pages (task inbox, finance board, codec server): operator
credentials, their password hashes, the signed session cookie, and the signed-in operator.

Two modes (`PARTNERFLOW_AUTH_MODE`):

- `password` (default): operators are listed in `PARTNERFLOW_OPERATORS` as
  `name:pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>;name2:...` (make an entry with
  `partnerflow operator hash NAME`). `/login` (`starters.web.auth`) checks the password and
  sets a signed session cookie (HMAC-SHA256 with the session secret, 12 hours, HttpOnly,
  SameSite=Lax, Secure when `PUBLIC_BASE_URL` is https). In the local default, when no
  operator is configured, `partnerflow run` creates the operator `ops` with a random
  password kept in `<data dir>/dev-operator-password`, and the pages accept it while that
  file exists.
- `proxy-header`: a trusted reverse proxy authenticates people and passes the operator's
  name in `PARTNERFLOW_AUTH_HEADER` (default `X-Forwarded-User`). Use it only behind a proxy
  that removes that header from clients' requests.

Pages declare the `Operator` dependency (`starters.web.deps`), which calls
`require_operator`: it returns the operator's name, or raises `LoginRequired`, which answers
a browser with 303 to `/login?next=<this page>` and a CSV or JSON client with 401.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from fastapi import Request

from activities.operator_sessions import session_is_active
from models.constant_time import same_secret
from models.settings import Settings
from starters.web.proxies import from_trusted_proxy

SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000  # OWASP's recommendation for PBKDF2-HMAC-SHA256
MIN_ITERATIONS = 1_000
MIN_PASSWORD_LENGTH = 8
SESSION_COOKIE = "partnerflow_session"
SESSION_TTL_SECONDS = 12 * 3600
DEV_OPERATOR = "ops"
DEV_PASSWORD_FILE = "dev-operator-password"
DEFAULT_NEXT = "/tasks"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


class LoginRequired(Exception):
    """No operator is signed in; `api` clients get 401 instead of a redirect."""

    def __init__(self, next_url: str, api: bool = False) -> None:
        super().__init__(next_url)
        self.next_url, self.api = next_url, api


class OperatorsError(ValueError):
    """PARTNERFLOW_OPERATORS is malformed."""


# --- password hashing --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """`pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>` of the password (random 16-byte salt)."""
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, digest) of an encoded hash; ValueError when it is not one."""
    try:
        scheme, iterations_text, salt_text, digest_text = encoded.split("$")
        iterations = int(iterations_text)
        salt, digest = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("not a pbkdf2_sha256$<iterations>$<salt>$<hash> entry") from exc
    if scheme != SCHEME or iterations < MIN_ITERATIONS or not salt or len(digest) < 16:
        raise ValueError("not a pbkdf2_sha256$<iterations>$<salt>$<hash> entry")
    return iterations, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether the password matches the encoded hash (constant-time comparison)."""
    try:
        iterations, salt, digest = parse_hash(encoded)
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), salt, iterations, dklen=len(digest)
    )
    return hmac.compare_digest(candidate, digest)


@functools.cache
def dummy_hash() -> str:
    """A hash to check unknown names against: a wrong name costs as long as a wrong password."""
    return hash_password(
        "partnerflow-no-such-operator", iterations=DEFAULT_ITERATIONS, salt=b"\0" * 16
    )


# --- operators ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """An operator's stored secret: a PBKDF2 hash, or the local dev password itself."""

    name: str
    password_hash: str | None = None
    dev_password: str | None = None

    def check(self, password: str) -> bool:
        if self.password_hash is not None:
            return verify_password(password, self.password_hash)
        expected = (self.dev_password or "").encode()
        return bool(expected) and hmac.compare_digest(password.encode(), expected)

    @property
    def fingerprint(self) -> str:
        """Changes when the password changes: sessions of an old password stop working."""
        stored = self.password_hash or self.dev_password or ""
        return hashlib.sha256(stored.encode()).hexdigest()[:16]


def parse_operators(text: str) -> dict[str, Credential]:
    """`name:hash;name2:hash` (newlines also separate entries) → credentials by name."""
    operators: dict[str, Credential] = {}
    for raw in re.split(r"[;\n]", text):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, encoded = entry.partition(":")
        name, encoded = name.strip(), encoded.strip()
        if not sep or not NAME_PATTERN.match(name):
            raise OperatorsError(
                f"PARTNERFLOW_OPERATORS: {name or entry[:20]!r} is not name:pbkdf2_sha256$..."
            )
        try:
            parse_hash(encoded)
        except ValueError as exc:
            raise OperatorsError(
                f"PARTNERFLOW_OPERATORS: the entry of {name!r} is not a pbkdf2_sha256 hash"
            ) from exc
        if name in operators:
            raise OperatorsError(f"PARTNERFLOW_OPERATORS: {name!r} is listed twice")
        operators[name] = Credential(name=name, password_hash=encoded)
    return operators


def dev_password_path(settings: Settings) -> Path:
    return settings.data_dir / DEV_PASSWORD_FILE


def operators_configured(settings: Settings) -> bool:
    return settings.operators is not None and bool(settings.operators.get_secret_value().strip())


def operators_for(settings: Settings) -> dict[str, Credential]:
    """The configured operators; without any, the local dev operator when its file exists."""
    if operators_configured(settings):
        return parse_operators(settings.operators.get_secret_value())  # type: ignore[union-attr]
    path = dev_password_path(settings)
    if path.is_file():
        password = path.read_text().strip()
        if password:
            return {DEV_OPERATOR: Credential(name=DEV_OPERATOR, dev_password=password)}
    return {}


def ensure_dev_operator(settings: Settings) -> tuple[str, Path, str] | None:
    """Local default (password mode, no operators configured): the dev operator `ops`, with a
    random password created once in `<data dir>/dev-operator-password` (mode 0600).
    Returns (name, file, password), or None when operators are configured or proxy mode."""
    if settings.auth_mode != "password" or operators_configured(settings):
        return None
    path = dev_password_path(settings)
    if not path.is_file() or not path.read_text().strip():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(secrets.token_urlsafe(18) + "\n")
    return DEV_OPERATOR, path, path.read_text().strip()


# --- session cookie ----------------------------------------------------------------------------


def _session_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"partnerflow-operator-session-v1", hashlib.sha256).digest()


def sign_session(
    secret: str,
    operator: str,
    fingerprint: str = "",
    *,
    sid: str = "",
    now: float | None = None,
    ttl: int = SESSION_TTL_SECONDS,
) -> str:
    """`<base64url(json)>.<hex HMAC-SHA256>` naming the operator and the server-side session
    (`activities.operator_sessions`), with its expiry."""
    issued = int(now if now is not None else time.time())
    claims = {"o": operator, "i": issued, "e": issued + ttl, "f": fingerprint, "s": sid}
    payload = (
        base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )
    signature = hmac.new(_session_key(secret), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


class SessionClaims(NamedTuple):
    """What a valid session cookie says."""

    operator: str
    fingerprint: str
    sid: str


def read_session(secret: str, token: str, *, now: float | None = None) -> SessionClaims | None:
    """The claims of a valid, unexpired session token; None otherwise (the server-side
    session is checked by `current_operator`)."""
    payload, _, signature = token.rpartition(".")
    if not payload or not signature:
        return None
    expected = hmac.new(_session_key(secret), payload.encode(), hashlib.sha256).hexdigest()
    if not same_secret(signature, expected):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        operator, expires, fingerprint, sid = (
            str(claims["o"]),
            int(claims["e"]),
            str(claims.get("f", "")),
            str(claims.get("s", "")),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if (now if now is not None else time.time()) >= expires:
        return None
    return SessionClaims(operator, fingerprint, sid)


def form_token(request: Request, settings: Settings, operator: str) -> str:
    """The CSRF token of the operator pages' forms: an HMAC of the session cookie (a new
    sign-in changes it), or behind a sign-in proxy of the operator's name. Another site can
    make a browser post with the operator's cookies, but cannot read or compute this."""
    basis = request.cookies.get(SESSION_COOKIE, "") if settings.auth_mode == "password" else ""
    key = hmac.new(
        settings.secret("session_secret").encode(), b"partnerflow-form-csrf-v1", hashlib.sha256
    ).digest()
    return hmac.new(key, f"{operator}\n{basis}".encode(), hashlib.sha256).hexdigest()


def secure_cookies(settings: Settings) -> bool:
    return settings.public_base_url.lower().startswith("https://")


# --- who is signed in --------------------------------------------------------------------------


def current_operator(request: Request, settings: Settings) -> str | None:
    """The signed-in operator's name: the proxy's header (proxy-header mode), or the valid
    session cookie of a still-configured operator with an unchanged password."""
    if settings.auth_mode == "proxy-header":
        if not from_trusted_proxy(request, settings):
            return None  # the header means nothing unless the proxy set it
        value = (request.headers.get(settings.auth_header) or "").strip()
        return value[:200] or None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = read_session(settings.secret("session_secret"), token)
    if session is None:
        return None
    try:
        credential = operators_for(settings).get(session.operator)
    except OperatorsError:
        return None
    if credential is None or not same_secret(session.fingerprint, credential.fingerprint):
        return None
    if not session_is_active(settings, session.sid, session.operator):
        return None  # signed out (here or on another replica), or revoked
    return session.operator


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """A same-site relative path to go to after login; anything else is the default."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("/login") or value.startswith("/logout"):
        return default
    return value


def _wants_api(request: Request) -> bool:
    path = request.url.path
    if path.endswith((".csv", ".json")):
        return True
    accept = request.headers.get("accept", "")
    return "text/html" not in accept and ("application/json" in accept or "text/csv" in accept)


def require_operator(request: Request, settings: Settings) -> str:
    """The signed-in operator, or LoginRequired (303 to /login for browsers, 401 for APIs)."""
    operator = current_operator(request, settings)
    if operator is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(target), api=_wants_api(request))
    return operator
