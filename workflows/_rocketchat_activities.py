"""Typed calls to the Rocket.Chat activities, by name (workflows never import adapters)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.rocketchat import (
        SalesReportRecord,
        WebCheckRequest,
        WebCheckResult,
        Workgroup,
        WorkgroupRequest,
    )

from workflows._activities import EXTERNAL, HEARTBEAT


async def check_partner_website(request: WebCheckRequest) -> WebCheckResult:
    return await workflow.execute_activity(
        "check_partner_website",
        request,
        result_type=WebCheckResult,
        start_to_close_timeout=timedelta(seconds=120),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"check {request.url} mentions Rocket.Chat",
    )


async def create_workgroup(request: WorkgroupRequest) -> Workgroup:
    return await workflow.execute_activity(
        "create_workgroup",
        request,
        result_type=Workgroup,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"community workgroup for {request.company}",
    )


async def record_sales_report(record: SalesReportRecord) -> None:
    await workflow.execute_activity(
        "record_sales_report",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"record sales report {record.month}",
    )
