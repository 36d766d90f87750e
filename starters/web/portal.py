"""The partner portal's door: sign-in by a one-time emailed link, the session cookie, and
the guard every portal page uses (`PortalPartner`), which answers only about the signed-in
partner of its program.

The sign-in page answers the same way whether or not the address belongs to a partner
contact (no account discovery), and is throttled per address and per source. A link is used
by a button on its page (a POST), so a mail scanner that opens links does not use it up."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from activities import portal_access
from activities.email import EmailActivities
from models.contracts import EmailRequest
from models.portal import LINK_TTL, SESSION_TTL, PortalIdentity, normalize_email, token_hash
from models.programs import ProgramIdentity, program_identity
from models.settings import Settings
from starters.web.deps import SettingsDep
from starters.web.operators import secure_cookies
from starters.web.pages import PAGE_HEADERS, PageError, message, page_form, same_origin, templates
from starters.web.rate_limit import RateLimiter, client_key

log = logging.getLogger(__name__)
router = APIRouter()

SESSION_COOKIE = "pf_portal"
TOKEN_MAX = 128
SENT = (
    "If {email} belongs to a partner contact, a sign-in link is on its way. It works once, "
    "for {minutes} minutes."
)


class PortalSignInRequired(Exception):
    """Raised by the portal guard: the page needs a signed-in partner contact."""


def _limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    """(per address, per source), created once per app."""
    state = request.app.state
    if not hasattr(state, "portal_limiters"):
        settings: Settings = state.settings
        state.portal_limiters = (
            RateLimiter(settings.portal_links_per_address_per_minute),
            RateLimiter(settings.portal_sign_ins_per_source_per_minute),
        )
    limiters: tuple[RateLimiter, RateLimiter] = state.portal_limiters
    return limiters


def _page(
    request: Request, name: str, context: dict[str, object], status_code: int = 200
) -> Response:
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=PAGE_HEADERS
    )


@router.get("/portal", response_class=HTMLResponse, name="portal_sign_in")
async def sign_in_page(request: Request, settings: SettingsDep) -> Response:
    """Partners sign in here with their email address (a link is emailed)."""
    identity = await _current(request, settings)
    if identity is not None:
        return RedirectResponse("/portal/home", status_code=303, headers=PAGE_HEADERS)
    return _page(request, "portal_sign_in.html", {"title": "Partner portal", "email": ""})


@router.post("/portal", response_class=HTMLResponse)
async def sign_in_submit(request: Request, settings: SettingsDep) -> Response:
    """Email a one-time link to each partner the address is an active contact of."""
    if not same_origin(request, settings):
        raise PageError(403, "Not allowed", "This form must be sent from this site.")
    form = await page_form(request)
    raw = form.get("email")
    email = normalize_email(raw if isinstance(raw, str) else "")
    if email is None:
        return _page(
            request,
            "portal_sign_in.html",
            {"title": "Partner portal", "email": "", "error": "Enter your email address."},
            status_code=422,
        )
    per_address, per_source = _limiters(request)
    if per_source.hit(client_key(request)) is not None or per_address.hit(email) is not None:
        return message(
            request, 429, "Too many sign-in requests",
            "Please wait a few minutes before asking for another sign-in link.",
        )  # fmt: skip
    partners = await asyncio.to_thread(portal_access.partners_of_contact, settings, email)
    for identity in partners:
        try:
            await asyncio.to_thread(_send_link, settings, identity)
        except Exception:  # the mail provider failed: the answer stays the same (no discovery)
            log.exception("portal sign-in link to %s could not be sent", identity.partner_id)
    minutes = int(LINK_TTL.total_seconds() // 60)
    return _page(
        request,
        "portal_sign_in.html",
        {"title": "Partner portal", "sent": SENT.format(email=email, minutes=minutes)},
    )


def _send_link(settings: Settings, identity: PortalIdentity) -> None:
    token = portal_access.issue_link(settings, identity)
    brand = program_identity(settings, identity.program)
    url = f"{settings.public_base_url.rstrip('/')}/portal/sign-in/{token}"
    request = EmailRequest(
        idempotency_key=f"portal-link-{token_hash(token)[:32]}",
        workflow_id=f"portal-{identity.program}-{identity.partner_id}",
        step="portal_sign_in",
        to=[identity.email],
        template="portal_sign_in",
        context={
            "minutes": int(LINK_TTL.total_seconds() // 60),
            "action_url": url,
            "partner_id": identity.partner_id,
            "program_name": brand.program_name,
        },
        program=identity.program,
    )
    EmailActivities(settings).send_email(request)


def _token(token: str) -> str:
    if not token or len(token) > TOKEN_MAX:
        raise PageError(404, "Link not valid", "This sign-in link is not valid.")
    return token


@router.get("/portal/sign-in/{token}", response_class=HTMLResponse)
async def link_page(request: Request, settings: SettingsDep, token: str) -> Response:
    """The emailed link's page: one button signs in (the link then stops working)."""
    usable = await asyncio.to_thread(portal_access.link_is_usable, settings, _token(token))
    if not usable:
        return _expired(request)
    return _page(request, "portal_link.html", {"title": "Sign in", "token": token})


@router.post("/portal/sign-in/{token}", response_class=HTMLResponse)
async def link_use(request: Request, settings: SettingsDep, token: str) -> Response:
    """Use the link: start a session for its partner and go to the portal's home."""
    if not same_origin(request, settings):
        raise PageError(403, "Not allowed", "This form must be sent from this site.")
    identity = await asyncio.to_thread(portal_access.redeem_link, settings, _token(token))
    if identity is None:
        return _expired(request)
    sid = await asyncio.to_thread(portal_access.open_session, settings, identity)
    response = RedirectResponse("/portal/home", status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        SESSION_COOKIE, sid, max_age=int(SESSION_TTL.total_seconds()), httponly=True,
        samesite="lax", secure=secure_cookies(settings), path="/portal",
    )  # fmt: skip
    return response


def _expired(request: Request) -> Response:
    return message(
        request, 410, "Link expired",
        "This sign-in link was used already or has expired. Ask for a new one at /portal.",
    )  # fmt: skip


@router.post("/portal/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request, settings: SettingsDep) -> Response:
    """End the session everywhere and delete the cookie."""
    sid = request.cookies.get(SESSION_COOKIE, "")
    if sid and same_origin(request, settings):
        await asyncio.to_thread(portal_access.end_session, settings, sid)
    response = RedirectResponse("/portal", status_code=303, headers=PAGE_HEADERS)
    response.delete_cookie(
        SESSION_COOKIE, path="/portal", httponly=True, samesite="lax",
        secure=secure_cookies(settings),
    )  # fmt: skip
    return response


async def _current(request: Request, settings: Settings) -> PortalIdentity | None:
    sid = request.cookies.get(SESSION_COOKIE, "")
    if not sid:
        return None
    return await asyncio.to_thread(portal_access.session_identity, settings, sid)


async def signed_in_partner(request: Request, settings: SettingsDep) -> PortalIdentity:
    """The guard of every portal page: the session's partner, else back to sign-in."""
    identity = await _current(request, settings)
    if identity is None:
        raise PortalSignInRequired()
    return identity


PortalPartner = Annotated[PortalIdentity, Depends(signed_in_partner)]


async def sign_in_required_handler(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/portal", status_code=303, headers=PAGE_HEADERS)


def portal_not_found() -> PageError:
    """The portal's one answer for anything that is not the signed-in partner's (another
    partner's deal, a page of the other program, an unknown id): the same 404 whether or not
    it exists, so nothing is revealed."""
    return PageError(404, "Not found", "There is no such page for your organisation.")


def require_program(partner: PortalIdentity, program: str) -> PortalIdentity:
    """The session's partner, when the page belongs to its program; else `portal_not_found`."""
    if partner.program != program:
        raise portal_not_found()
    return partner


def portal_brand(settings: Settings, identity: PortalIdentity) -> ProgramIdentity:
    return program_identity(settings, identity.program)


def portal_page(
    request: Request,
    settings: Settings,
    partner: PortalIdentity,
    template: str,
    context: dict[str, object],
    *,
    nav: str,
    status_code: int = 200,
) -> Response:
    """A portal page in the partner's program brand, with the portal's navigation (`nav`
    names the current entry of `_portal_nav.html`) and who is signed in."""
    return templates.TemplateResponse(
        request,
        template,
        {
            "brand": portal_brand(settings, partner),
            "email": partner.email,
            "nav": nav,
            "section": "Partner portal",
            **context,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )
