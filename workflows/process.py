"""The base of every process workflow: state that operators can see and act on.

`ProcessWorkflow` gives each process:

- the `status` and `pending_tasks` queries (PRODUCT.md, "Self-describing contract");
- the `Stage`, `PendingTask`, `Assignee` and `TaskDueAt` search attributes and the
  workflow's current details in the Temporal UI, kept current;
- `accept()`: validation of a signal's JSON input; an invalid input or a task that is not
  pending is rejected, recorded in the history, and changes nothing else;
- `wait_for()`: waiting on a task with its `Deadline` (reminders, escalation, expiry), kept
  by the process's `TaskClock`;
- `decide()` (a decision noted and kept in the audit records), `screen()` (the embargo
  check), `conclude()` (every open task closed, the outcome shown);
- the `email_event` signal (SendGrid webhook): a bounced, blocked or dropped process email
  becomes the operations task `fix_email_delivery`, completed by `email_delivery_fixed`;
- `run_step()`: a step an outside system refused for good becomes the operations task
  `resolve_failed_step` (retry or skip).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        DecisionRecord,
        EmailDeliveryFixed,
        EmailEvent,
        EmailReceipt,
        EmailRequest,
        PartnerRecord,
        ScreeningRequest,
        ScreeningResult,
    )
    from models.failed_steps import FailedStepResolution
    from models.notices import KINDS, notice
    from models.tasks import HistoryEntry, PendingTask, WorkflowStatus

from workflows.calls import EXTERNAL, LOCAL, RECORD, call
from workflows.deadlines import Deadline, TaskClock
from workflows.human_tasks import FIX_EMAIL_DELIVERY, RESOLVE_FAILED_STEP, HumanTask
from workflows.search_attributes import ASSIGNEE, PENDING_TASK, STAGE, TASK_DUE_AT

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Marks histories in which a permanently failed step opened `resolve_failed_step` (before,
# the error failed the workflow): replaying an older failed run keeps failing it.
FAILED_STEP_TASK_PATCH = "failed-step-task"


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
        self.clock = TaskClock(self)

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
                description=f"Step {step} failed for good: {reason}. "
                f"Fix the cause, then {actions}.",
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
        }

    async def wait_for(
        self, spec: HumanTask, done: Callable[[], bool], deadline: Deadline | None = None
    ) -> bool:
        """Wait until `done()` with the task's reminders, escalation and expiry (see
        `TaskClock`); False when it expired first."""
        return await self.clock.wait(spec, done, deadline or Deadline())

    # --- decisions and screening ------------------------------------------------------------

    async def decide(self, step: str, actor: str, decision: str, **detail: Any) -> None:
        """Note a decision in the history and keep it in the audit records (once)."""
        workflow_id = workflow.info().workflow_id
        self.note(step, actor, decision, **detail)
        await call(
            "record_decision",
            DecisionRecord(
                idempotency_key=f"{workflow_id}:{step}:{decision}",
                workflow_id=workflow_id,
                step=step,
                actor=actor,
                decision=decision,
                detail=detail,
                at=workflow.now(),
            ),
            options=RECORD,
            summary=f"audit: {step} {decision}",
        )

    async def screen(
        self, party: str, country: str, subdivision: str | None = None, *, step: str
    ) -> str | None:
        """The embargo check of `party`: None when allowed, else the refusal reason (decided
        as `step`). The result shows in the facts under `step` (`:` read as `_`)."""
        result = await call(
            "screen_party",
            ScreeningRequest(
                country=country, subdivision=subdivision, party=party, on=workflow.now()
            ),
            options=LOCAL,
            result_type=ScreeningResult,
            summary=f"embargo screening: {party} ({country})",
        )
        self._facts[step.replace(":", "_")] = {
            "allowed": result.allowed,
            "data_version": result.data_version,
        }
        if result.allowed:
            return None
        reason = result.reason or f"{party} is in a country or region under U.S. embargo"
        await self.decide(step, "system", "refused", reason=reason, program=result.program)
        return reason

    async def record_partner(self, record: PartnerRecord) -> None:
        """Create or update the partner's record (status, discount, attributes)."""
        await call(
            "upsert_partner",
            record,
            options=RECORD,
            summary=f"partner {record.partner_id}: {record.status}",
        )

    async def find_partner(self, partner_id: str) -> PartnerRecord | None:
        """The partner's record, if there is one."""
        found: PartnerRecord | None = await call(
            "get_partner",
            partner_id,
            options=RECORD,
            result_type=PartnerRecord | None,
            summary=f"look up partner {partner_id}",
        )
        return found

    # --- emails -----------------------------------------------------------------------------

    async def notify(
        self, step: str, to: list[str], kind: str, context: dict[str, Any], **extra: Any
    ) -> None:
        """A partner-lifecycle email: a `models.notices` kind is rendered by the
        `partner_notice` template; any other name is an email template of its own."""
        if kind in KINDS:
            await self.email(step, to, "partner_notice", notice(kind, context), **extra)
        else:
            await self.email(step, to, kind, context, **extra)

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
            receipt = await call(
                "send_email",
                request,
                options=EXTERNAL,
                result_type=EmailReceipt,
                summary=f"email {template} ({step})",
            )
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
