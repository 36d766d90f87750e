"""The partner as an entity (`partner-{program}-{partner_id}`, workflow `Partner`): its
contracts and the pure rules it answers with.

- `PartnerEntityState`: what the entity holds (status, the signed agreement, the Sales
  Manager, enablement, the ids of its listing, evaluation license, partnership and open
  deals), carried across continue-as-new.
- `may(state, action)`: "may this partner do X now?", with the reason.
- `offboarding_problems(...)`: why an offboarding request is refused (each bad field named).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from models.contracts import Contract, PartnerRecord, PartnerStatus

EntityStatus = Literal["onboarding", "active", "suspended", "offboarding", "ended"]
Action = Literal["register_deal", "order_var", "order_referral", "request_evaluation"]
ACTIONS: tuple[str, ...] = ("register_deal", "order_var", "order_referral", "request_evaluation")

# An offboarding's effective date may lie this far in the past (a decision recorded late),
# and no further in the future than this.
OFFBOARDING_PAST_DAYS = 30
OFFBOARDING_FUTURE_DAYS = 366
# Deal statuses (DealRegistration's `record_deal`) of a registration whose protection holds:
# the partner's open deals. Any other status reported (ordered, closed, lapsed, withdrawn,
# bought online, released) closes it; a purchase order goes on whatever becomes of the partner.
DEAL_OPEN = ("approved", "quoted")
# The statuses a starting workflow's partner record maps to.
_FROM_RECORD: dict[str, EntityStatus] = {
    "applicant": "onboarding",
    "active": "active",
    "suspended": "suspended",
    "removed": "ended",
}
# The partner record's status for each of the entity's (the records mirror the entity).
RECORD_STATUS: dict[str, PartnerStatus] = {
    "onboarding": "applicant",
    "active": "active",
    "suspended": "suspended",
    "offboarding": "offboarding",
    "ended": "ended",
}


def entity_id(program: str, partner_id: str) -> str:
    """The entity's workflow id."""
    return f"partner-{program}-{partner_id}"


class PartnerAgreement(Contract):
    """The signed agreement's terms: geography, industries and the discount rate."""

    agreement_id: str | None = None
    signed_at: str | None = None
    territory: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    discount_percent: int | None = None


class OpenDeal(Contract):
    """A deal registration of the partner, as its workflow last reported it."""

    deal_number: str
    workflow_id: str
    status: str


class Offboarding(Contract):
    """`offboard`: the partner leaves the program on the effective date (its listing is
    withdrawn, the evaluation license ends, open deal registrations lose their protection;
    its customers keep their subscriptions)."""

    reason: str = Field(min_length=1, max_length=2000)
    effective_date: date
    decided_by: str = Field(min_length=1, max_length=200)


class StatusChange(Contract):
    """`suspend` / `reinstate`: a partner manager suspends an active partner (it may do
    nothing until reinstated) or reinstates a suspended one."""

    reason: str = Field(min_length=1, max_length=2000)
    decided_by: str = Field(min_length=1, max_length=200)


def status_change_problem(state: PartnerEntityState, to: str) -> str | None:
    """Why the partner cannot be suspended (`to` "suspended") or reinstated ("active") now."""
    needed = "active" if to == "suspended" else "suspended"
    if state.status != needed:
        verb = "suspended" if to == "suspended" else "reinstated"
        return f"only a {needed} partner can be {verb} (the partner is {state.status})"
    return None


class PartnerEntityState(Contract):
    """What the entity holds; carried across continue-as-new."""

    status: EntityStatus = "onboarding"
    record: PartnerRecord | None = None
    agreement: PartnerAgreement | None = None
    sales_manager: dict[str, Any] | None = None
    training_completed_on: str | None = None
    local_support: dict[str, Any] | None = None
    started_by: list[str] = Field(default_factory=list)
    listing_workflow_id: str | None = None
    evaluation_workflow_id: str | None = None
    partnership_workflow_id: str | None = None
    open_deals: dict[str, OpenDeal] = Field(default_factory=dict)
    closed_deals: int = 0
    offboarding: Offboarding | None = None


class PartnerEntityInput(Contract):
    """The entity's input (its first run: from the starting workflow; later runs: the
    state carried over)."""

    program: Literal["mattermost", "rocketchat"]
    partner_id: str = Field(min_length=1, max_length=64)
    state: PartnerEntityState = Field(default_factory=PartnerEntityState)
    max_events_per_run: int = Field(default=500, ge=2)
    run_number: int = 1
    history_carried: list[dict[str, Any]] = Field(default_factory=list)


class PartnerEvent(Contract):
    """`partner_record` (a machine event): the starting workflow's partner record now."""

    source_workflow_id: str
    record: PartnerRecord
    partnership_workflow_id: str | None = None


class DealEvent(Contract):
    """`deal_update` (a machine event): a deal registration's status changed."""

    deal_number: str
    workflow_id: str
    status: str
    at: datetime


class EntityStart(Contract):
    """Signal-with-start of the entity (the `start_partner_entity` activity)."""

    workflow_id: str
    input: PartnerEntityInput
    event: PartnerEvent


class SignalRequest(Contract):
    """Signal a workflow from an activity (`signal_workflow`); a workflow that does not
    exist or has ended is no error (the answer is False)."""

    workflow_id: str
    signal: str
    payload: dict[str, Any] = Field(default_factory=dict)


class PartnerPermission(Contract):
    """The answer of the `may` query."""

    action: str
    allowed: bool
    reason: str


def apply_record(state: PartnerEntityState, event: PartnerEvent) -> PartnerEntityState:
    """The state once the starting workflow's record is known (status, agreement, Sales
    Manager, enablement). A suspended, offboarding or ended partner keeps its status."""
    record = event.record
    attrs = record.attributes
    status = state.status
    if status not in ("suspended", "offboarding", "ended"):  # the entity decided those
        status = _FROM_RECORD.get(record.status, status)
    agreement = state.agreement
    if attrs.get("agreement_id") or attrs.get("territory") or attrs.get("signed_at"):
        agreement = PartnerAgreement(
            agreement_id=attrs.get("agreement_id"),
            signed_at=attrs.get("agreement_signed_at") or attrs.get("signed_at"),
            territory=list(attrs.get("territory") or []),
            industries=list(attrs.get("industries") or []),
            discount_percent=record.discount_percent or attrs.get("discount_percent"),
        )
    support = attrs.get("local_support")
    return state.model_copy(
        update={
            "status": status,
            "record": record,
            "agreement": agreement,
            "sales_manager": attrs.get("sales_manager") or state.sales_manager,
            "training_completed_on": attrs.get("training_completed_at")
            or state.training_completed_on,
            "local_support": support if isinstance(support, dict) else state.local_support,
            "started_by": list(dict.fromkeys([*state.started_by, event.source_workflow_id])),
            "partnership_workflow_id": event.partnership_workflow_id
            or state.partnership_workflow_id,
        }
    )


def apply_deal(state: PartnerEntityState, event: DealEvent) -> PartnerEntityState:
    """The state once a deal registration reported its status."""
    deals = dict(state.open_deals)
    closed = state.closed_deals
    if event.status in DEAL_OPEN:
        deals[event.deal_number] = OpenDeal(
            deal_number=event.deal_number, workflow_id=event.workflow_id, status=event.status
        )
    elif deals.pop(event.deal_number, None) is not None:
        closed += 1
    return state.model_copy(update={"open_deals": deals, "closed_deals": closed})


def may(state: PartnerEntityState, program: str, action: str) -> PartnerPermission:
    """May the partner do `action` now? Allowed, or the reason it is not."""

    def answer(allowed: bool, reason: str) -> PartnerPermission:
        return PartnerPermission(action=action, allowed=allowed, reason=reason)

    if action not in ACTIONS:
        return answer(False, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if state.status != "active":
        return answer(False, f"the partner is {state.status}, not active")
    kind = state.record.partner_type if state.record else ""
    var = program == "mattermost" and kind == "value_added_reseller"
    if action == "request_evaluation":
        if program == "mattermost" and kind in ("value_added_reseller", "system_integrator"):
            return answer(True, "an active Mattermost Value-Added Reseller or System Integrator")
        return answer(False, "only Mattermost Value-Added Resellers and System Integrators")
    if not var:
        return answer(False, f"only Mattermost Value-Added Resellers (this is a {program} {kind})")
    if state.agreement is None:
        return answer(False, "no signed reseller agreement")
    if action in ("register_deal", "order_referral"):
        return answer(True, "an active Value-Added Reseller with a signed agreement")
    missing = [
        name
        for name, value in (
            ("a Sales Manager", state.sales_manager),
            ("the online training", state.training_completed_on),
            ("the local support process", state.local_support),
        )
        if not value
    ]
    if missing:
        return answer(False, f"enablement incomplete: {', '.join(missing)}")
    return answer(True, "an active, enabled Value-Added Reseller (reseller discount applies)")


def offboarding_problems(
    state: PartnerEntityState, request: Offboarding, today: date
) -> list[dict[str, str]]:
    """Why the offboarding cannot be accepted now (empty: it can)."""
    problems: list[dict[str, str]] = []
    if state.status in ("offboarding", "ended"):
        when = (
            f" (effective {state.offboarding.effective_date.isoformat()})"
            if state.offboarding
            else ""
        )
        problems.append({"field": "", "message": f"the partner is already {state.status}{when}"})
    earliest = today - timedelta(days=OFFBOARDING_PAST_DAYS)
    latest = today + timedelta(days=OFFBOARDING_FUTURE_DAYS)
    if request.effective_date < earliest:
        problems.append(
            {
                "field": "effective_date",
                "message": f"more than {OFFBOARDING_PAST_DAYS} days in the past "
                f"(earliest {earliest.isoformat()})",
            }
        )
    elif request.effective_date > latest:
        problems.append(
            {
                "field": "effective_date",
                "message": f"more than {OFFBOARDING_FUTURE_DAYS} days ahead "
                f"(latest {latest.isoformat()})",
            }
        )
    return problems


class PartnerEntityResult(Contract):
    """How the entity ended: offboarded, with what each step of the cascade reached."""

    program: str
    partner_id: str
    status: EntityStatus
    reason: str | None = None
    reached: dict[str, bool] = Field(default_factory=dict)
