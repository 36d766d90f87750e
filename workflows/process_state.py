"""What every process shows operators and how it changes: stage, facts, history and open
human tasks.

`ProcessState` keeps them and publishes them:

- the `status` and `pending_tasks` queries (PRODUCT.md, "Self-describing contract");
- the `Stage`, `PendingTask`, `Assignee` and `TaskDueAt` search attributes and the
  workflow's current details in the Temporal UI, kept current;
- `accept()`: validation of a signal's JSON input; an invalid input or a task that is not
  pending is rejected, recorded in the history, and changes nothing else. While an update's
  validator checks an input (`_checking`, on a scratch copy), a rejection raises instead.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.encryption import is_refused_payload
    from models.tasks import HistoryEntry, PendingTask, WorkflowStatus

from workflows.human_tasks import HumanTask
from workflows.human_updates import Rejection, rejection_problems
from workflows.search_attributes import ASSIGNEE, PENDING_TASK, STAGE, TASK_DUE_AT

M = TypeVar("M", bound=BaseModel)


class ProcessState:
    """Stage, facts, history and open tasks of a process, as operators see them."""

    process: ClassVar[str] = "process"

    def __init__(self) -> None:
        self._stage = "received"
        self._facts: dict[str, Any] = {}
        self._history: list[HistoryEntry] = []
        self._tasks: dict[str, PendingTask] = {}
        self._checking = False  # True on the scratch copy an update's validator runs on

    # --- queries --------------------------------------------------------------------------

    @workflow.query
    def status(self) -> WorkflowStatus:
        """Stage, key facts, history of decisions and what the process waits for."""
        info = workflow.info()
        return WorkflowStatus(
            workflow_id=info.workflow_id,
            workflow_type=info.workflow_type,
            stage=self._stage,
            facts=self._facts,
            history=self._history,
            pending_tasks=list(self._tasks.values()),
        )

    @workflow.query
    def pending_tasks(self) -> list[PendingTask]:
        """Human tasks open now: `{task, handler, kind, description, assignee, due_at, example}`.
        Send `example` (edited) as the update `handler` to complete a task: the answer is the
        next step, or why the input was refused."""
        return list(self._tasks.values())

    # --- state changes --------------------------------------------------------------------

    def set_stage(self, stage: str) -> None:
        self._stage = stage
        self._publish()

    def note(self, step: str, actor: str, event: str, **detail: Any) -> None:
        if self._checking and event == "rejected":
            raise Rejection(rejection_problems(step, detail))
        self._history.append(
            HistoryEntry(at=workflow.now(), step=step, actor=actor, event=event, detail=detail)
        )

    def open_task(
        self,
        spec: HumanTask,
        due_at: datetime | None,
        *,
        description: str | None = None,
        example: dict[str, Any] | None = None,
        assigned_to: str | None = None,
    ) -> None:
        """Open `spec`'s task; `assigned_to`, a person's address, names who of the role owns it
        (queries, details and emails show it; the `Assignee` search attribute keeps the role,
        as search attributes carry no personal data)."""
        self._tasks[spec.task] = PendingTask(
            task=spec.task,
            handler=spec.handler,
            kind=spec.kind,
            description=description or spec.description,
            assignee=spec.assignee,
            assigned_to=assigned_to,
            due_at=due_at,
            example=example if example is not None else spec.example,
            opened_at=workflow.now(),
        )
        self._publish()

    def close_task(self, task: str) -> None:
        if self._tasks.pop(task, None) is not None:
            self._publish()

    def is_pending(self, task: str) -> bool:
        return task in self._tasks

    def accept(self, spec: HumanTask, payload: Any, model: type[M]) -> M | None:
        """Validate a handler's input. Rejections are recorded and change nothing else."""
        if spec.task not in self._tasks:
            self.note(
                spec.task,
                "system",
                "rejected",
                reason=f"{spec.task} is not pending (stage {self._stage})",
                input=_shorten(payload),
            )
            return None
        return self.parse(spec.task, payload, model)

    def parse(self, step: str, payload: Any, model: type[M]) -> M | None:
        """Validate a signal's input against `model`; an invalid one is recorded as rejected
        with each bad field named, and changes nothing else."""
        if is_refused_payload(payload):  # sent around the payload codec: not even read
            error = {"field": "", "message": str(payload)}
            self.note(step, "system", "rejected", reason="unencrypted input", errors=[error])
            return None
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            errors = [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or _field_named(e["msg"], model),
                    "message": e["msg"],
                }
                for e in exc.errors()
            ]
            self.note(step, "system", "rejected", reason="invalid input", errors=errors)
            return None

    def close_all_tasks(self) -> None:
        for task in list(self._tasks):
            self.close_task(task)

    def conclude(self, outcome: str, reason: str | None) -> None:
        """The process ends: every open task closes, the outcome shows as facts and stage."""
        self.close_all_tasks()
        self._facts.update(outcome=outcome, reason=reason)
        self.set_stage(outcome)

    def bump_task(self, task: str, **changes: Any) -> None:
        """Update an open task (reminders sent, escalated) where operators see it."""
        if task in self._tasks:
            self._tasks[task] = self._tasks[task].model_copy(update=changes)
            self._publish()

    def task_context(self, spec: HumanTask) -> dict[str, Any]:
        """The open task as the reminder and escalation emails show it."""
        task = self._tasks.get(spec.task)
        return {
            "task": spec.task,
            "description": task.description if task else spec.description,
            "handler": spec.handler,
            "example": task.example if task else spec.example,
            "due_at": task.due_at.isoformat() if task and task.due_at else None,
            "assignee": spec.assignee,
            **({"assigned_to": task.assigned_to} if task and task.assigned_to else {}),
            **({"partner_task": spec.partner_task} if spec.partner_task else {}),
            **({"partner_action": spec.partner_action} if spec.partner_action else {}),
        }

    # --- visibility -------------------------------------------------------------------------

    def _publish(self) -> None:
        if self._checking:
            return
        tasks = list(self._tasks.values())
        due = [t.due_at for t in tasks if t.due_at is not None]
        escalated = any(t.escalated for t in tasks)
        workflow.upsert_search_attributes(
            [
                STAGE.value_set(f"{self._stage}:escalated" if escalated else self._stage),
                PENDING_TASK.value_set([t.task for t in tasks])
                if tasks
                else PENDING_TASK.value_unset(),
                ASSIGNEE.value_set(sorted({t.assignee for t in tasks}))
                if tasks
                else ASSIGNEE.value_unset(),
                TASK_DUE_AT.value_set(min(due)) if due else TASK_DUE_AT.value_unset(),
            ]
        )
        workflow.set_current_details(self._details_markdown(tasks))

    def _details_markdown(self, tasks: list[PendingTask]) -> str:
        lines = [f"**Stage:** `{self._stage}`", ""]
        if not tasks:
            lines.append("Waiting on no one.")
        for t in tasks:
            due = f", due {t.due_at:%Y-%m-%d %H:%M} UTC" if t.due_at else ""
            flag = " **(escalated)**" if t.escalated else ""
            lines += [
                f"**Waiting for {who(t)}:** {t.description}{due}{flag}",
                f"More Actions → Send an Update `{t.handler}` with:",
                "```json",
                json.dumps(t.example, indent=2),
                "```",
                "The answer is the next step, or the reason the input was refused (nothing is "
                "recorded then).",
            ]
        return "\n".join(lines)


def who(task: PendingTask) -> str:
    """Who a task waits for: the role, and the person's address when it is assigned to one."""
    return f"{task.assignee} ({task.assigned_to})" if task.assigned_to else task.assignee


def _field_named(message: str, model: type[BaseModel]) -> str:
    """The field a whole-input error is about (`a rejection needs a reason`: `reason`)."""
    words = set(re.findall(r"[a-z_]+", message))
    return next((name for name in model.model_fields if name in words), "(input)")


def _shorten(payload: Any) -> Any:
    text = json.dumps(payload, default=str)
    return payload if len(text) <= 500 else text[:500] + "..."
