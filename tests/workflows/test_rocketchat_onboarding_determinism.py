"""RocketChatOnboarding runs steps 5-7 and the program summary's steps side by side
(`asyncio.gather`). No local activity may run there: a local activity's result can reach the
workflow one workflow task after its marker, and the commands issued after it then
interleave with the other coroutines' differently live and on replay (a nondeterminism
error, `UpsertWorkflowSearchAttributesMachine does not handle ... ActivityTaskScheduled`).
Runs with the patch `rc-year-onboarding-deadline-activities` compute those deadlines by an ordinary
activity, whose result is a history event of its own workflow task."""

from __future__ import annotations

import json

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from tests.workflows.harness import pending, workflow_harness
from tests.workflows.test_rocketchat_onboarding import (
    certify_all,
    complete_summary,
    start,
    through_signature,
)

SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
MARKER = EventType.EVENT_TYPE_MARKER_RECORDED


def _activity(event: HistoryEvent) -> str:
    return event.activity_task_scheduled_event_attributes.activity_type.name


def _local_activity(event: HistoryEvent) -> str | None:
    attrs = event.marker_recorded_event_attributes
    if attrs.marker_name != "core_local_activity":
        return None
    data = json.loads(attrs.details["data"].payloads[0].data)
    return str(data["activity_type"])


async def test_no_local_activity_while_the_steps_run_side_by_side(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with workflow_harness(time_skipping_env, settings) as h:
        handle = await start(h)
        await through_signature(handle)
        website = await pending(handle, "publish_website")
        await handle.signal(
            "website_published", {**website["example"], "url": h.site + "/partners"}
        )
        await certify_all(handle, ["installation", "brand_theming"])
        await complete_summary(handle)
        await handle.result()
        history = await handle.fetch_history()

    events = list(history.events)
    # The parallel section: from the workgroup's activity (step 6) to the partnership's start.
    first = next(
        i
        for i, e in enumerate(events)
        if e.event_type == SCHEDULED and _activity(e) == "create_workgroup"
    )
    last = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    )
    parallel = events[first:last]
    local = [_local_activity(e) for e in parallel if e.event_type == MARKER]
    assert [name for name in local if name] == []
    deadlines = [
        e for e in parallel if e.event_type == SCHEDULED and _activity(e) == "business_deadline"
    ]
    assert deadlines, "the parallel steps' deadlines are ordinary activities"
