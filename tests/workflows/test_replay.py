"""Every recorded history replays against today's workflow code.

A change that would break running workflows (different commands for the same history) fails
here. Histories are recorded from the workflow tests:
`PARTNERFLOW_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/workflows`. How to change a
workflow safely (`workflow.patched`) is in docs/determinism.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.main import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    types = {path.name.split("-", 1)[0] for path in HISTORIES}
    assert "OrderFulfillment" in types


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    workflow_id = path.stem
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, workflow_runner=workflow_runner(), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
