"""Recording histories for the replay test: `PARTNERFLOW_RECORD_HISTORIES=1 pytest tests/workflows`.

Each harness calls `record_histories` after a test; completed runs (and runs that continued
as new) are written to tests/histories/<WorkflowType>-<test>-<index>.json.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
_FINISHED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def recording() -> bool:
    return bool(os.environ.get("PARTNERFLOW_RECORD_HISTORIES"))


async def record_histories(client: Client, workflow_ids: Iterable[str]) -> None:
    """Keep the finished histories of these workflows for the replay test."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "run").split("::")[-1].split(" ")[0]
    test = re.sub(r"[^A-Za-z0-9_]+", "_", test).strip("_")
    for index, workflow_id in enumerate(dict.fromkeys(workflow_ids)):
        with contextlib.suppress(Exception):
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            if history.events[-1].event_type not in _FINISHED:
                continue
            started = history.events[0].workflow_execution_started_event_attributes
            (HISTORIES / f"{started.workflow_type.name}-{test}-{index}.json").write_text(
                history.to_json()
            )
