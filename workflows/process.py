"""The base of every process workflow: what each process does the same way.

`ProcessWorkflow` (on top of `ProcessState`, what operators see) gives each process:

- `wait_for()`: waiting on a task with its `Deadline` (reminders, escalation, expiry), kept
  by the process's `TaskClock`;
- `decide()` (a decision noted and kept in the audit records), `screen()` (the embargo
  check) and `locate_reseller()` (where the invoiced reseller is, to screen it),
  `conclude()` (every open task closed, the outcome shown), `record_partner()` and
  `find_partner()` (the partner's record);
- `email()` and `notify()`: process emails, each sent at most once;
- the `email_event` signal (SendGrid webhook): a bounced, blocked or dropped process email
  becomes the operations task `fix_email_delivery`, completed by `email_delivery_fixed`;
- `run_step()`: a step an outside system refused for good becomes the operations task
  `resolve_failed_step` (retry or skip);
- a Workflow Update for every human task the process lists in `human_tasks` (see
  `workflows.human_updates`), and at the end of `run` (or before continuing as new, with
  `finish_handlers()`) the process waits for updates still answering.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from models.contracts import (
        COUNTRY_CODES,
        DecisionRecord,
        EmailDeliveryFixed,
        EmailEvent,
        EmailReceipt,
        EmailRequest,
        PartnerRecord,
        PartnerRef,
        Reseller,
        ScreeningRequest,
        ScreeningResult,
    )
    from models.failed_steps import FailedStepResolution
    from models.notices import KINDS, notice
    from models.programs import ProgramKey, program_of_workflow

from workflows.calls import EXTERNAL, LOCAL, RECORD, call
from workflows.deadlines import Deadline, TaskClock
from workflows.human_tasks import FIX_EMAIL_DELIVERY, RESOLVE_FAILED_STEP, HumanTask
from workflows.human_updates import register_updates
from workflows.process_state import ProcessState
from workflows.task_facts import TaskFacts

T = TypeVar("T")

# Marks histories in which a permanently failed step opened `resolve_failed_step` (before,
# the error failed the workflow): replaying an older failed run keeps failing it.
FAILED_STEP_TASK_PATCH = "failed-step-task"
# Orders and resale requests screen the reseller (the party invoiced) with the end customer;
# histories from before screened the end customer only (no `locate_reseller` lookup either).
SCREEN_RESELLER_PATCH = "screen-invoiced-party"


class ProcessWorkflow(ProcessState):
    """Base class of the process workflows: state that operators can see and act on."""

    # The human tasks of the process: each handler is also a Workflow Update (the two
    # operations tasks every process has are registered here).
    human_tasks: ClassVar[tuple[HumanTask, ...]] = (FIX_EMAIL_DELIVERY, RESOLVE_FAILED_STEP)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_updates(cls, cls.human_tasks)
        run = vars(cls).get("run")
        if run is not None and hasattr(run, "__temporal_workflow_run"):
            cls.run = _finishing_handlers(run)  # type: ignore[attr-defined]

    def __init__(self) -> None:
        super().__init__()
        self._waits: dict[int, Callable[[], bool]] = {}  # the human waits in progress
        self._wait_number = 0
        self._ended = False
        self._step_resolution: FailedStepResolution | None = None
        self._failed_step_skippable = True
        self._email_events_seen: set[str] = set()
        self._undelivered: list[EmailEvent] = []
        self.clock = TaskClock(self)
        self.task_facts = TaskFacts()

    # --- waiting ----------------------------------------------------------------------------

    async def wait_for(
        self, spec: HumanTask, done: Callable[[], bool], deadline: Deadline | None = None
    ) -> bool:
        """Wait until `done()` with the task's reminders, escalation and expiry (see
        `TaskClock`); False when it expired first."""
        deadline = deadline or Deadline()
        with self.waiting(done):
            self.task_fact(spec, "opened", deadline.due_at)
            finished = await self.clock.wait(spec, done, deadline)
        actor = next((h.actor for h in reversed(self._history) if h.step == spec.task), "system")
        self.task_fact(spec, "decided" if finished else "expired", deadline.due_at, actor)
        return finished

    def task_fact(
        self,
        spec: HumanTask,
        event: str,
        due_at: datetime | None,
        actor: str = "system",
        number: int = 0,
    ) -> None:
        """Record a fact of a human task for the insights reports, in the background (see
        `TaskFacts`)."""
        partner = self._facts.get("partner_id")
        self.task_facts.record(
            spec,
            event,
            due_at,
            actor=actor,
            number=number,
            partner_id=partner if isinstance(partner, str) else None,
        )

    @contextlib.contextmanager
    def waiting(self, done: Callable[[], bool]) -> Iterator[None]:
        """Mark a wait in progress (for people, or the process at rest until a date): an
        update's answer is sent once the process waits again."""
        self._wait_number += 1
        number = self._wait_number
        self._waits[number] = done
        try:
            yield
        finally:
            del self._waits[number]

    def settled(self) -> bool:
        """The process waits for a person again (and no finished wait is about to go on):
        what an update's answer waits for."""
        waits = list(self._waits.values())
        return bool(waits) and not any(done() for done in waits)

    def ended(self) -> bool:
        """The process has ended (or continues as new)."""
        return self._ended

    async def finish_handlers(self) -> None:
        """Before the workflow completes or continues as new: let the task facts still
        being written and the updates still answering finish (they see the process ended).
        A fact left running behind a continue-as-new would be abandoned."""
        await self.task_facts.flush()
        self._ended = True
        await workflow.wait_condition(workflow.all_handlers_finished)

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
                field="action",
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
            with self.waiting(lambda: self._step_resolution is not None):
                await workflow.wait_condition(lambda: self._step_resolution is not None)
            self.close_task(RESOLVE_FAILED_STEP.task)
            resolution = self._step_resolution
            assert resolution is not None
            self.note(step, resolution.decided_by, resolution.action, reason=resolution.reason)
            if resolution.action == "skip":
                return None

    # --- decisions and screening ------------------------------------------------------------

    def idempotency_scope(self) -> str:
        """What the idempotency keys of this process's emails and audit records start with:
        the workflow id, as a business key runs once. A process whose key may run again (an
        evaluation license asked for again after a refusal) narrows it to the run chain."""
        return workflow.info().workflow_id

    async def decide(self, step: str, actor: str, decision: str, **detail: Any) -> None:
        """Note a decision in the history and keep it in the audit records (once)."""
        workflow_id = workflow.info().workflow_id
        self.note(step, actor, decision, **detail)
        await call(
            "record_decision",
            DecisionRecord(
                idempotency_key=f"{self.idempotency_scope()}:{step}:{decision}",
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
        self,
        party: str,
        country: str,
        subdivision: str | None = None,
        *,
        step: str,
        role: str | None = None,
    ) -> str | None:
        """The embargo check of `party`: None when allowed, else the refusal reason (decided
        as `step`, naming who was screened and the embargo program that matched; a `role`,
        e.g. "reseller", is named in the reason too). The result shows in the facts under
        `step` (`:` read as `_`)."""
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
            "party": party,
            "allowed": result.allowed,
            "data_version": result.data_version,
        }
        if result.allowed:
            return None
        reason = result.reason or f"{party} is in a country or region under U.S. embargo"
        if role:
            reason = f"the {role} {party}: {reason}"
        who = {"role": role} if role else {}
        await self.decide(
            step, "system", "refused", reason=reason, program=result.program, party=party, **who
        )
        return reason

    async def locate_reseller(self, reseller: Reseller) -> tuple[str, str | None] | None:
        """Where the reseller (the party invoiced) is, for its embargo screening: the country
        and subdivision of its address, else the country of its partner record; None when
        neither says. The answer shows in the facts as `reseller_location`."""
        location: tuple[str, str | None] | None = None
        source = None
        if reseller.address is not None:
            location, source = (reseller.address.country, reseller.address.subdivision), "address"
        elif reseller.partner_id:
            # Orders and resales are Mattermost's: the reseller is a Mattermost partner.
            record = await self.find_partner(reseller.partner_id, "mattermost")
            country = record.country.strip().upper() if record is not None else ""
            if country in COUNTRY_CODES:
                location, source = (country, None), "partner record"
        self._facts["reseller_location"] = (
            {"country": location[0], "subdivision": location[1], "source": source}
            if location
            else None
        )
        return location

    async def record_partner(self, record: PartnerRecord) -> None:
        """Create or update the partner's record (status, discount, attributes)."""
        await call(
            "upsert_partner",
            record,
            options=RECORD,
            summary=f"partner {record.partner_id}: {record.status}",
        )

    async def find_partner(
        self, partner_id: str, program: ProgramKey | None = None
    ) -> PartnerRecord | None:
        """The partner's record in `program` (by default this process's program: partners
        are per program), if there is one."""
        program = program or program_of_workflow(workflow.info().workflow_type)
        found: PartnerRecord | None = await call(
            "get_partner",
            PartnerRef(program=program, partner_id=partner_id),
            options=RECORD,
            result_type=PartnerRecord | None,
            summary=f"look up {program} partner {partner_id}",
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
        """Send one process email; the (workflow id, step) pair is sent at most once (per
        `idempotency_scope`)."""
        info = workflow.info()
        request = EmailRequest(
            idempotency_key=f"{self.idempotency_scope()}:{step}",
            workflow_id=info.workflow_id,
            step=step,
            to=to,
            template=template,
            context=context,
            **{"program": program_of_workflow(info.workflow_type), **extra},
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


register_updates(ProcessWorkflow, ProcessWorkflow.human_tasks)


def _finishing_handlers(run: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """`run`, then wait for updates still answering before the workflow completes."""

    @functools.wraps(run)
    async def run_then_finish(self: ProcessWorkflow, *args: Any) -> T:
        self.task_facts.start()
        result = await run(self, *args)
        await self.task_facts.flush()
        await self.finish_handlers()
        return result

    return run_then_finish


def _operations_address() -> str:
    """Who decides in the task's example: the vendor's partner team of this process."""
    rocket = workflow.info().workflow_type.startswith("RocketChat")
    return "partners@rocket.chat" if rocket else FIX_EMAIL_DELIVERY.example["decided_by"]
