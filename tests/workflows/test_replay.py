"""Every recorded history replays against today's workflow code.

A change that would break running workflows (different commands for the same history) fails
here. Histories are recorded from the workflow tests:
`PARTNERFLOW_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows`. How to change a
workflow safely (`workflow.patched`) is in docs/determinism.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workers.main import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def test_every_workflow_type_has_recorded_histories() -> None:
    recorded = {path.name.split("-", 1)[0] for path in HISTORIES}
    registered = {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}
    assert registered - recorded == set(), "record histories for these workflow types"


async def test_every_history_replays() -> None:
    """One replayer for all histories (a replayer per file costs a worker start each)."""
    files: dict[str, str] = {}

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in HISTORIES:
            history = WorkflowHistory.from_json(path.stem, path.read_text())
            files[history.run_id] = path.name
            yield history

    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        data_converter=pydantic_data_converter,
    )
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    failures = {files[run_id]: str(err)[:300] for run_id, err in results.replay_failures.items()}
    assert failures == {}, "these recorded histories no longer replay (see docs/determinism.md)"


@workflow.defn(name="OrderFulfillment", sandboxed=False)
class ReorderedOrderFulfillment:
    """OrderFulfillment as a careless change would leave it: a timer before its first step."""

    @workflow.run
    async def run(self, order: Any) -> None:
        await workflow.sleep(60)


async def test_a_changed_workflow_fails_replay() -> None:
    """The guard itself: replaying a recorded order against changed code must fail."""
    path = next(p for p in HISTORIES if p.name.startswith("OrderFulfillment-test_happy_path"))
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=[ReorderedOrderFulfillment], data_converter=pydantic_data_converter
    )
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)
