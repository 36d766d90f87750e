"""Issue 15: "a partner sees only its own data". Every GET route of the portal (found in the
app, so a new route cannot be left out) is visited, on the dev server, by a second partner of
the same program and by a partner of the other program with the same slug, with the first
partner's identifiers in its path: each answers 404, and no page shows anything of the
first partner. A new path parameter fails this test until it gets a value below."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi import FastAPI

from activities import portal_access
from models.directory import EXAMPLE_LOGO_ID
from models.portal import PortalIdentity
from starters.web.app import create_app
from starters.web.portal import SESSION_COOKIE
from tests.starters.conftest import PagesStack
from tests.starters.test_portal_sales import add_var, seed_sales
from tests.starters.test_portal_tasks import start_listing

PUBLIC = {"/portal", "/portal/sign-in/{token}"}  # the door: answers the same for anyone


def portal_get_routes(app: FastAPI) -> list[str]:
    paths = []
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        for r in inner.routes if inner is not None else [route]:
            path = getattr(r, "path", "") or ""
            if path.startswith("/portal") and "GET" in (getattr(r, "methods", None) or ()):
                paths.append(path)
    return paths


def session_client(app: FastAPI, stack: PagesStack, identity: PortalIdentity) -> httpx.AsyncClient:
    sid = portal_access.open_session(stack.settings, identity)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    client.cookies.set(SESSION_COOKIE, sid, path="/portal")
    return client


async def test_every_portal_route_refuses_another_partners_data(pages_stack: PagesStack) -> None:
    stack, run = pages_stack, str(uuid.uuid4().int % 10**5).zfill(5)
    # the first partner: a running listing task, a submitted listing (its logo), a deal with
    # its order, invoice and license, a paid referral fee
    listing, mine = await start_listing(stack, f"lena-{run}@nordlicht.example")
    deal, fee_deal, invoice, license_id = (
        f"DR-2031-{run}1", f"DR-2031-{run}2", f"in_iso_{run}", f"LIC-ISO-{run}",
    )  # fmt: skip
    seed_sales(
        stack.settings, mine, "Nordlicht Isolation GmbH", f"Kunde {run} AG", deal, invoice,
        license_id, fee_deal=fee_deal,
    )  # fmt: skip
    values = {
        "workflow_id": listing.id,
        "handler": "submit_listing",
        "logo_id": EXAMPLE_LOGO_ID,
        "license_id": license_id,
        "deal_number": deal,
        "invoice_id": invoice,
    }
    traces = [mine, deal, fee_deal, invoice, license_id, f"Kunde {run}", "Nordlicht Isolation"]

    # the others: a second Mattermost partner, and the first one's slug in Rocket.Chat
    other = f"hafen-{run}"
    add_var(stack.settings, "mattermost", other, f"max@{other}.example", "Hafenwerk GmbH")
    add_var(stack.settings, "rocketchat", mine, f"ops@{mine}.example", "Nordlicht Chat Lda")
    app = create_app(stack.settings, stack.client)
    sessions = {
        "another Mattermost partner": PortalIdentity("mattermost", other, f"max@{other}.example"),
        "the same slug in Rocket.Chat": PortalIdentity("rocketchat", mine, f"ops@{mine}.example"),
    }

    routes = [path for path in portal_get_routes(app) if path not in PUBLIC]
    assert len(routes) >= 12, routes
    visited = 0
    for who, identity in sessions.items():
        async with session_client(app, stack, identity) as client:
            for path in routes:
                names = re.findall(r"{(\w+)(?::\w+)?}", path)
                assert set(names) <= set(values), f"{path}: give its parameters a value"
                url = re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(values[m.group(1)]), path)
                answer = await client.get(url)
                visited += 1
                if names:
                    assert answer.status_code == 404, (who, url, answer.status_code)
                else:
                    assert answer.status_code in (200, 404), (who, url, answer.status_code)
                body = answer.text
                if identity.program == "rocketchat":
                    body = body.replace(mine, "")  # its own slug is the same word
                leaked = [t for t in traces if t in body]
                assert not leaked, (who, url, leaked)
    assert visited == 2 * len(routes)
    # and the first partner itself gets its own pages (the probe values are real)
    async with session_client(
        app, stack, PortalIdentity("mattermost", mine, f"lena-{run}@nordlicht.example")
    ) as client:
        for url in (f"/portal/deals/{deal}", f"/portal/invoices/{invoice}"):
            assert (await client.get(url)).status_code == 200, url
        task = await client.get(f"/portal/tasks/{listing.id}/submit_listing")
        assert task.status_code == 200
