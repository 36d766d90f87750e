"""Typed calls, by name, to the activities of the partner lifecycle (issue 4): the VAR
pre-screen and the public directory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.applications import PrescreenRequest, PrescreenResult
    from models.directory import PublishedListing, UnpublishRequest
    from models.notices import KINDS, notice

from workflows._activities import EXTERNAL, HEARTBEAT, LOCAL


async def prescreen_application(request: PrescreenRequest) -> PrescreenResult:
    return await workflow.execute_local_activity(
        "prescreen_application",
        request,
        result_type=PrescreenResult,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=LOCAL,
        summary=f"pre-screen {request.application.company} ({request.application.country})",
    )


async def publish_listing(listing: PublishedListing) -> None:
    await workflow.execute_activity(
        "publish_listing",
        listing,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"publish directory listing {listing.partner_id} v{listing.version}",
    )


async def unpublish_listing(request: UnpublishRequest) -> bool:
    return await workflow.execute_activity(
        "unpublish_listing",
        request,
        result_type=bool,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"remove directory listing {request.partner_id}",
    )


async def notify(
    process: Any, step: str, to: list[str], kind: str, context: dict[str, Any], **extra: Any
) -> None:
    """Send a partner-lifecycle email: a `models.notices` kind is rendered by the
    `partner_notice` template; any other name is an email template of its own."""
    if kind in KINDS:
        await process.email(step, to, "partner_notice", notice(kind, context), **extra)
    else:
        await process.email(step, to, kind, context, **extra)
