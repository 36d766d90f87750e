"""How the starting workflows (VarApplication, SystemIntegratorApplication,
RocketChatOnboarding) reach the partner's entity `Partner` (`partner-{program}-{partner_id}`):
signal-with-start from an activity, so the entity starts once and hears every record change.

Starting workflows ask `ENTITY_PATCH` before their first call (docs/determinism.md):
histories from before it never called `start_partner_entity`.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import PartnerRecord
    from models.partner_entity import (
        DealEvent,
        EntityStart,
        PartnerEntityInput,
        PartnerEvent,
        SignalRequest,
        entity_id,
    )

from workflows.calls import RECORD, call

ENTITY_PATCH = "partner-entity-start"


async def tell_partner_entity(
    record: PartnerRecord, *, partnership_workflow_id: str | None = None
) -> None:
    """Start the partner's entity unless it runs, and give it the partner record now."""
    workflow_id = entity_id(record.program, record.partner_id)
    await call(
        "start_partner_entity",
        EntityStart(
            workflow_id=workflow_id,
            input=PartnerEntityInput(program=record.program, partner_id=record.partner_id),
            event=PartnerEvent(
                source_workflow_id=workflow.info().workflow_id,
                record=record,
                partnership_workflow_id=partnership_workflow_id,
            ),
        ),
        options=RECORD,
        result_type=str,
        summary=f"partner entity {workflow_id}: {record.status}",
    )


# DealRegistration reports its approval and what follows to the partner's entity; histories
# from before it did not. Asked at the approval's record (after an ordinary activity).
DEAL_EVENTS_PATCH = "partner-entity-deal-events"


async def tell_deal_status(partner_id: str, deal_number: str, status: str) -> None:
    """Tell the partner's entity a deal registration's status (no entity: nothing happens)."""
    workflow_id = entity_id("mattermost", partner_id)
    event = DealEvent(
        deal_number=deal_number,
        workflow_id=workflow.info().workflow_id,
        status=status,
        at=workflow.now(),
    )
    await call(
        "signal_workflow",
        SignalRequest(
            workflow_id=workflow_id, signal="deal_update", payload=event.model_dump(mode="json")
        ),
        options=RECORD,
        result_type=bool,
        summary=f"tell {workflow_id}: {deal_number} {status}",
    )
