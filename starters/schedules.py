"""Temporal Schedules for the Rocket.Chat quarterly reviews (`partnerflow schedules`).

One schedule per active Rocket.Chat partner, `rc-quarterly-review-{partner_id}`: every three
months from the signature (the signature's day of month, capped at the 28th so that every
month has it, and its time of day, UTC) it starts `RocketChatReviewTrigger`, which signals
`request_review` to `rc-partnership-{partner_id}`. The partnership ignores a request when
the quarter's review is already pending or was just done, so the schedule and the
workflow's own quarter-end timer never review twice. Operations see the schedules on the
Temporal UI's Schedules page; schedules of partners that are no longer active are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from activities.partners import list_partners
from models.contracts import PartnerRecord
from models.settings import Settings
from workflows.search_attributes import PARTNER_ID, PROGRAM


@dataclass
class ScheduleResult:
    schedule_id: str
    partner_id: str
    action: str  # created | updated | deleted | skipped
    months: list[int]
    day_of_month: int | None = None
    note: str | None = None


def schedule_id_for(partner_id: str) -> str:
    return f"rc-quarterly-review-{partner_id}"


def quarter_months(signed_at: datetime) -> list[int]:
    """The four months of the year in which a quarter from the signature ends."""
    return sorted({(signed_at.month - 1 + 3 * k) % 12 + 1 for k in range(1, 5)})


def review_schedule(partner: PartnerRecord, signed_at: datetime, task_queue: str) -> Schedule:
    day = min(signed_at.day, 28)
    calendar = ScheduleCalendarSpec(
        second=[ScheduleRange(0)],
        minute=[ScheduleRange(signed_at.minute)],
        hour=[ScheduleRange(signed_at.hour)],
        day_of_month=[ScheduleRange(day)],
        month=[ScheduleRange(m) for m in quarter_months(signed_at)],
        comment=(
            f"quarterly review of {partner.company}, from the signature on {signed_at:%Y-%m-%d}"
        ),
    )
    action = ScheduleActionStartWorkflow(
        "RocketChatReviewTrigger",
        partner.partner_id,
        id=f"rc-review-{partner.partner_id}",
        task_queue=task_queue,
        typed_search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(PROGRAM, "rocketchat"),
                SearchAttributePair(PARTNER_ID, partner.partner_id),
            ]
        ),
        static_summary=f"Quarterly review request: {partner.company}",
    )
    return Schedule(
        action=action,
        spec=ScheduleSpec(calendars=[calendar], time_zone_name="UTC"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            note=f"Rocket.Chat quarterly review of {partner.company} ({partner.partner_type}); "
            "managed by `partnerflow schedules`"
        ),
    )


async def sync_review_schedules(
    client: Client, settings: Settings, partners: list[PartnerRecord]
) -> list[ScheduleResult]:
    """Create or update the schedule of each active Rocket.Chat partner; delete the others'."""
    results = []
    for partner in partners:
        if partner.program != "rocketchat":
            continue
        schedule_id = schedule_id_for(partner.partner_id)
        signed = partner.attributes.get("signed_at")
        if partner.status != "active" or not signed:
            try:
                await client.get_schedule_handle(schedule_id).delete()
                results.append(
                    ScheduleResult(
                        schedule_id,
                        partner.partner_id,
                        "deleted",
                        [],
                        note=f"partner {partner.status}",
                    )
                )
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                results.append(
                    ScheduleResult(
                        schedule_id,
                        partner.partner_id,
                        "skipped",
                        [],
                        note="not active or not signed yet",
                    )
                )
            continue
        signed_at = datetime.fromisoformat(signed)
        schedule = review_schedule(partner, signed_at, settings.temporal_task_queue)
        try:
            await client.create_schedule(schedule_id, schedule)
            action = "created"
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(replace)
            action = "updated"
        results.append(
            ScheduleResult(
                schedule_id,
                partner.partner_id,
                action,
                quarter_months(signed_at),
                min(signed_at.day, 28),
            )
        )
    return results


async def sync_from_records(client: Client, settings: Settings) -> list[ScheduleResult]:
    return await sync_review_schedules(
        client, settings, list_partners(settings, program="rocketchat")
    )
