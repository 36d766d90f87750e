"""The task inbox: every pending human task across the running workflows.

`collect_tasks` lists the running workflows that publish a `PendingTask` search attribute
(visibility) and asks each for its `pending_tasks` query, concurrently with a bound. A
workflow that does not answer in time (no worker polling its task queue, say) is still
listed, from its search attributes (task, assignee, due), marked `answered=False`.

The rest are plain functions, testable without Temporal: filters, counts, the command that
completes a task.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from models.tasks import PendingTask
from workflows.human_tasks import HumanTask
from workflows.search_attributes import ASSIGNEE, PENDING_TASK, TASK_DUE_AT

log = logging.getLogger(__name__)

NARROW_QUERY = 'ExecutionStatus = "Running" AND PendingTask IS NOT NULL'
FALLBACK_QUERY = 'ExecutionStatus = "Running"'
# A workflow answers in milliseconds when a worker has it; one that does not answer in time
# (no worker polling its queue, say) is still listed from its search attributes, so the
# page is never held up by it for long.
QUERY_TIMEOUT = timedelta(seconds=1.5)
CONCURRENCY = 32
MAX_WORKFLOWS = 2000


@dataclass(frozen=True)
class TaskRow:
    """One pending task of one workflow, as the inbox shows it."""

    workflow_id: str
    workflow_type: str
    task: str
    handler: str
    assignee: str
    description: str = ""
    assigned_to: str | None = None  # the person's address, when the task has one
    kind: str = "update"
    due_at: datetime | None = None
    escalated: bool = False
    reminders_sent: int = 0
    opened_at: datetime | None = None
    example: dict[str, Any] = field(default_factory=dict)
    answered: bool = True  # False: from search attributes only (the query did not answer)

    @classmethod
    def from_pending(cls, workflow_id: str, workflow_type: str, task: PendingTask) -> TaskRow:
        return cls(
            workflow_id=workflow_id, workflow_type=workflow_type, task=task.task,
            handler=task.handler, assignee=task.assignee, description=task.description,
            assigned_to=task.assigned_to, kind=task.kind, due_at=_aware(task.due_at),
            escalated=task.escalated,
            reminders_sent=task.reminders_sent, opened_at=_aware(task.opened_at),
            example=dict(task.example),
        )  # fmt: skip

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now

    @property
    def example_json(self) -> str:
        return json.dumps(self.example, indent=2, ensure_ascii=False)

    @property
    def act_command(self) -> str:
        return act_command(self.workflow_id, self.handler, self.example)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id, "workflow_type": self.workflow_type, "task": self.task,
            "handler": self.handler, "kind": self.kind, "description": self.description,
            "assignee": self.assignee, "assigned_to": self.assigned_to,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "escalated": self.escalated, "reminders_sent": self.reminders_sent,
            "example": self.example, "answered": self.answered,
            "command": self.act_command if self.answered else None,
        }  # fmt: skip


@dataclass(frozen=True)
class TaskFilters:
    assignee: str | None = None
    process: str | None = None
    overdue: bool = False
    text: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.assignee or self.process or self.overdue or self.text)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def act_command(workflow_id: str, handler: str, example: dict[str, Any]) -> str:
    """The shell command that completes the task with its example input."""
    data = json.dumps(example, ensure_ascii=False)
    return (
        f"partnerflow act {shlex.quote(workflow_id)} {shlex.quote(handler)} "
        f"--input {shlex.quote(data)}"
    )


def workflow_ui_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    namespace_url = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
    return f"{namespace_url}/workflows/{quote(workflow_id, safe='')}"


@functools.cache
def _human_tasks() -> dict[tuple[str, str], HumanTask]:
    from workers.main import WORKFLOWS  # deferred: the CLI's other commands do not need it

    found = {}
    for cls in WORKFLOWS:
        definition = getattr(cls, "__temporal_workflow_definition", None)
        name = definition.name if definition is not None else cls.__name__
        for spec in getattr(cls, "human_tasks", ()):
            found[(name, spec.task)] = spec
    return found


def human_tasks_of(workflow_type: str | None) -> list[HumanTask]:
    """Every task a workflow type declares."""
    return [spec for (kind, _), spec in _human_tasks().items() if kind == workflow_type]


def human_task(workflow_type: str, task: str) -> HumanTask | None:
    """The declaration of a workflow type's task (its input model), if this code has it."""
    return _human_tasks().get((workflow_type, task))


@functools.cache
def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a task's input (cached: the inbox draws a form per task)."""
    return model.model_json_schema()


def filter_tasks(rows: list[TaskRow], filters: TaskFilters, now: datetime) -> list[TaskRow]:
    """The rows that match every given filter (`assignee`: the role, or the address of the
    person a task is assigned to); `text` matches (case-insensitive) the workflow id,
    process, task, handler, description, assignee and that address."""
    needle = (filters.text or "").strip().casefold()
    result = []
    for row in rows:
        if filters.assignee and filters.assignee not in (row.assignee, row.assigned_to):
            continue
        if filters.process and row.workflow_type != filters.process:
            continue
        if filters.overdue and not row.overdue(now):
            continue
        if needle:
            haystack = " ".join(
                (
                    row.workflow_id,
                    row.workflow_type,
                    row.task,
                    row.handler,
                    row.description,
                    row.assignee,
                    row.assigned_to or "",
                )
            ).casefold()
            if needle not in haystack:
                continue
        result.append(row)
    return result


def sort_tasks(rows: list[TaskRow]) -> list[TaskRow]:
    """Earliest due first (tasks without a due date last), then by workflow and task."""
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.due_at or far, r.workflow_id, r.task))


def counts_by_assignee(rows: list[TaskRow], now: datetime) -> list[tuple[str, int, int]]:
    """(assignee, tasks, overdue tasks), most tasks first."""
    total = Counter(r.assignee for r in rows)
    late = Counter(r.assignee for r in rows if r.overdue(now))
    return sorted(((a, n, late[a]) for a, n in total.items()), key=lambda item: (-item[1], item[0]))


def choices(rows: list[TaskRow]) -> tuple[list[str], list[str]]:
    """The assignees and processes to offer as filters."""
    return sorted({r.assignee for r in rows}), sorted({r.workflow_type for r in rows})


# --- Temporal ----------------------------------------------------------------------------------


@dataclass
class Inbox:
    rows: list[TaskRow]
    workflows: int = 0
    unanswered: list[str] = field(default_factory=list)
    query: str = NARROW_QUERY


async def _list_running(client: Client, limit: int) -> tuple[list[Any], str]:
    for query in (NARROW_QUERY, FALLBACK_QUERY):
        try:
            return [w async for w in client.list_workflows(query, limit=limit)], query
        except RPCError as exc:  # a visibility store without IS NOT NULL
            log.info("visibility query %r refused (%s); trying a wider one", query, exc)
    return [], FALLBACK_QUERY


def _rows_from_attributes(execution: Any) -> list[TaskRow]:
    attrs = execution.typed_search_attributes
    tasks = attrs.get(PENDING_TASK) or []
    assignees = attrs.get(ASSIGNEE) or []
    due = _aware(attrs.get(TASK_DUE_AT))
    return [
        TaskRow(
            workflow_id=execution.id,
            workflow_type=execution.workflow_type,
            task=task,
            handler=task,
            assignee=assignees[i]
            if i < len(assignees)
            else (assignees[0] if assignees else "unknown"),
            description=(
                "The workflow did not answer its pending_tasks query; see it in the Temporal UI."
            ),
            due_at=due,
            answered=False,
        )  # fmt: skip
        for i, task in enumerate(tasks)
    ]


async def collect_tasks(
    client: Client,
    *,
    concurrency: int = CONCURRENCY,
    timeout: timedelta = QUERY_TIMEOUT,
    limit: int = MAX_WORKFLOWS,
    query: str | None = None,
) -> Inbox:
    """Every pending task of every running workflow (see the module docstring), or of the
    running workflows a visibility `query` names (the partner portal: one partner's)."""
    if query is None:
        executions, query = await _list_running(client, limit)
    else:
        executions = [w async for w in client.list_workflows(query, limit=limit)]
    gate = asyncio.Semaphore(concurrency)

    async def ask(execution: Any) -> tuple[Any, list[TaskRow] | None]:
        async with gate:
            try:
                raw = await client.get_workflow_handle(execution.id, run_id=execution.run_id).query(
                    "pending_tasks", rpc_timeout=timeout
                )
            except Exception as exc:  # no worker, an unknown query, closed meanwhile
                log.info("pending_tasks of %s: %s", execution.id, exc)
                return execution, None
        rows = []
        for item in raw or []:
            try:
                rows.append(
                    TaskRow.from_pending(
                        execution.id, execution.workflow_type, PendingTask.model_validate(item)
                    )
                )
            except ValidationError as exc:
                log.warning("%s published a malformed pending task: %s", execution.id, exc)
        return execution, rows

    inbox = Inbox(rows=[], workflows=len(executions), query=query)
    for execution, rows in await asyncio.gather(*(ask(e) for e in executions)):
        if rows is None:
            fallback = _rows_from_attributes(execution)
            if fallback:
                inbox.unanswered.append(execution.id)
            inbox.rows.extend(fallback)
        else:
            inbox.rows.extend(rows)
    inbox.rows = sort_tasks(inbox.rows)
    return inbox
