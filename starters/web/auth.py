"""Operator sign-in for the internal pages: `GET/POST /login`, `POST /logout`, and the
`LoginRequired` handler (303 to the login page for browsers, 401 for CSV and JSON clients).
Credentials, sessions and who is signed in: `starters.web.operators`.

Failed logins are slowed down and limited per source address: a short delay on each
failure, and at most `MAX_FAILURES` within `FAILURE_WINDOW_SECONDS` (then 429 until the
oldest failure ages out).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from activities.operator_sessions import open_session, revoke_session
from models.constant_time import same_secret
from models.settings import Settings
from starters.web.deps import SettingsDep
from starters.web.operators import (
    SESSION_COOKIE,
    SESSION_TTL_SECONDS,
    LoginRequired,
    OperatorsError,
    current_operator,
    dummy_hash,
    operators_for,
    read_session,
    safe_next,
    secure_cookies,
    sign_session,
    verify_password,
)
from starters.web.pages import (
    INTERNAL_PAGE_HEADERS,
    PAGE_HEADERS,
    FormTooLarge,
    read_form,
    same_origin,
    templates,
)
from starters.web.proxies import client_address

LOGIN_CSRF_COOKIE = "partnerflow_login_csrf"
FAILURE_DELAY_SECONDS = 0.4
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60

log = logging.getLogger(__name__)
LOGIN_MAX_BYTES = 8 * 1024  # a name, a password, a CSRF token and where to go next
router = APIRouter()


# --- failed-login limiter ----------------------------------------------------------------------


class FailureLimiter:
    """At most `limit` failed logins per source address within `window` seconds."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, key: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = now if now is not None else time.monotonic()
        failures = self._recent(key, now)
        if len(failures) < self.limit:
            return 0
        return max(1, int(failures[0] + self.window - now + 0.999))

    def failed(self, key: str, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory: forget the quietest addresses
            for stale in [k for k, v in self._failures.items() if not v][:5_000]:
                del self._failures[stale]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


# --- routes ------------------------------------------------------------------------------------


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """`LoginRequired`: the login page for browsers, 401 for API clients (and proxy mode)."""
    assert isinstance(exc, LoginRequired)
    settings: Settings = request.app.state.settings
    if settings.auth_mode == "proxy-header":
        detail = "sign-in required: sign in through your company's sign-in proxy"
        if exc.api:
            return JSONResponse({"detail": detail}, status_code=401, headers=PAGE_HEADERS)
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": "Sign-in required", "message": detail},
            status_code=401,
            headers=PAGE_HEADERS,
        )
    if exc.api:
        return JSONResponse(
            {"detail": "login required", "login_url": "/login"},
            status_code=401,
            headers={**PAGE_HEADERS, "WWW-Authenticate": 'Cookie realm="partnerflow"'},
        )
    return RedirectResponse(
        "/login?" + urlencode({"next": exc.next_url}), status_code=303, headers=PAGE_HEADERS
    )


def _form(
    request: Request,
    settings: Settings,
    next_url: str,
    *,
    name: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    try:
        configured = bool(operators_for(settings))
        problem = None
    except OperatorsError as exc:  # the detail may quote a hash or a password: log only
        log.error("%s", exc)
        configured = False
        problem = (
            "Sign-in is not configured correctly (PARTNERFLOW_OPERATORS); the service's log "
            "says which entry. Ask an administrator."
        )
    context = {
        "title": "Operator sign-in",
        "next": next_url,
        "name": name,
        "error": error,
        "csrf": csrf,
        "proxy_mode": settings.auth_mode == "proxy-header",
        "configured": configured,
        "problem": problem,
        "operator": current_operator(request, settings),
        "internal": True,
        "referrer_policy": "same-origin",
    }
    response = templates.TemplateResponse(
        request, "login.html", context, status_code=status_code, headers=INTERNAL_PAGE_HEADERS
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(settings),
        path="/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse, name="login_page")
async def login_page(
    request: Request,
    settings: SettingsDep,
    next: str | None = None,  # noqa: A002
) -> Response:
    """The operators' sign-in form (works without JavaScript)."""
    return _form(request, settings, safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, settings: SettingsDep) -> Response:
    """Check the name and password; on success set the session cookie and go to `next`."""
    try:
        data = await read_form(request, LOGIN_MAX_BYTES, max_fields=10)
    except FormTooLarge as exc:
        return PlainTextResponse(f"sign-in form refused: {exc}", status_code=413)
    next_url = safe_next(str(data.get("next") or ""))
    name = str(data.get("name") or "").strip()[:64]
    password = str(data.get("password") or "")
    if settings.auth_mode == "proxy-header":
        error = "Sign-in is handled by your company's sign-in proxy."
        return _form(request, settings, next_url, error=error, status_code=400)
    sent_token = str(data.get("csrf") or "")
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if (
        not same_origin(request, settings)
        or not cookie_token
        or not same_secret(sent_token, cookie_token)
    ):
        error = "The sign-in form expired or came from another site. Please sign in again."
        return _form(request, settings, next_url, name=name, error=error, status_code=403)
    limiter: FailureLimiter = request.app.state.login_limiter
    # Per account and address: behind a proxy, one address's failures lock out neither the
    # other operators nor the same operator elsewhere.
    client_key = f"{name}\n{client_address(request, settings)}"
    wait = limiter.retry_after(client_key)
    if wait:
        error = (
            "Too many failed sign-ins for this name from your address. "
            f"Try again in {(wait + 59) // 60} minute(s)."
        )
        response = _form(request, settings, next_url, name=name, error=error, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        credential = operators_for(settings).get(name)
    except OperatorsError:
        error = "Sign-in is not configured correctly (PARTNERFLOW_OPERATORS). Ask an administrator."
        return _form(request, settings, next_url, name=name, error=error, status_code=500)
    if credential is None:
        # an unknown name costs as long as a wrong password
        await asyncio.to_thread(verify_password, password, dummy_hash())
        ok = False
    else:
        ok = bool(password) and await asyncio.to_thread(credential.check, password)
    if not ok or credential is None:
        limiter.failed(client_key)
        await asyncio.sleep(request.app.state.login_failure_delay)
        error = "The name or password is not correct."
        return _form(request, settings, next_url, name=name, error=error, status_code=400)
    limiter.succeeded(client_key)
    sid = await asyncio.to_thread(open_session, settings, credential.name, SESSION_TTL_SECONDS)
    token = sign_session(
        settings.secret("session_secret"), credential.name, credential.fingerprint, sid=sid
    )
    response = RedirectResponse(next_url, status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, settings: SettingsDep) -> Response:
    """End the session on every replica (revoked in the records) and delete the cookie (it is
    SameSite=Lax: another site cannot post this with it)."""
    if not same_origin(request, settings):
        return PlainTextResponse("cross-site request refused", status_code=403)
    token = request.cookies.get(SESSION_COOKIE)
    session = read_session(settings.secret("session_secret"), token) if token else None
    if session is not None and session.sid:  # the cookie stops working everywhere, now
        await asyncio.to_thread(revoke_session, settings, session.sid)
    response = RedirectResponse("/login", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings)
    )
    return response
