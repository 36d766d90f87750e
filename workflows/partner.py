"""Partner (`partner-{program}-{partner_id}`): the partner as an entity, for as long as it is
a partner.

Started (signal-with-start, `start_partner_entity`) when an application is approved
(VarApplication, SystemIntegratorApplication) or when Rocket.Chat onboarding makes the
partner active; each later change of the partner record by the starting workflow arrives as
`partner_record`, and deal registrations report approval and closing as `deal_update`.

It holds the status (onboarding, active, suspended, offboarding, ended), the signed
agreement (geography, industries, discount rate), the Sales Manager, training and local
support, the ids of the listing (`directory-{pid}`), evaluation license
(`eval-license-{pid}`), Rocket.Chat partnership and open deals. Queries: `status` (all of
it, in `facts`) and `may(action)` ("may this partner do X now?"). The records' partner row
mirrors the status the entity decides (offboarding, ended).

`suspend` and `reinstate` (Workflow Updates) take an active partner out of business and back
(the records show `suspended`; `may` allows nothing meanwhile).

Offboarding is the Workflow Update `offboard` (validated: reason, effective date, who
decided). On the effective date the listing is withdrawn (`partner_left`), the evaluation
license ends without renewal (`partner_left`), each open deal registration releases its
protection and informs its reviewer (`partner_offboarded`), a Rocket.Chat partnership ends
as its removal does (`partner_offboarded`), the partner is emailed and the status ends. The
partner's customers keep their subscriptions.

The history stays bounded: after `max_events_per_run` events (or when Temporal suggests it)
the entity continues as new with its state and its recent history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.notices import notice
    from models.partner_entity import (
        ACTIONS,
        RECORD_STATUS,
        DealEvent,
        Offboarding,
        PartnerEntityInput,
        PartnerEntityResult,
        PartnerEntityState,
        PartnerEvent,
        PartnerPermission,
        SignalRequest,
        StatusChange,
        apply_deal,
        apply_record,
        may,
        offboarding_problems,
        status_change_problem,
    )
    from models.tasks import HistoryEntry, PendingTask

from workflows.calls import RECORD, call
from workflows.deadlines import wait_until
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow
from workflows.search_attributes import PARTNER_ID, PROGRAM

CARRIED_HISTORY = 50  # history entries a new run starts with
PROGRAM_NAMES = {
    "mattermost": "Mattermost Partner Program",
    "rocketchat": "Rocket.Chat Partner Program",
}

OFFBOARD = HumanTask(
    task="offboard",
    handler="offboard",
    assignee="partner_manager",
    description=(
        "Offboard the partner: on the effective date its listing is withdrawn, its evaluation "
        "license ends, its open deal registrations lose their protection and it is told so"
    ),
    model=Offboarding,
    example={
        "reason": "The reseller agreement was terminated by mutual consent",
        "effective_date": "2026-12-31",
        "decided_by": "partners@mattermost.com",
    },
)

SUSPEND = HumanTask(
    task="suspend",
    handler="suspend",
    assignee="partner_manager",
    description="Suspend the active partner: it may do nothing (deals, orders, evaluation "
    "licenses) until reinstated",
    model=StatusChange,
    example={"reason": "Unpaid invoices past 60 days", "decided_by": "partners@mattermost.com"},
)
REINSTATE = HumanTask(
    task="reinstate",
    handler="reinstate",
    assignee="partner_manager",
    description="Reinstate the suspended partner: active again",
    model=StatusChange,
    example={"reason": "The invoices are paid", "decided_by": "partners@mattermost.com"},
)


@workflow.defn
class Partner(ProcessWorkflow):
    """The partner as an entity: status, agreement, enablement, what it may do; offboarding."""

    process = "Partner"
    human_tasks = (*ProcessWorkflow.human_tasks, OFFBOARD, SUSPEND, REINSTATE)

    def __init__(self) -> None:
        super().__init__()
        self._input: PartnerEntityInput | None = None
        self._s = PartnerEntityState()
        self._inbox: list[PartnerEvent | DealEvent] = []
        self._events = 0
        self._offboarding_recorded = False
        self._changes: list[tuple[str, StatusChange]] = []  # suspensions to record

    # --- handlers ---------------------------------------------------------------------------

    @workflow.signal
    def partner_record(self, payload: Any) -> None:
        """The starting workflow's partner record changed (sent by `start_partner_entity`;
        operators do not send it)."""
        event = self.parse("partner_record", payload, PartnerEvent)
        if event is not None:
            self._inbox.append(event)
            self._events += 1

    @workflow.signal
    def deal_update(self, payload: Any) -> None:
        """A deal registration of the partner was approved or closed (sent by
        DealRegistration): `{"deal_number": "DR-2026-000123", "workflow_id":
        "deal-DR-2026-000123", "status": "approved", "at": "2026-12-01T10:00:00Z"}`"""
        event = self.parse("deal_update", payload, DealEvent)
        if event is not None:
            self._inbox.append(event)
            self._events += 1

    @workflow.signal
    def offboard(self, payload: Any) -> None:
        """The partner leaves the program on the effective date:
        `{"reason": "The reseller agreement was terminated by mutual consent",
        "effective_date": "2026-12-31", "decided_by": "partners@mattermost.com"}`. Refused
        when the partner is already offboarding or ended, or the date is more than 30 days
        past or a year ahead."""
        request = self.parse(OFFBOARD.task, payload, Offboarding)
        if request is None:
            return
        problems = offboarding_problems(self._s, request, workflow.now().date())
        if problems:
            self.note(
                OFFBOARD.task,
                request.decided_by,
                "rejected",
                reason="offboarding refused",
                errors=problems,
            )
            return
        self._s = self._s.model_copy(update={"status": "offboarding", "offboarding": request})
        self._events += 1
        self.note(
            OFFBOARD.task,
            request.decided_by,
            "accepted",
            reason=request.reason,
            effective_date=request.effective_date.isoformat(),
        )

    @workflow.signal
    def suspend(self, payload: Any) -> None:
        """Suspend the active partner: `{"reason": "Unpaid invoices past 60 days",
        "decided_by": "partners@mattermost.com"}`. The records show `suspended`; `may`
        allows nothing until `reinstate`."""
        self._change_status(SUSPEND, payload, "suspended")

    @workflow.signal
    def reinstate(self, payload: Any) -> None:
        """Reinstate the suspended partner: `{"reason": "The invoices are paid",
        "decided_by": "partners@mattermost.com"}`."""
        self._change_status(REINSTATE, payload, "active")

    def _change_status(self, spec: HumanTask, payload: Any, to: str) -> None:
        change = self.parse(spec.task, payload, StatusChange)
        if change is None:
            return
        if problem := status_change_problem(self._s, to):
            self.note(spec.task, change.decided_by, "rejected", reason=problem)
            return
        self._s = self._s.model_copy(update={"status": to})
        self._changes.append((to, change))
        self._events += 1
        self.note(spec.task, change.decided_by, "accepted", reason=change.reason)

    @workflow.query
    def may(self, action: str) -> PartnerPermission:
        """May the partner do `action` now (register_deal, order_var, order_referral,
        request_evaluation)? `{"action", "allowed", "reason"}`."""
        return may(self._s, self._require().program, action)

    # --- the entity ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, data: PartnerEntityInput) -> PartnerEntityResult:
        self._input = data
        self._s = data.state
        self._history = [HistoryEntry.model_validate(h) for h in data.history_carried]
        self._offboarding_recorded = data.state.status == "offboarding"
        workflow.upsert_search_attributes(
            [PROGRAM.value_set(data.program), PARTNER_ID.value_set(data.partner_id)]
        )
        if data.program == "mattermost" and self._s.listing_workflow_id is None:
            self._s = self._s.model_copy(
                update={
                    "listing_workflow_id": f"directory-{data.partner_id}",
                    "evaluation_workflow_id": f"eval-license-{data.partner_id}",
                }
            )
        self._show()
        while True:
            if self._s.status == "offboarding" and self._offboarding_recorded:
                off = self._s.offboarding
                assert off is not None
                effective = datetime.combine(off.effective_date, time(), UTC)
                with self.waiting(lambda: bool(self._inbox)):
                    await wait_until(
                        lambda: bool(self._inbox) or self._rollover(),
                        effective,
                        "offboarding: the effective date",
                    )
                if workflow.now() >= effective and not self._inbox:
                    return await self._offboard()
            else:
                with self.waiting(self._woken):
                    await workflow.wait_condition(lambda: self._woken() or self._rollover())
            await self._drain()
            if self._rollover():
                await self._continue()

    def _woken(self) -> bool:
        return (
            bool(self._inbox)
            or bool(self._changes)
            or (self._s.status == "offboarding" and not self._offboarding_recorded)
        )

    def _rollover(self) -> bool:
        return (
            self._events >= self._require().max_events_per_run
            or workflow.info().is_continue_as_new_suggested()
        )

    async def _drain(self) -> None:
        while self._inbox:
            item = self._inbox.pop(0)
            if isinstance(item, PartnerEvent):
                before = self._s.status
                self._s = apply_record(self._s, item)
                self.note(
                    "partner_record",
                    item.source_workflow_id,
                    item.record.status,
                    status=self._s.status,
                )
                if self._s.status != before:
                    await self.decide(
                        f"status:{self._s.status}",
                        item.source_workflow_id,
                        self._s.status,
                        previous=before,
                    )
            else:
                self._s = apply_deal(self._s, item)
                self.note(f"deal:{item.deal_number}", item.workflow_id, item.status)
            self._show()
        while self._changes:
            to, change = self._changes.pop(0)
            at = workflow.now().isoformat()
            await self._mirror(to, status_change={"to": to, "reason": change.reason, "at": at})
            await self.decide(f"status:{to}:{at}", change.decided_by, to, reason=change.reason)
            self._show()
        if self._s.status == "offboarding" and not self._offboarding_recorded:
            off = self._s.offboarding
            assert off is not None
            self._offboarding_recorded = True
            await self._mirror("offboarding", offboarding=off.model_dump(mode="json"))
            await self.decide(
                "offboard",
                off.decided_by,
                "accepted",
                reason=off.reason,
                effective_date=off.effective_date.isoformat(),
            )
            self._show()

    async def _offboard(self) -> PartnerEntityResult:
        """The effective date: the cascade, the partner told, the status ended."""
        data = self._require()
        s = self._s
        off = s.offboarding
        assert off is not None
        left = {"reason": off.reason, "decided_by": off.decided_by}
        reached: dict[str, bool] = {}
        if s.listing_workflow_id:
            reached["listing"] = await self._signal(s.listing_workflow_id, "partner_left", left)
        if s.evaluation_workflow_id:
            reached["evaluation_license"] = await self._signal(
                s.evaluation_workflow_id, "partner_left", left
            )
        if s.partnership_workflow_id:
            reached["partnership"] = await self._signal(
                s.partnership_workflow_id, "partner_offboarded", left
            )
        for deal in s.open_deals.values():
            reached[deal.deal_number] = await self._signal(
                deal.workflow_id, "partner_offboarded", left
            )
        await self._tell_partner(off)
        self._s = s.model_copy(update={"status": "ended", "open_deals": {}})
        await self._mirror("ended", offboarding=off.model_dump(mode="json"))
        await self.decide(
            "offboarding",
            off.decided_by,
            "ended",
            reason=off.reason,
            effective_date=off.effective_date.isoformat(),
            reached=reached,
            open_deals=sorted(s.open_deals),
        )
        self._facts["reached"] = reached
        self._show()
        self.conclude("ended", off.reason)
        return PartnerEntityResult(
            program=data.program,
            partner_id=data.partner_id,
            status="ended",
            reason=off.reason,
            reached=reached,
        )

    async def _signal(self, workflow_id: str, signal: str, payload: dict[str, Any]) -> bool:
        reached: bool = await call(
            "signal_workflow",
            SignalRequest(workflow_id=workflow_id, signal=signal, payload=payload),
            options=RECORD,
            result_type=bool,
            summary=f"{signal} → {workflow_id}",
        )
        return reached

    async def _tell_partner(self, off: Offboarding) -> None:
        data = self._require()
        record = self._s.record
        if record is None:
            return
        context = {
            "company": record.company,
            "contact_name": record.contact_name,
            "partner_id": data.partner_id,
            "program": PROGRAM_NAMES[data.program],
            "reason": off.reason,
            "effective_date": off.effective_date.isoformat(),
            "open_deals": sorted(self._s.open_deals),
        }
        to = [str(record.contact_email)]
        if data.program == "rocketchat":
            await self.email(
                "offboarding:notice",
                to,
                "rocketchat_notice",
                notice("partner_offboarded", context),
                program="rocketchat",
            )
        else:
            await self.notify("offboarding:notice", to, "partner_offboarded", context)

    async def _mirror(self, status: str, **attributes: Any) -> None:
        """The records' partner row shows the entity's status."""
        record = self._s.record
        if record is None:
            return
        mirrored = record.model_copy(
            update={
                "status": RECORD_STATUS[status],
                "attributes": {**record.attributes, **attributes},
                "at": workflow.now(),
            }
        )
        self._s = self._s.model_copy(update={"record": mirrored})
        await self.record_partner(mirrored)

    async def _continue(self) -> None:
        data = self._require()
        history = [h.model_dump(mode="json") for h in self._history[-CARRIED_HISTORY:]]
        await self.finish_handlers()
        workflow.continue_as_new(
            data.model_copy(
                update={
                    "state": self._s,
                    "run_number": data.run_number + 1,
                    "history_carried": history,
                }
            )
        )

    def _show(self) -> None:
        data = self._require()
        s = self._s
        record = s.record
        self._facts.update(
            program=data.program,
            partner_id=data.partner_id,
            status=s.status,
            partner_type=record.partner_type if record else None,
            company=record.company if record else None,
            agreement=s.agreement.model_dump(mode="json") if s.agreement else None,
            sales_manager=s.sales_manager,
            training_completed_on=s.training_completed_on,
            local_support=s.local_support,
            listing_workflow_id=s.listing_workflow_id,
            evaluation_workflow_id=s.evaluation_workflow_id,
            partnership_workflow_id=s.partnership_workflow_id,
            open_deals=[d.model_dump(mode="json") for d in s.open_deals.values()],
            closed_deals=s.closed_deals,
            offboarding=s.offboarding.model_dump(mode="json") if s.offboarding else None,
            may={a: may(s, data.program, a).allowed for a in ACTIONS},
            started_by=s.started_by,
            run_number=data.run_number,
        )
        self.set_stage(s.status)

    def _details_markdown(self, tasks: list[PendingTask]) -> str:
        """Current Details: the status and the updates an operator may send now."""
        lines = [super()._details_markdown(tasks), "", f"**Partner status:** `{self._s.status}`"]
        specs = {
            "active": (SUSPEND, OFFBOARD),
            "onboarding": (OFFBOARD,),
            "suspended": (REINSTATE, OFFBOARD),
        }.get(self._s.status, ())
        for spec in specs:
            lines += [
                f"More Actions → Send an Update `{spec.handler}` ({spec.description}), e.g.:",
                "```json",
                json.dumps(spec.example, indent=2),
                "```",
            ]
        return "\n".join(lines)

    def _require(self) -> PartnerEntityInput:
        assert self._input is not None
        return self._input
