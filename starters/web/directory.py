"""The partner directory pages: the listing submission page (signed link, logo upload
checked with Pillow) and the public directory (`/partners`, filters by country and
program, VAR territory shown), its JSON feed (`/partners.json`) and the logos.

The submission page validates the fields and the logo, stores the logo only when both
passed, and sends `submit_listing` to `directory-{partner_id}` as a Workflow Update: the
workflow validates again, and the page shows "received" or the reason it was refused at
once; with no worker answering in time, the listing goes as the signal and the page says it
is recorded (`pages.submit_answer`). Works without JavaScript.

A logo is public only while a published listing shows it (then cached for a year: its URL
names its content); any other id, stored or not, is 404.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.directory import get_published_logo, list_listings, save_logo
from models.applications import COUNTRY_NAMES
from models.directory import (
    EXAMPLE_LOGO_BYTES,
    EXAMPLE_LOGO_ID,
    MAX_LOGO_BYTES,
    ListingFields,
    ListingSubmission,
    LogoError,
    LogoRef,
    read_logo,
)
from models.links import LinkClaims
from models.programs import ProgramKey
from models.tasks import WorkflowStatus
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.pages import (
    PAGE_HEADERS,
    Answer,
    AnswerForm,
    PageError,
    busy,
    describe,
    message,
    page_form,
    query_limit,
    read_link,
    submit_answer,
    submits,
    templates,
    unknown_workflow,
)
from workflows.search_attributes import PARTNER_ID

router = APIRouter()
PURPOSE = "directory_listing"
PROGRAMS = {
    "value_added_reseller": "Value-Added Reseller",
    "system_integrator": "System Integrator",
    "authorized_reseller": "Authorized Reseller",
}
DIRECTORY_PROGRAM: ProgramKey = "mattermost"  # the vendor program these pages list
FIELDS = ("name", "description", "city", "state", "country", "website")
LISTING_PAGE_MAX_BYTES = MAX_LOGO_BYTES + 64 * 1024  # the logo file and the fields, one file
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}
# A published logo's URL names its content (a SHA-256 prefix): it never changes.
PUBLISHED_LOGO_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class ListingProcess:
    """The directory listing behind a listing link, and its workflow's status. `answered`
    is False (status None; the partner id from the workflow's search attribute) when its
    worker did not answer the page's query in time (the POST only: the listing then goes
    by signal)."""

    claims: LinkClaims
    client: Client
    status: WorkflowStatus | None
    partner_id: str
    answered: bool = True

    @property
    def facts(self) -> dict[str, Any]:
        return self.status.facts if self.status is not None else {}

    @property
    def accepting(self) -> bool:
        """Whether the partner may submit now (asked to, or published and not in review);
        True when the state is not known."""
        return accepts_listing(self.status)


def accepts_listing(status: WorkflowStatus | None) -> bool:
    """Whether the partner may submit its listing now: asked to, or published and not in
    review (True when the state is not known)."""
    if status is None:
        return True
    pending = {t.task for t in status.pending_tasks}
    return "submit_listing" in pending or (
        status.stage == "published" and "review_listing" not in pending
    )


async def load_listing(
    token: str, request: Request, settings: SettingsDep, temporal: TemporalDep
) -> ListingProcess:
    """The link's listing process; a friendly page (`PageError`) when the link or the
    process is not usable: expired 410, invalid 403, unknown 404, removed 410, busy 503. For
    the POST (`submitting`), the query waits the page's wait at most, and a running process
    whose worker does not answer in time gives `answered=False`."""
    submitting = submits(request)
    claims = read_link(
        settings,
        token,
        PURPOSE,
        expired="The link to submit your listing has expired. "
        "Please ask your partner manager for a new one.",
    )
    limit = query_limit(settings, submitting=submitting)
    try:
        client = await temporal.client()
        handle = client.get_workflow_handle(claims.workflow_id)
        async with asyncio.timeout(limit.total_seconds()):
            status = await handle.query("status", result_type=WorkflowStatus, rpc_timeout=limit)
    except (RPCError, TimeoutError) as exc:
        if unknown_workflow(exc):
            raise _missing() from exc
        if submitting:
            return await _unanswered(client, claims)
        raise busy() from exc
    except (WorkflowQueryFailedError, TemporalUnavailable) as exc:
        raise busy() from exc
    if status.stage == "removed":
        raise _removed()
    return ListingProcess(claims, client, status, str(status.facts.get("partner_id")))


async def _unanswered(client: Client, claims: LinkClaims) -> ListingProcess:
    """The listing process when its worker did not answer the query in time: running, the
    partner id from its search attribute; a friendly page otherwise."""
    description = await describe(client, claims.workflow_id)
    if description is None:
        raise _missing()
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise _removed()
    partner_id = description.typed_search_attributes.get(PARTNER_ID)
    if not partner_id:
        raise busy()
    return ListingProcess(claims, client, None, partner_id, answered=False)


def _missing() -> PageError:
    return PageError(404, "Listing not found", "We could not find this partner listing.")


def _removed() -> PageError:
    return PageError(410, "No longer open", "This partner listing was removed from the directory.")


Listing = Annotated[ListingProcess, Depends(load_listing)]


@router.get("/listing/{token}", response_class=HTMLResponse, name="listing_page")
async def listing_page(request: Request, listing: Listing) -> Response:
    """The partner's listing form, prefilled with the published listing."""
    if not listing.accepting:
        return message(
            request,
            200,
            "Your listing is under review",
            "We received your listing and a reviewer is checking it. We will email you when "
            "it is published or if changes are needed.",
        )
    return _page(request, listing.facts, _initial_values(listing.facts), {})


@router.post("/listing/{token}", response_class=HTMLResponse)
async def listing_submit(
    token: str, request: Request, listing: Listing, settings: SettingsDep
) -> Response:
    """The listing form's POST (multipart): check the fields and the logo, then the
    `submit_listing` update (or, with no worker answering, the signal): see
    `pages.submit_answer`."""
    if not listing.accepting:
        return message(
            request,
            409,
            "Your listing is under review",
            "A submission of your listing is already being reviewed. "
            "Please wait for the reviewer's answer.",
        )
    form = await page_form(request, LISTING_PAGE_MAX_BYTES, max_files=1)
    values, fields, errors = listing_fields(form)
    data, logo, problem = await uploaded_logo(form)
    if problem:
        errors["logo"] = problem
    if errors or fields is None or logo is None:
        return _page(request, listing.facts, values, errors, status_code=400)
    await asyncio.to_thread(save_logo, settings, data, logo)  # kept once the listing passed
    submission = ListingSubmission.model_validate(
        {**fields.model_dump(), "partner_id": listing.partner_id, "logo": logo.model_dump()}
    )
    return await submit_answer(
        request,
        listing.client,
        Answer(
            listing.claims.workflow_id,
            "submit_listing",
            submission.model_dump(mode="json"),
            "listing",
        ),
        settings=settings,
        done_url=str(request.url_for("listing_done", token=token)),
        form=AnswerForm(
            (*FIELDS, "logo"),
            lambda errors, status_code: _page(request, listing.facts, values, errors, status_code),
        ),
        missing=_missing(),
        closed=_removed(),
        answered=listing.answered,
    )


@router.get("/listing/{token}/done", response_class=HTMLResponse, name="listing_done")
async def listing_done(request: Request, listing: Listing) -> Response:
    """Confirmation after submitting."""
    return message(
        request,
        200,
        "Thank you",
        "Your listing was received. A reviewer checks it before it appears in the Mattermost "
        "partner directory; we will email you.",
    )


@router.get("/partners", response_class=HTMLResponse, name="partner_directory")
async def partner_directory(request: Request, settings: SettingsDep) -> Response:
    """The public Mattermost partner directory, filtered by `country` (ISO code) and
    `program` (the partner type: VAR, SI). Listings are per vendor program: only
    Mattermost's show here."""
    country, program = _filters(request)
    everyone = await asyncio.to_thread(list_listings, settings, program=DIRECTORY_PROGRAM)
    listings = [
        e
        for e in everyone
        if (not country or e.country == country) and (not program or e.partner_type == program)
    ]
    countries = sorted(
        {e.country for e in everyone}, key=lambda code: COUNTRY_NAMES.get(code, code)
    )
    context = {
        "listings": listings,
        "country": country,
        "program": program,
        "countries": [(code, COUNTRY_NAMES.get(code, code)) for code in countries],
        "programs": [
            (key, label) for key, label in PROGRAMS.items() if key != "authorized_reseller"
        ],
        "program_labels": PROGRAMS,
        "country_names": COUNTRY_NAMES,
        "query": urlencode({k: v for k, v in (("country", country), ("program", program)) if v}),
    }
    return templates.TemplateResponse(request, "directory.html", context, headers=PUBLIC_CACHE)


@router.get("/partners.json", name="partner_directory_json")
async def partner_directory_json(request: Request, settings: SettingsDep) -> JSONResponse:
    """The public Mattermost directory as JSON (same filters): name, program (the partner
    type) and `vendor_program` (`mattermost`: partners are per vendor program, the id is
    unique within it), location, website, logo URL, and the territory of Value-Added
    Resellers."""
    country, program = _filters(request)
    listings = await asyncio.to_thread(list_listings, settings, country, program, DIRECTORY_PROGRAM)
    base = settings.public_base_url.rstrip("/")  # never the Host header: the feed is cached
    return JSONResponse(
        [
            {
                "partner_id": e.partner_id,
                "name": e.name,
                "program": e.partner_type,
                "program_label": PROGRAMS.get(e.partner_type, e.partner_type),
                "vendor_program": e.program,
                "description": e.description,
                "city": e.city,
                "state": e.state,
                "country": e.country,
                "website": e.website,
                "logo_url": f"{base}/partners/logos/{e.logo_id}",
                "territory": e.territory,
                "updated_at": e.at.isoformat(),
            }
            for e in listings
        ],
        headers=PUBLIC_CACHE,
    )


@router.get("/partners/logos/{logo_id}", name="partner_logo")
async def partner_logo(logo_id: str, settings: SettingsDep) -> Response:
    """A logo a published listing shows (content-addressed, cached for a long time), or the
    task example's logo (published in the form schemas). Any other id is 404: a logo only
    uploaded, under review, refused, replaced by a newer version or removed."""
    row = await asyncio.to_thread(get_published_logo, settings, logo_id)
    if row is not None:
        return Response(row.content, media_type=row.content_type, headers=PUBLISHED_LOGO_HEADERS)
    if logo_id == EXAMPLE_LOGO_ID:
        return Response(
            EXAMPLE_LOGO_BYTES,
            media_type="image/png",
            headers={**PUBLIC_CACHE, "X-Content-Type-Options": "nosniff"},
        )
    return Response(status_code=404, headers=PUBLIC_CACHE)


def _filters(request: Request) -> tuple[str | None, str | None]:
    country = (request.query_params.get("country") or "").strip().upper() or None
    program = (request.query_params.get("program") or "").strip() or None
    return country, program


def listing_fields(form: FormData) -> tuple[dict[str, str], ListingFields | None, dict[str, str]]:
    """The listing's fields as posted (trimmed), checked: (values, fields or None, errors by
    field, each naming the field and the rule)."""
    values = {field: str(form.get(field) or "").strip() for field in FIELDS}
    errors: dict[str, str] = {}
    try:
        fields = ListingFields.model_validate({**values, "state": values["state"] or None})
    except ValidationError as exc:
        fields = None
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "form"
            text = error["msg"].removeprefix("Value error, ")
            errors.setdefault(field, f"{field.capitalize()}: {text}")
    return values, fields, errors


async def uploaded_logo(form: FormData) -> tuple[bytes, LogoRef | None, str | None]:
    """The posted `logo` file checked with Pillow (`read_logo`): (bytes, the logo or None,
    the problem or None). An absent file is b"" and the problem says so."""
    upload = form.get("logo")
    # The whole file: the form was read bounded, so it is at most the form's limit.
    data = await upload.read() if upload is not None and hasattr(upload, "read") else b""
    try:
        return data, await asyncio.to_thread(read_logo, data), None
    except LogoError as exc:
        return data, None, f"Logo: {exc}"


def _initial_values(facts: dict[str, Any]) -> dict[str, Any]:
    listing = facts.get("listing") or facts.get("submitted_listing") or {}
    return {field: listing.get(field) or "" for field in FIELDS}


def _page(
    request: Request,
    facts: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    vars_territory = facts.get("partner_type") == "value_added_reseller"
    context = {
        "company": facts.get("company", ""),
        "territory": [COUNTRY_NAMES.get(c, c) for c in facts.get("territory") or []]
        if vars_territory
        else [],
        "values": values,
        "errors": errors,
    }
    return templates.TemplateResponse(
        request, "listing.html", context, status_code=status_code, headers=PAGE_HEADERS
    )
