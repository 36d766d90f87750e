"""The human-task protocol, shared by every process workflow.

A workflow declares each human step once as a `HumanTask` (task, handler, assignee,
description, JSON example, input model). `ProcessWorkflow` then gives it:

- the `status` and `pending_tasks` queries (PRODUCT.md, "Self-describing contract");
- the `Stage`, `PendingTask`, `Assignee` and `TaskDueAt` search attributes and the
  workflow's current details in the Temporal UI, kept current;
- `accept()`: validation of a signal's JSON input; an invalid input or a task that is not
  pending is rejected, recorded in the history, and changes nothing else;
- `wait_for()`: waiting on a task with reminders before its deadline, an escalation after
  it, and an optional expiry;
- the `email_event` signal (SendGrid webhook): a bounced, blocked or dropped process email
  becomes the operations task `fix_email_delivery`, completed by `email_delivery_fixed`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from models.contracts import EmailDeliveryFixed, EmailEvent, EmailRequest
    from models.failed_steps import FailedStepResolution
    from models.tasks import HistoryEntry, PendingTask, WorkflowStatus

from workflows import _activities as act
from workflows.search_attributes import ASSIGNEE, PENDING_TASK, STAGE, TASK_DUE_AT

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Marks histories in which a permanently failed step opened `resolve_failed_step` (before,
# the error failed the workflow): replaying an older failed run keeps failing it.
FAILED_STEP_TASK_PATCH = "failed-step-task"


@dataclass(frozen=True)
class HumanTask:
    """A human step, declared once: what it is, who owns it, how to complete it."""

    task: str
    handler: str
    assignee: str
    description: str
    model: type[BaseModel]
    example: dict[str, Any]
    kind: Literal["signal", "update"] = "signal"


FIX_EMAIL_DELIVERY = HumanTask(
    task="fix_email_delivery",
    handler="email_delivery_fixed",
    assignee="operations",
    description="A process email was not delivered: correct the contact or resend it, then confirm",
    model=EmailDeliveryFixed,
    example={
        "decided_by": "partners@mattermost.com",
        "action": "contact_updated",
        "note": "Corrected the address with the partner and resent the email by hand",
    },
)


RESOLVE_FAILED_STEP = HumanTask(
    task="resolve_failed_step",
    handler="resolve_failed_step",
    assignee="operations",
    description="A step failed for good (an outside system refused it): fix the cause, then "
    "retry the step (or skip it where allowed)",
    model=FailedStepResolution,
    example={
        "decided_by": "operations@mattermost.com",
        "action": "retry",
        "reason": "fixed the customer's data",
    },
)


class ProcessWorkflow:
    """Base class of the process workflows: state that operators can see and act on."""

    process: ClassVar[str] = "process"

    def __init__(self) -> None:
        self._stage = "received"
        self._facts: dict[str, Any] = {}
        self._history: list[HistoryEntry] = []
        self._tasks: dict[str, PendingTask] = {}
        self._step_resolution: FailedStepResolution | None = None
        self._failed_step_skippable = True
        self._email_events_seen: set[str] = set()
        self._undelivered: list[EmailEvent] = []

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
        Send `example` (edited) to `handler` to complete a task."""
        return list(self._tasks.values())

    # --- email delivery (every process) ----------------------------------------------------

    @workflow.signal
    def email_event(self, payload: Any) -> None:
        """A process email of this workflow bounced, was blocked or was dropped (sent by the
        SendGrid event webhook; operators do not send it). Opens the operations task
        `fix_email_delivery`; the same `sg_event_id` twice changes nothing:
        `{"sg_event_id": "sg_1", "event": "bounce", "email": "anna@example.com",
        "reason": "550 5.1.1 mailbox unavailable", "step": "acceptance:request",
        "timestamp": 1767225600}`"""
        event = self.parse("email_event", payload, EmailEvent)
        if event is None or event.sg_event_id in self._email_events_seen:
            return
        self._email_events_seen.add(event.sg_event_id)
        self._undelivered.append(event)
        self.note(
            event.step,
            "sendgrid",
            f"email_{event.event}",
            email=event.email,
            reason=event.reason,
            sg_event_id=event.sg_event_id,
        )
        lines = [
            f"step {e.step} to {e.email} ({e.event}: {e.reason or 'no reason given'})"
            for e in self._undelivered
        ]
        self.open_task(
            FIX_EMAIL_DELIVERY,
            None,
            description=(
                f"{'An email' if len(lines) == 1 else f'{len(lines)} emails'} of this process "
                f"could not be delivered: {'; '.join(lines)}. Correct the contact or resend "
                "it by hand, then send `email_delivery_fixed`"
            ),
            example={**FIX_EMAIL_DELIVERY.example, "decided_by": _operations_address()},
        )

    @workflow.signal
    def email_delivery_fixed(self, payload: Any) -> None:
        """Operations dealt with the undelivered email(s) of task `fix_email_delivery`
        (action `resent`, `contact_updated` or `ignored`); closes the task, the process goes on
        as before: `{"decided_by": "partners@mattermost.com", "action": "contact_updated",
        "note": "Corrected the address with the partner and resent the email by hand"}`"""
        fixed = self.accept(FIX_EMAIL_DELIVERY, payload, EmailDeliveryFixed)
        if fixed is None:
            return
        steps = [e.step for e in self._undelivered]
        self._undelivered = []
        self.close_task(FIX_EMAIL_DELIVERY.task)
        self.note(
            FIX_EMAIL_DELIVERY.task, fixed.decided_by, fixed.action, note=fixed.note, steps=steps
        )

    # --- steps that failed for good (every process) -----------------------------------------

    @workflow.signal
    def resolve_failed_step(self, payload: Any) -> None:
        """Operations decides on a step an outside system refused for good, after fixing the
        cause: `{"decided_by": "operations@mattermost.com", "action": "retry"}` (or
        `"action": "skip"` where the step allows it; `reason` optional)."""
        resolution = self.accept(RESOLVE_FAILED_STEP, payload, FailedStepResolution)
        if resolution is None or self._step_resolution is not None:
            return
        if resolution.action == "skip" and not self._failed_step_skippable:
            self.note(
                RESOLVE_FAILED_STEP.task,
                resolution.decided_by,
                "rejected",
                reason="this step cannot be skipped: fix the cause and retry",
            )
            return
        self._step_resolution = resolution

    async def run_step(
        self, step: str, call: Callable[[], Awaitable[T]], *, skippable: bool = True
    ) -> T | None:
        """Run an activity call; when it fails for good (a non-retryable error: retryable
        ones are retried by the activity's policy), open `resolve_failed_step` and wait for
        operations to retry it (as often as needed) or skip it (then returns None)."""
        while True:
            try:
                return await call()
            except ActivityError as exc:
                if isinstance(exc.cause, CancelledError) or not workflow.patched(
                    FAILED_STEP_TASK_PATCH
                ):
                    raise
                reason = str(exc.cause or exc)
            self.note(step, "system", "step_failed", reason=reason)
            self._step_resolution, self._failed_step_skippable = None, skippable
            actions = "retry or skip it" if skippable else "retry it"
            self.open_task(
                RESOLVE_FAILED_STEP,
                None,
                description=f"Step {step} failed for good: {reason}. Fix the cause, then {actions}.",
                example={**RESOLVE_FAILED_STEP.example, "reason": f"fixed: {reason}"[:200]},
            )
            await workflow.wait_condition(lambda: self._step_resolution is not None)
            self.close_task(RESOLVE_FAILED_STEP.task)
            resolution = self._step_resolution
            assert resolution is not None
            self.note(step, resolution.decided_by, resolution.action, reason=resolution.reason)
            if resolution.action == "skip":
                return None

    # --- state changes --------------------------------------------------------------------

    def set_stage(self, stage: str) -> None:
        self._stage = stage
        self._publish()

    def note(self, step: str, actor: str, event: str, **detail: Any) -> None:
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
    ) -> None:
        self._tasks[spec.task] = PendingTask(
            task=spec.task,
            handler=spec.handler,
            kind=spec.kind,
            description=description or spec.description,
            assignee=spec.assignee,
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
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "(input)", "message": e["msg"]}
                for e in exc.errors()
            ]
            self.note(step, "system", "rejected", reason="invalid input", errors=errors)
            return None

    # --- waiting with reminders, escalation and expiry -----------------------------------

    async def wait_for(
        self,
        spec: HumanTask,
        done: Callable[[], bool],
        *,
        reminders: Sequence[datetime] = (),
        due_at: datetime | None = None,
        expires_at: datetime | None = None,
        remind: Callable[[int], Awaitable[None]] | None = None,
        escalate: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Wait until `done()`; remind at each reminder time, escalate at `due_at`.
        Returns False if `expires_at` passes first."""
        events: list[tuple[datetime, str, int]] = [
            (t, "remind", i + 1) for i, t in enumerate(reminders)
        ]
        if due_at is not None:
            events.append((due_at, "escalate", 0))
        if expires_at is not None:
            events.append((expires_at, "expire", 0))
        for at, kind, number in sorted(events, key=lambda e: e[0]):
            if await self._wait_until(done, at, f"{spec.task}: {kind}"):
                return True
            if kind == "remind":
                await (remind or self._default_reminder(spec))(number)
                self._bump(spec.task, reminders_sent=number)
                self.note(spec.task, "system", "reminded", number=number)
            elif kind == "escalate":
                await (escalate or self._default_escalation(spec))()
                self._bump(spec.task, escalated=True)
                self.note(spec.task, "system", "escalated", due_at=at.isoformat())
            else:
                return False
        await workflow.wait_condition(done)
        return True

    async def _wait_until(self, done: Callable[[], bool], at: datetime, summary: str) -> bool:
        remaining = at - workflow.now()
        if done():
            return True
        if remaining.total_seconds() <= 0:
            return False
        try:
            await workflow.wait_condition(done, timeout=remaining, timeout_summary=summary)
            return True
        except TimeoutError:
            return done()

    def _bump(self, task: str, **changes: Any) -> None:
        if task in self._tasks:
            self._tasks[task] = self._tasks[task].model_copy(update=changes)
            self._publish()

    def _default_reminder(self, spec: HumanTask) -> Callable[[int], Awaitable[None]]:
        async def remind(number: int) -> None:
            await self.email(
                f"{spec.task}:reminder:{number}",
                [f"role:{spec.assignee}"],
                "task_reminder",
                self._task_context(spec),
            )

        return remind

    def _default_escalation(self, spec: HumanTask) -> Callable[[], Awaitable[None]]:
        async def escalate() -> None:
            await self.email(
                f"{spec.task}:escalation",
                [f"role:{spec.assignee}", "role:operations"],
                "task_escalation",
                self._task_context(spec),
            )

        return escalate

    def _task_context(self, spec: HumanTask) -> dict[str, Any]:
        task = self._tasks.get(spec.task)
        return {
            "task": spec.task,
            "description": task.description if task else spec.description,
            "handler": spec.handler,
            "example": task.example if task else spec.example,
            "due_at": task.due_at.isoformat() if task and task.due_at else None,
            "assignee": spec.assignee,
        }

    async def email(
        self, step: str, to: list[str], template: str, context: dict[str, Any], **extra: Any
    ) -> None:
        """Send one process email; the (workflow id, step) pair is sent at most once."""
        workflow_id = workflow.info().workflow_id
        request = EmailRequest(
            idempotency_key=f"{workflow_id}:{step}",
            workflow_id=workflow_id,
            step=step,
            to=to,
            template=template,
            context=context,
            **extra,
        )
        try:
            receipt = await act.send_email(request)
            if receipt.status == "unconfirmed":  # the provider timed out: never sent twice
                self.note(step, "system", "email_unconfirmed", template=template, to=to)
        except ActivityError as exc:
            # Only permanent failures get here (the provider refused the message): the
            # process goes on and operators see the failure in its history and facts.
            reason = str(exc.cause or exc)
            self.note(step, "system", "email_failed", template=template, to=to, reason=reason)
            self._facts.setdefault("email_failures", []).append({"step": step, "reason": reason})

    # --- visibility -------------------------------------------------------------------------

    def _publish(self) -> None:
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
                f"**Waiting for {t.assignee}:** {t.description}{due}{flag}",
                f"Send signal `{t.handler}` with:",
                "```json",
                json.dumps(t.example, indent=2),
                "```",
            ]
        return "\n".join(lines)


def _operations_address() -> str:
    """Who decides in the task's example: the vendor's partner team of this process."""
    rocket = workflow.info().workflow_type.startswith("RocketChat")
    return "partners@rocket.chat" if rocket else FIX_EMAIL_DELIVERY.example["decided_by"]


def _shorten(payload: Any) -> Any:
    text = json.dumps(payload, default=str)
    return payload if len(text) <= 500 else text[:500] + "..."
