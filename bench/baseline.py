"""Bare workflows and activities: what Temporal costs on this machine with nothing of
Partnerflow in it. Each benchmark sizes them from the real workflows' histories.

- `BareProcess`: N no-op activities and S signals (human steps), optionally with a child
  that has its own and signals its parent P times (as a child order tells its deal of its
  progress); exposes `pending_tasks` like the real processes so the same driver plays it.
- `BareTimer`: publishes one search attribute and waits on a long timer (the shape of a
  partnership between its monthly events).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("Stage")  # one of Partnerflow's registered attributes


@dataclass
class BareSpec:
    activities: int
    signals: int
    child: BareSpec | None = None
    notify_parent: int = 0
    payload: dict[str, Any] = field(default_factory=dict)


@activity.defn(name="bench_noop")
def noop(arg: dict[str, Any]) -> dict[str, Any]:
    """A synchronous activity that does nothing (Partnerflow's activities are synchronous)."""
    return arg


def split(total: int, parts: int) -> list[int]:
    """`total` spread over `parts` as evenly as possible, the larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@workflow.defn(name="BenchBareProcess")
class BareProcess:
    def __init__(self) -> None:
        self._step = 0
        self._received = 0
        self._waiting = False
        self._progress: dict[str, Any] = {}

    @workflow.signal(name="bench_act")
    def act(self, payload: dict[str, Any]) -> None:
        if self._waiting and payload.get("step") == self._step:
            self._received += 1
            self._waiting = False

    @workflow.signal(name="bench_progress")
    def progress(self, payload: dict[str, Any]) -> None:
        self._progress = payload

    @workflow.query(name="pending_tasks")
    def pending_tasks(self) -> list[dict[str, Any]]:
        if not self._waiting:
            return []
        return [
            {"task": f"step-{self._step}", "handler": "bench_act", "example": {"step": self._step}}
        ]

    @workflow.run
    async def run(self, spec: BareSpec) -> dict[str, Any]:
        own = spec.signals
        segments = split(spec.activities, own + 1)
        notices = split(spec.notify_parent, own + 1)
        parent = workflow.info().parent
        told: list[asyncio.Future[None]] = []
        for i, count in enumerate(segments):
            for _ in range(count):
                await workflow.execute_activity(
                    noop, spec.payload, start_to_close_timeout=timedelta(seconds=30)
                )
            if parent is not None:  # fire and forget, like OrderFulfillment's progress
                told += [
                    asyncio.ensure_future(
                        workflow.get_external_workflow_handle(parent.workflow_id).signal(
                            "bench_progress", spec.payload
                        )
                    )
                    for _ in range(notices[i])
                ]
            if i < own:
                self._step, self._waiting = i + 1, True
                await workflow.wait_condition(lambda: not self._waiting)
        if told:
            await asyncio.gather(*told)
        if spec.child is not None:
            await workflow.execute_child_workflow(
                BareProcess.run, spec.child, id=f"{workflow.info().workflow_id}-child"
            )
        return {"outcome": "done", "signals": self._received}


@workflow.defn(name="BenchBareTimer")
class BareTimer:
    @workflow.run
    async def run(self, days: int) -> None:
        workflow.upsert_search_attributes([STAGE.value_set("waiting")])
        await workflow.sleep(timedelta(days=days))
