"""Deadlines of human tasks: when the owner is reminded, when the task escalates, when it
expires, and who hears about it.

A process describes each wait with a `Deadline` and hands it to its `TaskClock`, which waits
for the task and sends the reminders and the escalation on time (by default emails to the
task's owner role, and to operations on escalation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import DeadlineRequest

from workflows.calls import LOCAL, CallOptions, call
from workflows.human_tasks import HumanTask

Remind = Callable[[int], Awaitable[None]]
Escalate = Callable[[], Awaitable[None]]


# A workflow whose instance sets this attribute True (asked with its own `workflow.patched`
# at the start of its run) computes deadlines with an ordinary activity: local activities
# in concurrent branches (`asyncio.gather`) may resolve in another order on replay than
# they did when the workflow ran (temporalio 1.35, sdk-python issue 1578), and the history
# then no longer replays.
DEADLINES_AS_ACTIVITIES = "deadlines_as_activities"
DEADLINE_ACTIVITY = CallOptions(LOCAL.timeout, LOCAL.retry)  # the same tries, not local


async def business_deadline(start: datetime, business_days: int, calendar: str) -> datetime:
    """`start` plus a number of business days of a country's calendar."""
    ordinary = getattr(workflow.instance(), DEADLINES_AS_ACTIVITIES, False) is True
    return await call(
        "business_deadline",
        DeadlineRequest(start=start, business_days=business_days, country=calendar),
        options=DEADLINE_ACTIVITY if ordinary else LOCAL,
        result_type=datetime,
        summary=f"deadline: {business_days} business day(s) ({calendar})",
    )


@dataclass(frozen=True)
class Deadline:
    """When a waiting task reminds its owner, escalates (`due_at`) and expires; `remind` and
    `escalate` replace the default emails to the owner role."""

    reminders: Sequence[datetime] = ()
    due_at: datetime | None = None
    expires_at: datetime | None = None
    remind: Remind | None = None
    escalate: Escalate | None = None

    def upcoming(self, now: datetime) -> Deadline:
        """The reminders and escalation still ahead of `now` (the expiry is kept)."""
        due_at = self.due_at if self.due_at is None or self.due_at > now else None
        reminders = [t for t in self.reminders if t > now]
        return Deadline(reminders, due_at, self.expires_at, self.remind, self.escalate)


class TaskOwner(Protocol):
    """What the clock needs from its process: its history, its tasks and its emails."""

    def note(self, step: str, actor: str, event: str, **detail: Any) -> None: ...

    def bump_task(self, task: str, **changes: Any) -> None: ...

    def task_context(self, spec: HumanTask) -> dict[str, Any]: ...

    async def email(
        self, step: str, to: list[str], template: str, context: dict[str, Any], **extra: Any
    ) -> None: ...

    def task_fact(
        self,
        spec: HumanTask,
        event: str,
        due_at: datetime | None,
        actor: str = "system",
        number: int = 0,
    ) -> None: ...


class TaskClock:
    """Waits on a process's human tasks with their reminders, escalation and expiry.

    `interruption`, when set, ends every wait early (the wait then returns False) once it
    holds: a withdrawal, the customer buying online; reminders and escalations already past
    are then not sent again."""

    def __init__(self, owner: TaskOwner) -> None:
        self._owner = owner
        self.interruption: Callable[[], bool] | None = None

    def interrupted(self) -> bool:
        """An interrupting event arrived while waits could be interrupted."""
        return self.interruption is not None and self.interruption()

    async def wait(self, spec: HumanTask, done: Callable[[], bool], deadline: Deadline) -> bool:
        """Wait until `done()`; False if the task expired (or the wait was interrupted)."""
        interruption = self.interruption
        if interruption is None:
            return await self._wait(spec, done, deadline)
        finished = await self._wait(
            spec, lambda: done() or interruption(), deadline.upcoming(workflow.now())
        )
        return finished and done()

    async def _wait(self, spec: HumanTask, done: Callable[[], bool], deadline: Deadline) -> bool:
        events: list[tuple[datetime, str, int]] = [
            (t, "remind", i + 1) for i, t in enumerate(deadline.reminders)
        ]
        if deadline.due_at is not None:
            events.append((deadline.due_at, "escalate", 0))
        if deadline.expires_at is not None:
            events.append((deadline.expires_at, "expire", 0))
        owner = self._owner
        for at, kind, number in sorted(events, key=lambda e: e[0]):
            if await wait_until(done, at, f"{spec.task}: {kind}"):
                return True
            if kind == "remind":
                await (deadline.remind or self.reminder_email(spec))(number)
                owner.bump_task(spec.task, reminders_sent=number)
                owner.note(spec.task, "system", "reminded", number=number)
                owner.task_fact(spec, "reminded", deadline.due_at, number=number)
            elif kind == "escalate":
                await (deadline.escalate or self.escalation_email(spec))()
                owner.bump_task(spec.task, escalated=True)
                owner.note(spec.task, "system", "escalated", due_at=at.isoformat())
                owner.task_fact(spec, "escalated", deadline.due_at)
            else:
                return False
        await workflow.wait_condition(done)
        return True

    def reminder_email(
        self,
        spec: HumanTask,
        *,
        to: list[str] | None = None,
        step: str | None = None,
        **extra: Any,
    ) -> Remind:
        """Reminder number n by the `task_reminder` email, to the owner role unless `to`;
        the email step is `{step or task}:reminder:{n}`. A partner's task, or one `to` a
        partner, is reminded by `partner_task_reminder` instead (no Temporal UI, no CLI)."""
        template = partner_template("task_reminder", spec, to)

        async def remind(number: int) -> None:
            await self._owner.email(
                f"{step or spec.task}:reminder:{number}",
                to or [f"role:{spec.assignee}"],
                template,
                self._owner.task_context(spec),
                **extra,
            )

        return remind

    def escalation_email(
        self,
        spec: HumanTask,
        *,
        to: list[str] | None = None,
        step: str | None = None,
        **extra: Any,
    ) -> Escalate:
        """The `task_escalation` email, to the owner role and operations unless `to`; the
        email step is `{step or task}:escalation`. A partner's task, or one `to` a partner, is
        escalated by `partner_task_escalation` instead."""
        template = partner_template("task_escalation", spec, to)

        async def escalate() -> None:
            await self._owner.email(
                f"{step or spec.task}:escalation",
                to or [f"role:{spec.assignee}", "role:operations"],
                template,
                self._owner.task_context(spec),
                **extra,
            )

        return escalate


def partner_template(internal: str, spec: HumanTask, to: Sequence[str] | None) -> str:
    """`internal` (`task_reminder`, `task_escalation`: they show the Temporal UI and the CLI)
    for operators; its `partner_` twin when the task is the partner's or the email goes to an
    address rather than an internal role."""
    to_partner = any(not address.startswith("role:") for address in to or ())
    return f"partner_{internal}" if spec.partner_facing or to_partner else internal


async def wait_until(done: Callable[[], bool], at: datetime, summary: str) -> bool:
    """Wait until `done()` or the time `at` (a timer named `summary`); True if done."""
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
