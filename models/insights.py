"""Program insights, computed from records only (never from workflow histories): whether the
program kept the service levels of its human steps, and how far applications and deal
registrations get.

Pure functions over plain rows (`TaskEvent`, or anything with the same attributes, such as a
`task_events` row). Times to decision are business days of the program's calendar
(`models.calendar`): a task opened on a Friday and decided on the Tuesday took 2 business
days (Friday and Monday); public holidays are not business days.

Percentiles are by nearest rank: the p-th percentile of n sorted values is the value at rank
ceil(p/100 * n); the median is the middle value (the mean of the two middle ones for an even n).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from models.calendar import business_days_between

EVENTS = ("opened", "reminded", "escalated", "decided", "expired")
DEAL_STAGES = ("registered", "approved", "quoted", "signed", "ordered", "paid")
# How far a deal registration got, by its record status (unknown statuses: registered only).
DEAL_STATUS_STAGE = {
    "in_review": 0, "information_requested": 0, "rejected": 0, "expired": 0,
    "withdrawn": 0, "approved": 1, "quoted": 2, "signed": 3, "ordered": 4,
    "order_cancelled": 4, "order_failed": 4, "closed_won": 5, "paid": 5,
}  # fmt: skip
APPLICATION_STAGES = ("applied", "approved", "active")
# How far an application got, by its partner record's status: the record is written once the
# application is approved and the agreement signed (`applicant` while onboarding).
PARTNER_STATUS_STAGE = {
    "applicant": 1, "onboarding": 1, "approved": 1, "active": 2, "suspended": 2,
    "offboarding": 2, "ended": 2, "removed": 2,
}  # fmt: skip
APPLICATION_WORKFLOWS = {"VarApplication": "VAR", "SystemIntegratorApplication": "SI"}


class TaskEventLike(Protocol):
    """The attributes the reports read from a task fact."""

    @property
    def workflow_id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def due_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class TaskEvent:
    """One fact of a human task (the shape of a `task_events` row)."""

    workflow_id: str
    task: str
    event: str
    at: datetime
    due_at: datetime | None = None
    program: str = "mattermost"
    partner_id: str | None = None
    actor: str = "system"
    workflow_type: str = ""


@dataclass
class TaskRun:
    """One occurrence of a human task in one workflow: opened, maybe escalated, maybe decided."""

    workflow_id: str
    task: str
    opened_at: datetime
    due_at: datetime | None = None
    decided_at: datetime | None = None
    expired_at: datetime | None = None
    reminders: int = 0
    escalated: bool = False
    workflow_type: str = ""

    def outcome(self, now: datetime) -> str:
        """`on_time`, `late`, `expired` (ended undecided), `open_past_due` or `open`."""
        if self.decided_at is not None:
            late = self.due_at is not None and self.decided_at > self.due_at
            return "late" if late else "on_time"
        if self.expired_at is not None:
            return "expired"
        if self.due_at is not None and self.due_at < now:
            return "open_past_due"
        return "open"


@dataclass
class StepSla:
    """The service level of one human step over a period."""

    task: str
    on_time: int = 0
    late: int = 0
    open_past_due: int = 0
    open: int = 0
    expired: int = 0
    escalations: int = 0
    median_days: float | None = None
    p90_days: int | None = None
    durations: list[int] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, object]:
        return {
            "task": self.task, "on_time": self.on_time, "late": self.late,
            "open_past_due": self.open_past_due, "open": self.open, "expired": self.expired,
            "escalations": self.escalations, "median_business_days": self.median_days,
            "p90_business_days": self.p90_days,
        }  # fmt: skip


def task_runs(events: Iterable[TaskEventLike]) -> list[TaskRun]:
    """Fold facts into task occurrences; a task opened again after a decision (a re-review)
    starts a new occurrence. Facts of a task never opened are ignored."""
    runs: list[TaskRun] = []
    current: dict[tuple[str, str], TaskRun] = {}
    order = {name: i for i, name in enumerate(EVENTS)}
    for e in sorted(events, key=lambda e: (e.at, order.get(e.event, 9))):
        key = (e.workflow_id, e.task)
        run = current.get(key)
        if e.event == "opened":
            run = TaskRun(e.workflow_id, e.task, e.at, e.due_at)
            run.workflow_type = str(getattr(e, "workflow_type", ""))
            current[key] = run
            runs.append(run)
        elif run is None or run.decided_at is not None or run.expired_at is not None:
            continue
        elif e.event == "reminded":
            run.reminders += 1
        elif e.event == "escalated":
            run.escalated = True
        elif e.event == "decided":
            run.decided_at = e.at
        elif e.event == "expired":
            run.expired_at = e.at
    return runs


def percentile(values: Sequence[int], p: float) -> int | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def in_period(at: datetime, start: date, end: date) -> bool:
    """`at`'s UTC date is within start..end (both included)."""
    return start <= at.date() <= end


def sla_by_step(
    runs: Iterable[TaskRun], now: datetime, start: date, end: date, country: str = "US"
) -> list[StepSla]:
    """Per step (tasks opened in the period): decided on time, late, open past due, open;
    escalations; median and 90th percentile business days from opening to decision."""
    steps: dict[str, StepSla] = {}
    for run in runs:
        if not in_period(run.opened_at, start, end):
            continue
        sla = steps.setdefault(run.task, StepSla(run.task))
        outcome = run.outcome(now)
        setattr(sla, outcome, getattr(sla, outcome) + 1)
        sla.escalations += run.escalated
        if run.decided_at is not None:
            sla.durations.append(business_days_between(run.opened_at, run.decided_at, country))
    for sla in steps.values():
        if sla.durations:
            sla.median_days = float(statistics.median(sla.durations))
            sla.p90_days = percentile(sla.durations, 90)
    return [steps[name] for name in sorted(steps)]


def week_of(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def weekly_trend(runs: Iterable[TaskRun], start: date, end: date) -> list[dict[str, object]]:
    """Decisions per week (Monday) in the period: on time and late."""
    weeks: dict[date, dict[str, int]] = defaultdict(lambda: {"on_time": 0, "late": 0})
    for run in runs:
        if run.decided_at is None or not in_period(run.decided_at, start, end):
            continue
        weeks[week_of(run.decided_at.date())][run.outcome(run.decided_at)] += 1
    return [{"week": w.isoformat(), **weeks[w]} for w in sorted(weeks)]


def funnel(stages: Sequence[str], reached: Iterable[int]) -> list[dict[str, object]]:
    """How many items reached each stage, given the index of the furthest stage of each."""
    furthest = list(reached)
    return [
        {"stage": stage, "count": sum(1 for r in furthest if r >= i)}
        for i, stage in enumerate(stages)
    ]


def deal_funnel(statuses: Iterable[str]) -> list[dict[str, object]]:
    """Deal registrations → approved → quoted → signed → ordered → paid, from their statuses."""
    return funnel(DEAL_STAGES, (DEAL_STATUS_STAGE.get(s, 0) for s in statuses))


def application_funnel(statuses: Iterable[str], applications: int = 0) -> list[dict[str, object]]:
    """Applications → approved → active: `applications` received (the application workflows
    whose tasks opened in the period), and how far the partner records got. An application
    approved without a recorded task (from before the facts) still counts as applied."""
    reached = [PARTNER_STATUS_STAGE.get(s, 1) for s in statuses]
    rows = funnel(APPLICATION_STAGES, reached)
    rows[0]["count"] = max(applications, len(reached))
    return rows


APPLICATION_TYPES = {"value_added_reseller": "VAR", "system_integrator": "SI"}
# The tables behind the charts, in page order (each is also `/insights/{name}.csv`).
TABLES = ("sla", "trend", "var_funnel", "si_funnel", "deal_funnel", "rc_onboarding")
ONBOARDING = "RocketChatOnboarding"


def build_report(
    events: Iterable[TaskEventLike],
    deal_statuses: Iterable[str],
    partners: Iterable[tuple[str, str]],
    now: datetime,
    start: date,
    end: date,
    country: str = "US",
) -> dict[str, list[dict[str, object]]]:
    """Every table of the insights page: SLA by step, the weekly trend of decisions, and the
    application and deal funnels. `partners` are (partner type, status) pairs."""
    runs = task_runs(events)
    applied: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        kind = APPLICATION_WORKFLOWS.get(run.workflow_type)
        if kind is not None and in_period(run.opened_at, start, end):
            applied[kind].add(run.workflow_id)
    by_type: dict[str, list[str]] = defaultdict(list)
    for partner_type, status in partners:
        by_type[APPLICATION_TYPES.get(partner_type, partner_type)].append(status)
    return {
        "sla": [s.row() for s in sla_by_step(runs, now, start, end, country)],
        "trend": weekly_trend(runs, start, end),
        "var_funnel": application_funnel(by_type["VAR"], len(applied["VAR"])),
        "si_funnel": application_funnel(by_type["SI"], len(applied["SI"])),
        "deal_funnel": deal_funnel(deal_statuses),
        "rc_onboarding": onboarding_steps(runs, now, start, end),
    }


def onboarding_steps(
    runs: Iterable[TaskRun], now: datetime, start: date, end: date
) -> list[dict[str, object]]:
    """Rocket.Chat onboardings by step (steps opened in the period): started, completed, and
    the step's deadline (for `basic_training`, the 60-day training deadline) met or missed
    (decided late, expired, or still open past it)."""
    steps: dict[str, dict[str, int]] = {}
    for run in runs:
        if run.workflow_type != ONBOARDING or not in_period(run.opened_at, start, end):
            continue
        row = steps.setdefault(
            run.task, {"started": 0, "completed": 0, "deadline_met": 0, "deadline_missed": 0}
        )
        outcome = run.outcome(now)
        row["started"] += 1
        row["completed"] += run.decided_at is not None
        row["deadline_met"] += outcome == "on_time"
        row["deadline_missed"] += outcome in ("late", "expired", "open_past_due")
    return [{"step": task, **steps[task]} for task in sorted(steps)]
