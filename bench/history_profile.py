"""Where a workflow's history goes: the events of recorded histories by kind, the timers
started against those that fired (the rest were cancelled: reminders and escalations of a task
done in time), search-attribute upserts, local activities and activities by name.

    .venv/bin/python -m bench.history_profile tests/histories/DealRegistration-....json ...

Pure reading of history JSON (as `temporal workflow show --output json` or the replay tests
write it); no server. Used for bench/README.md's "Where a deal's history goes"."""

from __future__ import annotations

import base64
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def profile(history: dict[str, Any]) -> dict[str, Any]:
    """Counts of one history's events (see the module docstring)."""
    kinds: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    local: Counter[str] = Counter()
    for event in history["events"]:
        kind = event["eventType"].removeprefix("EVENT_TYPE_")
        kinds[kind] += 1
        if scheduled := event.get("activityTaskScheduledEventAttributes"):
            activities[scheduled["activityType"]["name"]] += 1
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_local_activity":
            data = marker["details"]["data"]["payloads"][0]["data"]
            local[json.loads(base64.b64decode(data))["activity_type"]] += 1
    started, fired = kinds["TIMER_STARTED"], kinds["TIMER_FIRED"]
    return {
        "events": sum(kinds.values()),
        "workflow_tasks": kinds["WORKFLOW_TASK_COMPLETED"],
        "timers_started": started,
        "timers_fired": fired,
        "timers_cancelled": kinds["TIMER_CANCELED"],
        "search_attribute_upserts": kinds["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
        "local_activities": dict(local),
        "activities": dict(activities),
        "signals": kinds["WORKFLOW_EXECUTION_SIGNALED"],
        "updates": kinds["WORKFLOW_EXECUTION_UPDATE_ACCEPTED"],
        "by_kind": dict(kinds.most_common()),
    }


def main(paths: list[str]) -> None:
    for path in paths:
        print(Path(path).name)
        print(json.dumps(profile(json.loads(Path(path).read_text())), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
