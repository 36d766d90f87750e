"""Typed calls to the activities, by name, so workflows never import adapter code.

Timeouts and retry policies live here, one place per external system. Permanent errors
are raised by the activities as non-retryable `ApplicationError`s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from models.contracts import (
    AgreementDraft,
    AgreementRequest,
    AgreementSignature,
    DeadlineRequest,
    DecisionRecord,
    EmailReceipt,
    EmailRequest,
    InvoiceAction,
    InvoiceInfo,
    InvoiceRequest,
    IssuedLicense,
    LicenseRequest,
    OrderRecord,
    PartnerRecord,
    ScreeningRequest,
    ScreeningResult,
    SignedAgreement,
)

# External systems can be down for a while: back off up to 10 minutes, never give up on
# retryable errors (the workflow waits; operators see the pending activity in the UI).
EXTERNAL = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
LOCAL = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)
# The worker heartbeats every running activity (workers/main.py, HeartbeatWhileRunning): an
# attempt on a worker that died is retried after this, not after its start-to-close timeout.
HEARTBEAT = timedelta(seconds=10)


async def business_deadline(start: datetime, business_days: int, country: str) -> datetime:
    return await workflow.execute_local_activity(
        "business_deadline",
        DeadlineRequest(start=start, business_days=business_days, country=country),
        result_type=datetime,
        start_to_close_timeout=timedelta(seconds=10),
        retry_policy=LOCAL,
        summary=f"deadline: {business_days} business day(s) ({country})",
    )


async def screen_party(request: ScreeningRequest) -> ScreeningResult:
    return await workflow.execute_local_activity(
        "screen_party",
        request,
        result_type=ScreeningResult,
        start_to_close_timeout=timedelta(seconds=10),
        retry_policy=LOCAL,
        summary=f"embargo screening: {request.party} ({request.country})",
    )


async def send_email(request: EmailRequest) -> EmailReceipt:
    return await workflow.execute_activity(
        "send_email",
        request,
        result_type=EmailReceipt,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"email {request.template} ({request.step})",
    )


async def create_invoice(request: InvoiceRequest) -> InvoiceInfo:
    return await workflow.execute_activity(
        "create_invoice",
        request,
        result_type=InvoiceInfo,
        start_to_close_timeout=timedelta(seconds=120),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary="create, finalize and send the invoice",
    )


async def get_invoice(invoice_id: str) -> InvoiceInfo:
    return await workflow.execute_activity(
        "get_invoice",
        invoice_id,
        result_type=InvoiceInfo,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"read invoice {invoice_id}",
    )


async def apply_invoice_action(action: InvoiceAction) -> InvoiceInfo:
    return await workflow.execute_activity(
        "apply_invoice_action",
        action,
        result_type=InvoiceInfo,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"invoice {action.action}",
    )


async def issue_license(request: LicenseRequest) -> IssuedLicense:
    return await workflow.execute_activity(
        "issue_license",
        request,
        result_type=IssuedLicense,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"issue license for {request.users} users",
    )


async def record_order(record: OrderRecord) -> None:
    await workflow.execute_activity(
        "record_order",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"record order ({record.status})",
    )


async def record_decision(record: DecisionRecord) -> None:
    await workflow.execute_activity(
        "record_decision",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"audit: {record.step} {record.decision}",
    )


async def prepare_agreement(request: AgreementRequest) -> AgreementDraft:
    return await workflow.execute_activity(
        "prepare_agreement",
        request,
        result_type=AgreementDraft,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"prepare {request.kind}",
    )


async def record_signature(signature: AgreementSignature) -> SignedAgreement:
    return await workflow.execute_activity(
        "record_signature",
        signature,
        result_type=SignedAgreement,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"store signature of {signature.agreement_id}",
    )


async def upsert_partner(record: PartnerRecord) -> None:
    await workflow.execute_activity(
        "upsert_partner",
        record,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"partner {record.partner_id}: {record.status}",
    )


async def get_partner(partner_id: str) -> PartnerRecord | None:
    return await workflow.execute_activity(
        "get_partner",
        partner_id,
        result_type=PartnerRecord | None,  # type: ignore[arg-type]
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=EXTERNAL,
        heartbeat_timeout=HEARTBEAT,
        summary=f"look up partner {partner_id}",
    )
