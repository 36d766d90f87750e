"""Workflow Updates for human tasks: every task's handler is also an Update of the same name,
with a validator, so whoever decides (the Temporal UI's *Send an Update*, `partnerflow act`,
the pages) gets an answer at once.

- The validator runs the task's own signal handler on a scratch copy of the workflow's state:
  whatever the signal would reject (invalid input, task not pending, wrong stage, an amount
  that differs from the amount due, ...) the update rejects with the same reasons, each bad
  field named, and nothing reaches the workflow's history. Input the signal would ignore (the
  task was already decided) is rejected too.
- The update then applies the signal handler to the real state and waits until the process
  acted on it (it waits for a person again, or ended; bounded by `SETTLE`), and answers with
  a `TaskResult`: what was decided, the new stage, what the process waits for next.

The signal handlers stay as they are: machines and old histories keep using them.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.tasks import NextTask, PendingTask, TaskResult

from workflows.human_tasks import HumanTask

# How long an update waits for the process to act on the decision before it answers anyway
# (`settled: false`); the process keeps going either way.
SETTLE = timedelta(seconds=10)

# Input fields that name who decided, in the order they are looked for.
ACTOR_FIELDS = (
    "decided_by",
    "reviewer",
    "recorded_by",
    "prepared_by",
    "submitted_by",
    "answered_by",
    "agreed_by",
    "confirmed_by",
    "created_by",
    "certified_by",
    "done_by",
    "account_manager",
    "assigned_by",
    "reported_by",
    "approver",
    "provided_by",
    "held_by",
    "contacted_by",
    "email",
)
DECISION_FIELDS = ("decision", "action", "outcome")
_IDENTITY_EQ: Any = object.__eq__


class Rejection(Exception):
    """A signal handler refused its input while being checked (see `ProcessState.note`)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(_lines(problems))
        self.problems = problems


def rejection_problems(step: str, detail: dict[str, Any]) -> list[dict[str, str]]:
    """The problems a `rejected` history entry describes, each with the field it is about."""
    errors = detail.get("errors")
    if isinstance(errors, list) and errors:
        return [{"field": str(e["field"]), "message": str(e["message"])} for e in errors]
    field = str(detail.get("field") or "")  # "" when the process's state is the problem
    return [{"field": field, "message": str(detail.get("reason") or "rejected")}]


def register_updates(cls: type, specs: tuple[HumanTask, ...]) -> None:
    """Add one Workflow Update per handler of `specs` to `cls` (unless a base has it), named
    like the handler and applying the signal handler of that name."""
    handlers = dict.fromkeys(spec.handler for spec in specs)
    for handler in handlers:
        attribute = f"{handler}_update"
        if any(attribute in vars(klass) for klass in cls.__mro__):
            continue
        signal_fn = getattr(cls, handler, None)
        if not callable(signal_fn) or not hasattr(signal_fn, "__temporal_signal_definition"):
            raise TypeError(f"{cls.__name__}: no signal handler {handler!r} for its update")
        setattr(cls, attribute, _make_update(handler, signal_fn))


def _make_update(handler: str, signal_fn: Callable[[Any, Any], None]) -> Any:
    doc = inspect.cleandoc(signal_fn.__doc__ or handler)
    description = (
        f"{doc}\n\nAnswers with the decision, the new stage and the next task; a wrong input "
        "is refused with the reason (nothing is recorded)."
    )

    async def apply(self: Any, payload: Any) -> TaskResult:
        return await _apply(self, handler, signal_fn, payload)

    def validate(self: Any, payload: Any) -> None:
        check(self, handler, signal_fn, payload)

    apply.__name__ = apply.__qualname__ = f"{handler}_update"
    apply.__doc__ = description
    validate.__name__ = validate.__qualname__ = f"validate_{handler}"
    validate.__doc__ = f"Refuses input that `{handler}` would reject, naming each bad field."
    update = workflow.update(name=handler, description=description)(apply)
    update.validator(validate)
    return update


def check(self: Any, handler: str, signal_fn: Callable[[Any, Any], None], payload: Any) -> None:
    """Run the signal handler on a scratch copy of the state (the real state is the baseline:
    nothing touches it); raise the handler's rejection, if any."""
    scratch = _scratch_copy(self)
    scratch._checking = True
    try:
        signal_fn(scratch, payload)
    except Rejection as rejection:
        raise _refusal(handler, rejection.problems) from None
    if not _changed(self, scratch):
        raise _refusal(
            handler,
            [
                {
                    "field": "",
                    "message": f"nothing to decide: the task was already decided or is not "
                    f"open (stage {self._stage})",
                }
            ],
        )


def _refusal(handler: str, problems: list[dict[str, str]]) -> ApplicationError:
    return ApplicationError(
        f"{handler} rejected: {_lines(problems)}", problems, type="InvalidInput", non_retryable=True
    )


def _lines(problems: list[dict[str, str]]) -> str:
    return "; ".join(
        f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems
    )


async def _apply(
    self: Any, handler: str, signal_fn: Callable[[Any, Any], None], payload: Any
) -> TaskResult:
    task = _task_for(self, handler, payload)
    seen = len(self._history)
    signal_fn(self, payload)
    rejected = [h for h in self._history[seen:] if h.event == "rejected"]
    if rejected:  # the state changed between the validator and the handler
        problems = [p for h in rejected for p in rejection_problems(h.step, h.detail)]
        raise _refusal(handler, problems)
    settled = True
    try:
        await workflow.wait_condition(
            lambda: self.settled() or self.ended(),
            timeout=SETTLE,
            timeout_summary=f"{handler}: answer once the process acted",
        )
    except TimeoutError:
        settled = False
    decision = next(
        (str(payload[f]) for f in DECISION_FIELDS if isinstance(payload, dict) and payload.get(f)),
        handler,
    )
    actor = next(
        (str(payload[f]) for f in ACTOR_FIELDS if isinstance(payload, dict) and payload.get(f)),
        None,
    )
    return TaskResult(
        workflow_id=workflow.info().workflow_id,
        handler=handler,
        task=task,
        decided_by=actor,
        decision=decision,
        stage=self._stage,
        waiting_for=[
            NextTask(
                task=t.task,
                handler=t.handler,
                assignee=t.assignee,
                description=t.description,
                due_at=t.due_at,
            )
            for t in self._tasks.values()
        ],
        ended=self.ended(),
        settled=settled,
    )


def _task_for(self: Any, handler: str, payload: Any) -> str | None:
    """The open task the input completes: of the tasks with this handler, the one whose
    example shares the most values with the input (a signature's agreement, a benefit)."""
    tasks: list[PendingTask] = [t for t in self._tasks.values() if t.handler == handler]
    if not tasks:
        return None
    given = payload if isinstance(payload, dict) else {}

    def shared(task: PendingTask) -> int:
        return sum(1 for k, v in task.example.items() if k in given and given[k] == v)

    return max(tasks, key=shared).task


def _scratch_copy(obj: Any) -> Any:
    """A copy of the workflow object to run a handler on without touching the real state
    (attributes that cannot be copied, e.g. handles, are shared: handlers only read them)."""
    clone = object.__new__(type(obj))
    memo: dict[int, Any] = {id(obj): clone}
    for key, value in vars(obj).items():
        try:
            setattr(clone, key, copy.deepcopy(value, memo))
        except Exception:
            setattr(clone, key, value)
    return clone


def _changed(before: Any, after: Any) -> bool:
    """Did the handler change any data of the state (or note anything)?"""
    for key, value in vars(after).items():
        if key == "_checking":
            continue
        old = vars(before).get(key)
        if type(value).__eq__ is _IDENTITY_EQ:  # not data (a clock, a handle)
            continue
        try:
            if old != value:
                return True
        except Exception:
            continue
    return False
