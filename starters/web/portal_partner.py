"""The partner portal's directory listing and evaluation license pages (Mattermost
partners): `/portal/listing` shows the partner's listing (`directory-{partner_id}`: its stage,
the review's status, a preview as the directory shows it) and submits an edit with its logo
(the listing page's checks: bounded multipart, Pillow) as the `submit_listing` Workflow
Update; `/portal/evaluation` shows the evaluation license (`eval-license-{partner_id}`), its
files to download and expiry, asks for a first license (the `evaluation-license` form's
rules, the partner from the session) and asks the license desk for the renewal.

Every route answers only about the session's partner: the workflow ids come from the session,
their `Program`/`PartnerId` search attributes are checked, a logo is served only when the
partner's listing shows it and a license file only when the partner's process issued it.
Anything else (and any Rocket.Chat session) is the same 404 "Not found"."""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities import portal_access, portal_partner_records
from activities.directory import get_listing, save_logo
from activities.email import EmailActivities
from models.applications import COUNTRY_NAMES
from models.constant_time import same_secret
from models.contracts import EmailRequest
from models.directory import ListingSubmission, LogoRef
from models.forms import FORMS
from models.portal import PortalIdentity
from models.programs import ProgramKey
from models.settings import Settings
from models.tables import PartnerRow
from models.tasks import WorkflowStatus
from starters.intake import RPC_TIMEOUT, submit_form
from starters.task_updates import UpdateOutcome, complete_task
from starters.web.deps import SettingsDep, TemporalDep, TemporalUnavailable
from starters.web.directory import (
    FIELDS,
    LISTING_PAGE_MAX_BYTES,
    PROGRAMS,
    accepts_listing,
    listing_fields,
    uploaded_logo,
)
from starters.web.pages import (
    PAGE_FORM_BYTES,
    PAGE_HEADERS,
    PageError,
    message,
    page_form,
    page_wait,
    rejected_fields,
    same_origin,
)
from starters.web.portal import (
    PortalPartner,
    PortalSignInRequired,
    portal_not_found,
    portal_page,
    require_program,
)
from starters.web.portal_tasks import portal_form_token
from workflows.search_attributes import PARTNER_ID, PROGRAM

log = logging.getLogger(__name__)
router = APIRouter()

PROGRAM_KEY: ProgramKey = "mattermost"  # listings and evaluation licenses are Mattermost's
LISTING_STAGES = {
    "awaiting_listing": "Waiting for your listing",
    "listing_review": "In review: a reviewer checks your submission (within 5 business days)",
    "published": "Published in the partner directory",
    "removed": "Removed from the directory",
}
EVALUATION_STAGES = {
    "checking_partner": "Your request is being checked against your partner record",
    "review": "Your request is with the license desk (delivered within 2–3 business days)",
    "licensed": "Licensed",
    "renewal": "The license desk reviews the renewal now",
    "refused": "Refused",
    "rejected": "Rejected",
    "expired": "Expired without renewal",
    "stopped": "Ended without renewal",
    "partner_left": "Ended: the partnership ended",
}
RENEWABLE_STAGES = ("licensed", "renewal")
WHERE_OPTIONS = ("Other", "Evaluating Mattermost", "Already using Mattermost")


def _expired_form() -> PageError:
    return PageError(
        403, "This form has expired",
        "The form expired or came from another site, so nothing was done. Open the page "
        "again from the portal.",
    )  # fmt: skip


def _mattermost(partner: PortalIdentity) -> None:
    require_program(partner, PROGRAM_KEY)


async def _record(settings: Settings, partner: PortalIdentity) -> PartnerRow:
    _mattermost(partner)
    record = await asyncio.to_thread(portal_access.partner_row, settings, partner)
    if record is None:  # removed meanwhile: the guard's next call refuses the session
        raise PortalSignInRequired()
    return record


def _check_form(request: Request, settings: Settings, form: FormData) -> None:
    token = portal_form_token(request, settings)
    if not same_origin(request, settings) or not same_secret(str(form.get("_csrf") or ""), token):
        raise _expired_form()


@dataclass
class Process:
    """The partner's process of a page: None fields when it does not exist (yet), or its
    state could not be read (`problem` says so)."""

    workflow_id: str
    client: Client | None = None
    running: bool = False
    exists: bool = False
    status: WorkflowStatus | None = None
    problem: str | None = None

    @property
    def facts(self) -> dict[str, Any]:
        return self.status.facts if self.status is not None else {}

    @property
    def stage(self) -> str | None:
        return self.status.stage if self.status is not None else None

    @property
    def pending(self) -> set[str]:
        return {t.task for t in self.status.pending_tasks} if self.status else set()


async def _process(temporal: TemporalDep, partner: PortalIdentity, workflow_id: str) -> Process:
    """The partner's own workflow `workflow_id` and its state (a workflow whose search
    attributes name another partner or program is treated as absent)."""
    process = Process(workflow_id)
    try:
        client = process.client = await temporal.client()
        handle = client.get_workflow_handle(workflow_id)
        described = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except TemporalUnavailable:
        process.problem = "The state cannot be shown right now; please try again in a minute."
        return process
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            process.problem = "The state cannot be shown right now; please try again in a minute."
        return process
    attributes = described.typed_search_attributes
    if attributes.get(PROGRAM) != partner.program or attributes.get(PARTNER_ID) != (
        partner.partner_id
    ):
        return process
    process.exists = True
    process.running = described.status == WorkflowExecutionStatus.RUNNING
    try:
        async with asyncio.timeout(RPC_TIMEOUT.total_seconds()):
            process.status = await handle.query(
                "status", result_type=WorkflowStatus, rpc_timeout=RPC_TIMEOUT
            )
    except (RPCError, TimeoutError, WorkflowQueryFailedError) as exc:
        log.warning("portal: status of %s: %s", workflow_id, exc)
        process.problem = "The state cannot be shown right now; please try again in a minute."
    return process


# --- the directory listing ---------------------------------------------------------------------


def _listing_id(partner: PortalIdentity) -> str:
    return f"directory-{partner.partner_id}"


def _own_logos(process: Process, published_logo: str | None) -> set[str]:
    """The logos the partner's listing shows or shows next (published, submitted)."""
    found = {published_logo} if published_logo else set()
    for key in ("listing", "submitted_listing"):
        logo = (process.facts.get(key) or {}).get("logo") or {}
        if logo.get("logo_id"):
            found.add(str(logo["logo_id"]))
    return found


def _current_logo(process: Process) -> LogoRef | None:
    """The logo the partner's latest listing has (in review, else published)."""
    for key in ("submitted_listing", "listing"):
        logo = (process.facts.get(key) or {}).get("logo")
        if logo:
            return LogoRef.model_validate(logo)
    return None


def _changes_requested(process: Process) -> str | None:
    """The reviewer's comments, while the partner is asked to change the listing."""
    if process.status is None or process.stage != "awaiting_listing":
        return None
    for entry in reversed(process.status.history):
        if entry.step.startswith("review_listing") and entry.event == "request_changes":
            return str(entry.detail.get("comments") or "") or None
    return None


@dataclass
class ListingView:
    """What the listing page shows besides the form."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    outcome: UpdateOutcome | None = None
    preview_logo: str | None = None  # the preview's image source
    previewing: bool = False


def _listing_values(process: Process) -> dict[str, Any]:
    listing = process.facts.get("submitted_listing") or process.facts.get("listing") or {}
    return {name: listing.get(name) or "" for name in FIELDS}


async def _listing_page(
    request: Request,
    settings: Settings,
    partner: PortalIdentity,
    record: PartnerRow,
    process: Process,
    view: ListingView,
    status_code: int = 200,
) -> Response:
    published = await asyncio.to_thread(get_listing, settings, PROGRAM_KEY, partner.partner_id)
    logo = _current_logo(process)
    preview_logo = view.preview_logo or (
        f"/portal/listing/logo/{logo.logo_id}" if logo is not None else None
    )
    facts = process.facts
    vars_territory = (facts.get("partner_type") or record.partner_type) == "value_added_reseller"
    territory = facts.get("territory") or []
    context = {
        "title": "Directory listing",
        "partner": record,
        "process": process,
        "stage": LISTING_STAGES.get(process.stage or "", process.stage),
        "accepting": process.running and accepts_listing(process.status),
        "comments": _changes_requested(process),
        "published": published,
        "values": view.values,
        "errors": view.errors,
        "outcome": view.outcome,
        "previewing": view.previewing,
        "has_logo": logo is not None,
        "preview": {
            **view.values,
            "logo": preview_logo,
            "type_label": PROGRAMS.get(facts.get("partner_type") or record.partner_type, ""),
            "country_name": COUNTRY_NAMES.get(str(view.values.get("country") or "").upper(), ""),
            "territory": [COUNTRY_NAMES.get(c, c) for c in territory] if vars_territory else [],
        },
        "csrf": portal_form_token(request, settings),
    }
    return portal_page(
        request, settings, partner, "portal_listing.html", context, nav="listing",
        status_code=status_code,
    )  # fmt: skip


@router.get("/portal/listing", response_class=HTMLResponse)
async def listing(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The partner's directory listing: its review status, a preview as the directory shows
    it, and the form to edit it (with the logo)."""
    record = await _record(settings, partner)
    process = await _process(temporal, partner, _listing_id(partner))
    view = ListingView(_listing_values(process))
    return await _listing_page(request, settings, partner, record, process, view)


@router.post("/portal/listing", response_class=HTMLResponse)
async def listing_submit(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Preview the edited listing (`action=preview`: nothing is kept), or submit it: the
    fields and the logo checked as the listing page does, the logo kept, then the
    `submit_listing` Workflow Update, whose answer (or refusal) the page shows. Without a new
    file the listing keeps its logo."""
    record = await _record(settings, partner)
    form = await page_form(request, LISTING_PAGE_MAX_BYTES, max_files=1)
    _check_form(request, settings, form)
    process = await _process(temporal, partner, _listing_id(partner))
    if not process.exists or process.client is None:
        raise PageError(
            409, "No listing yet",
            "Your listing process starts when your partner agreement is signed.",
        )  # fmt: skip
    values, fields, errors = listing_fields(form)
    data, logo, problem = await uploaded_logo(form)
    existing = _current_logo(process)
    if not data and existing is not None:
        logo, problem = existing, None
    if problem:
        errors["logo"] = problem
    view = ListingView(values, errors)
    if data and logo is not None:
        encoded = base64.b64encode(data).decode("ascii")
        view.preview_logo = f"data:{logo.content_type};base64,{encoded}"
    if str(form.get("action") or "") == "preview":
        view.previewing = True
        status = 400 if errors else 200
        return await _listing_page(request, settings, partner, record, process, view, status)
    if not (process.running and accepts_listing(process.status)):
        view.errors = {"": "Your listing is being reviewed: wait for the reviewer's answer."}
        return await _listing_page(request, settings, partner, record, process, view, 409)
    if errors or fields is None or logo is None:
        return await _listing_page(request, settings, partner, record, process, view, 400)
    if data:
        await asyncio.to_thread(save_logo, settings, data, logo)  # kept once the listing passed
    submission = ListingSubmission.model_validate(
        {**fields.model_dump(), "partner_id": partner.partner_id, "logo": logo.model_dump()}
    )
    outcome = await complete_task(
        process.client, process.workflow_id, "submit_listing",
        submission.model_dump(mode="json"), wait=page_wait(settings),
    )  # fmt: skip
    if outcome.status == "rejected":
        view.errors = rejected_fields(outcome, (*FIELDS, "logo"))
        code = 409 if "" in view.errors else 422
        return await _listing_page(request, settings, partner, record, process, view, code)
    if outcome.status == "failed":
        raise PageError(
            409, "Your listing could not be submitted",
            "Your listing process is closed or cannot be reached now; nothing was recorded.",
        )  # fmt: skip
    if outcome.status != "accepted":
        return message(
            request, 503, "Please try again",
            "The program did not answer in time: nothing was recorded. Please submit again "
            "in a moment.",
        )  # fmt: skip
    process = await _process(temporal, partner, _listing_id(partner))
    view = ListingView(_listing_values(process), outcome=outcome)
    return await _listing_page(request, settings, partner, record, process, view)


@router.get("/portal/listing/logo/{logo_id}")
async def listing_logo(
    logo_id: str, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """A logo of the partner's own listing (published or in review); any other is 404."""
    _mattermost(partner)
    if len(logo_id) > 64:
        raise portal_not_found()
    published = await asyncio.to_thread(get_listing, settings, PROGRAM_KEY, partner.partner_id)
    process = await _process(temporal, partner, _listing_id(partner))
    owned = _own_logos(process, published.logo_id if published else None)
    row = await asyncio.to_thread(portal_partner_records.own_logo, settings, logo_id, owned)
    if row is None:
        raise portal_not_found()
    return Response(
        row.content,
        media_type=row.content_type,
        headers={**PAGE_HEADERS, "X-Content-Type-Options": "nosniff"},
    )


# --- the evaluation license --------------------------------------------------------------------


def _evaluation_id(partner: PortalIdentity) -> str:
    return f"eval-license-{partner.partner_id}"


def _renewal_key(workflow_id: str, license_id: str) -> str:
    return f"portal:{workflow_id}:renewal-request:{license_id}"


def _may_request(process: Process) -> bool:
    """May the partner ask for a first license now (no process, or its last ended so that
    the form may be sent again)?"""
    if not process.exists:
        return process.problem is None
    if process.running:
        return False
    outcome = process.facts.get("outcome") or process.stage
    return outcome in FORMS["evaluation-license"].reusable_after


@dataclass
class EvaluationView:
    """What the evaluation page shows besides the state."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    notice: str | None = None


def _request_values(record: PartnerRow, partner: PortalIdentity) -> dict[str, str]:
    return {
        "organization_name": f"{record.company} [RESELLER]",
        "where": "Other",
        "contact_name": record.contact_name if record.contact_email == partner.email else "",
        "contact_email": partner.email,
        "country": record.country,
    }


async def _evaluation_page(
    request: Request,
    settings: Settings,
    partner: PortalIdentity,
    record: PartnerRow,
    process: Process,
    view: EvaluationView,
    status_code: int = 200,
) -> Response:
    licenses = await asyncio.to_thread(
        portal_partner_records.licenses_of, settings, process.workflow_id
    )
    current = licenses[0] if licenses else None
    renewable = current is not None and process.running and process.stage in RENEWABLE_STAGES
    requested_at = None
    if current is not None:
        requested_at = await asyncio.to_thread(
            portal_partner_records.email_sent_at,
            settings,
            _renewal_key(process.workflow_id, current.license_id),
        )
    now = datetime.now(UTC)
    expires = current.expires_at.replace(tzinfo=UTC) if current else None
    context = {
        "title": "Evaluation license",
        "partner": record,
        "process": process,
        "stage": EVALUATION_STAGES.get(process.stage or "", process.stage),
        "reason": process.facts.get("reason"),
        "licenses": licenses,
        "current": current,
        "days_left": (expires - now).days if expires is not None else None,
        "renewable": renewable,
        "requested_at": requested_at,
        "may_request": _may_request(process),
        "values": view.values,
        "errors": view.errors,
        "notice": view.notice,
        "where_options": WHERE_OPTIONS,
        "csrf": portal_form_token(request, settings),
    }
    return portal_page(
        request, settings, partner, "portal_evaluation.html", context, nav="evaluation",
        status_code=status_code,
    )  # fmt: skip


@router.get("/portal/evaluation", response_class=HTMLResponse)
async def evaluation(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """The partner's evaluation license: the license files, expiry, renewal; or the form to
    ask for one."""
    record = await _record(settings, partner)
    process = await _process(temporal, partner, _evaluation_id(partner))
    view = EvaluationView(_request_values(record, partner))
    return await _evaluation_page(request, settings, partner, record, process, view)


REQUEST_FIELDS = {  # the form's field names on the page → the evaluation-license form's
    "organization_name": "organization_name",
    "where_are_you_with_mattermost": "where",
    "contact.name": "contact_name",
    "contact.email": "contact_email",
    "contact": "contact_email",
    "country": "country",
}


@router.post("/portal/evaluation/request", response_class=HTMLResponse)
async def evaluation_request(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Ask for the evaluation license: the `evaluation-license` form (same rules: an active
    VAR or SI asking for itself, its organisation name with [RESELLER], "Other", an email at
    its domain), the partner being the session's."""
    record = await _record(settings, partner)
    form = await page_form(request, PAGE_FORM_BYTES)
    _check_form(request, settings, form)
    values = {name: str(form.get(name) or "").strip() for name in _request_values(record, partner)}
    payload = {
        "partner_id": partner.partner_id,
        "organization_name": values["organization_name"],
        "where_are_you_with_mattermost": values["where"],
        "contact": {"name": values["contact_name"], "email": values["contact_email"]},
        "country": values["country"].upper(),
    }
    try:
        client = await temporal.client()
    except TemporalUnavailable as exc:
        raise PageError(503, "Please try again", "Nothing was sent; retry in a minute.") from exc
    try:
        result = await submit_form(client, settings, "evaluation-license", payload)
    except RPCError as exc:
        log.warning("portal: evaluation request of %s: %s", partner.partner_id, exc)
        raise PageError(503, "Please try again", "Nothing was sent; retry in a minute.") from exc
    view = EvaluationView(values)
    if result.status_code in (200, 202):
        view.notice = (
            "Your request is received: the license desk reviews it, and the license is "
            "emailed to you within 2–3 business days."
        )
    elif result.status_code == 422:
        for error in result.body.get("errors") or []:
            name = REQUEST_FIELDS.get(str(error.get("field")), "")
            text = str(error.get("message") or "").removeprefix("Value error, ")
            label = name.replace("_", " ").capitalize()
            view.errors[name] = f"{label}: {text}" if name else text
    else:
        view.errors[""] = str(result.body.get("detail") or "The request could not be taken.")
    process = await _process(temporal, partner, _evaluation_id(partner))
    code = 200 if result.status_code in (200, 202) else result.status_code
    return await _evaluation_page(request, settings, partner, record, process, view, code)


@router.post("/portal/evaluation/renewal", response_class=HTMLResponse)
async def evaluation_renewal(
    request: Request, settings: SettingsDep, temporal: TemporalDep, partner: PortalPartner
) -> Response:
    """Ask for the renewal of the current license: the renewal is the license desk's decision
    (task `renew_evaluation_license`, opened 30 days before expiry), so the request goes to
    the license desk by email, once per license."""
    record = await _record(settings, partner)
    form = await page_form(request, PAGE_FORM_BYTES)
    _check_form(request, settings, form)
    process = await _process(temporal, partner, _evaluation_id(partner))
    licenses = await asyncio.to_thread(
        portal_partner_records.licenses_of, settings, process.workflow_id
    )
    view = EvaluationView(_request_values(record, partner))
    if not licenses or not process.running or process.stage not in RENEWABLE_STAGES:
        view.errors[""] = "There is no license to renew now."
        return await _evaluation_page(request, settings, partner, record, process, view, 409)
    current = licenses[0]
    email = EmailRequest(
        idempotency_key=_renewal_key(process.workflow_id, current.license_id),
        workflow_id=process.workflow_id,
        step="portal:renewal_request",
        to=["role:license_desk"],
        template="evaluation_renewal_request",
        context={
            "company": record.company,
            "partner_id": partner.partner_id,
            "license_id": current.license_id,
            "expires_at": current.expires_at.replace(tzinfo=UTC).isoformat(),
            "requested_by": partner.email,
            "renewal_open": process.stage == "renewal",
        },
        program=PROGRAM_KEY,
    )
    try:
        await asyncio.to_thread(EmailActivities(settings).send_email, email)
    except Exception as exc:  # the provider refused or failed: say so, never a 500
        log.warning("portal: renewal request of %s: %s", partner.partner_id, exc)
        raise PageError(
            503, "Please try again", "Your request could not be sent; retry in a minute."
        ) from exc
    view.notice = (
        "Your renewal request reached the license desk. It decides the renewal before the "
        "license expires; the new license is emailed to you and shows here."
    )
    return await _evaluation_page(request, settings, partner, record, process, view)


@router.get("/portal/evaluation/license/{license_id}")
async def evaluation_license_file(
    license_id: str, settings: SettingsDep, partner: PortalPartner
) -> Response:
    """Download a license file the partner's evaluation license process issued; any other
    is 404."""
    _mattermost(partner)
    if len(license_id) > 64:
        raise portal_not_found()
    row = await asyncio.to_thread(
        portal_partner_records.license_of, settings, _evaluation_id(partner), license_id
    )
    if row is None:
        raise portal_not_found()
    return Response(
        row.content,
        media_type="text/plain; charset=utf-8",
        headers={
            **PAGE_HEADERS,
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{row.filename}"',
        },
    )
