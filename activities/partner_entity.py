"""The partner entity's link to Temporal itself: starting it (signal-with-start, so asking
twice is harmless) and signalling the workflows it and its deals talk to.

Async activities: they use the worker's own client (`activity.client()`), with its payload
codec. A workflow that does not exist or has ended is no error: `signal_workflow` answers
False and the caller records that.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from models.partner_entity import EntityStart, SignalRequest


@activity.defn(name="start_partner_entity")
async def start_partner_entity(start: EntityStart) -> str:
    """Start `partner-{program}-{partner_id}` unless it runs, and give it the starting
    workflow's partner record (`partner_record`); answers the run id ("" when the partner's
    entity has ended: an offboarded partner is not started again by a late record). The
    entity sets its `Program` and `PartnerId` search attributes itself, first thing."""
    data = start.input
    try:
        handle = await activity.client().start_workflow(
            "Partner",
            data,
            id=start.workflow_id,
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            start_signal="partner_record",
            start_signal_args=[start.event],
            static_summary=f"Partner {data.partner_id} ({data.program})",
        )
    except WorkflowAlreadyStartedError:
        return ""
    return handle.result_run_id or ""


@activity.defn(name="signal_workflow")
async def signal_workflow(request: SignalRequest) -> bool:
    """Signal the workflow's current run; False when there is none running."""
    handle = activity.client().get_workflow_handle(request.workflow_id)
    try:
        await handle.signal(request.signal, request.payload)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
