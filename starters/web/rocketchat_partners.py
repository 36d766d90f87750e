"""Rocket.Chat's own partner page (`/rocketchat/partners`, also `/rocketchat/partners.json`):
the partners whose onboarding completed and who have not left the program, with their
partnership type, services, region and link, in the Rocket.Chat branding (seed 002, "inclusion
on the Rocket.Chat website"). Filters: `type` (hosting, technology_provider, value_added) and
`country` (ISO code); an unknown filter value is a 422 naming it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from activities.rocketchat_summary import list_site_partners
from models.applications import COUNTRY_NAMES
from models.programs import program_identity
from models.rocketchat import PARTNER_TYPE_LABELS, SERVICES
from models.rocketchat_summary import SiteListing
from starters.web.deps import SettingsDep
from starters.web.pages import templates

router = APIRouter()
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}


def _filters(request: Request) -> tuple[str | None, str | None, list[dict[str, str]]]:
    kind = (request.query_params.get("type") or "").strip() or None
    country = (request.query_params.get("country") or "").strip().upper() or None
    errors = []
    if kind and kind not in PARTNER_TYPE_LABELS:
        errors.append(
            {"field": "type", "message": f"must be one of {', '.join(PARTNER_TYPE_LABELS)}"}
        )
    if country and country not in COUNTRY_NAMES:
        errors.append({"field": "country", "message": "must be an ISO 3166-1 alpha-2 code"})
    return kind, country, errors


def _entry(e: SiteListing) -> dict[str, Any]:
    labels = SERVICES.get(e.partner_type, {})
    return {
        "partner_id": e.partner_id,
        "name": e.company,
        "type": e.partner_type,
        "type_label": PARTNER_TYPE_LABELS.get(e.partner_type, e.partner_type),
        "services": [labels.get(s, s) for s in e.services],
        "region": e.country,
        "region_name": COUNTRY_NAMES.get(e.country, e.country),
        "link": e.website,
        "listed_at": e.at.isoformat(),
    }


@router.get("/rocketchat/partners", response_class=HTMLResponse, name="rocketchat_partners")
async def rocketchat_partners(request: Request, settings: SettingsDep) -> Response:
    """Rocket.Chat's partner page, filtered by `type` and `country`."""
    kind, country, errors = _filters(request)
    brand = program_identity(settings, "rocketchat")
    everyone = [] if errors else await asyncio.to_thread(list_site_partners, settings)
    shown = [
        _entry(e)
        for e in everyone
        if (not kind or e.partner_type == kind) and (not country or e.country == country)
    ]
    context = {
        "brand": brand,
        "title": "Rocket.Chat partners",
        "partners": shown,
        "type": kind,
        "country": country,
        "types": list(PARTNER_TYPE_LABELS.items()),
        "countries": sorted(
            {(e.country, COUNTRY_NAMES.get(e.country, e.country)) for e in everyone},
            key=lambda c: c[1],
        ),
        "errors": errors,
    }
    return templates.TemplateResponse(
        request,
        "rocketchat_partners.html",
        context,
        status_code=422 if errors else 200,
        headers=PUBLIC_CACHE,
    )


@router.get("/rocketchat/partners.json", name="rocketchat_partners_json")
async def rocketchat_partners_json(request: Request, settings: SettingsDep) -> JSONResponse:
    """The partner page as JSON (same filters): name, type, services, region, link."""
    kind, country, errors = _filters(request)
    if errors:
        return JSONResponse({"detail": errors}, status_code=422)
    listings = await asyncio.to_thread(list_site_partners, settings, kind, country)
    return JSONResponse([_entry(e) for e in listings], headers=PUBLIC_CACHE)
