"""The Partnerflow web service: signed form webhooks, the pages people open from their
emails (accept the terms, sign, directory listing), the public partner directory, the
operators' internal pages, the Stripe and SendGrid webhooks and the codec server.

Run it with `uvicorn --factory starters.web.app:app` (settings from the environment), or
build it in code with `create_app(settings, client)`. Each area is a router in its own
module under `starters/web/`; this module only builds the app's state, its lifespan and
its exception handlers, and includes the routers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware
from temporalio.client import Client

from models.settings import Settings, get_settings
from starters.web import (
    accept,
    auth,
    billing_webhooks,
    codec,
    directory,
    email_webhooks,
    finance,
    health,
    insights,
    intake,
    portal,
    portal_partner,
    portal_rocketchat,
    portal_sales,
    portal_tasks,
    rocketchat_partners,
    sign,
    task_page,
    tasks,
)
from starters.web.access_log import redact_access_log
from starters.web.deps import TemporalUnavailable, connect_temporal
from starters.web.operators import LoginRequired
from starters.web.pages import MAX_BODY_BYTES, PageError, page_error_handler
from starters.web.rate_limit import RateLimiter

__all__ = ["MAX_BODY_BYTES", "app", "create_app"]

log = logging.getLogger(__name__)

ROUTERS = [
    health.router,
    intake.router,
    accept.router,
    sign.router,
    billing_webhooks.router,
    email_webhooks.router,
    directory.router,
    rocketchat_partners.router,
    codec.router,
    auth.router,
    tasks.router,
    task_page.router,
    finance.router,
    insights.router,
    portal.router,
    portal_tasks.router,
    portal_partner.router,
    portal_rocketchat.router,
    portal_sales.router,
]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect to Temporal at startup when no client was given (routes retry on demand)."""
    if app.state.temporal is None:
        try:
            await connect_temporal(app)
        except TemporalUnavailable as exc:
            log.warning("Temporal not reachable at startup, will retry: %s", exc)
    yield


def create_app(
    settings: Settings,
    client: Client | None = None,
    *,
    workflow_execution_timeout: timedelta | None = None,
) -> FastAPI:
    """The FastAPI app; without `client` it connects to Temporal on startup (and retries
    on each request until connected). `workflow_execution_timeout` caps started workflows.
    A public service (non-loopback `PUBLIC_BASE_URL`) without its secrets is refused."""
    settings.require_production_secrets()
    settings.check_proxy_trust()
    redact_access_log()
    app = FastAPI(title="Partnerflow", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings
    app.state.temporal = client
    app.state.connect_lock = asyncio.Lock()
    app.state.execution_timeout = workflow_execution_timeout
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.login_limiter = auth.FailureLimiter()
    app.state.login_failure_delay = auth.FAILURE_DELAY_SECONDS
    app.add_exception_handler(PageError, page_error_handler)
    app.add_exception_handler(LoginRequired, auth.login_required_handler)
    app.add_exception_handler(portal.PortalSignInRequired, portal.sign_in_required_handler)
    for router in ROUTERS:
        app.include_router(router)
    if (hosts := settings.trusted_hosts()) is not None:  # links and feeds never name a forged host
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    return app


def app() -> FastAPI:
    """Factory for `uvicorn --factory starters.web.app:app`: settings from the environment
    (the records database migrated first, as `partnerflow web` does)."""
    from activities.database import migrate

    settings = get_settings()
    migrate(settings.resolved_database_url)
    return create_app(settings)
