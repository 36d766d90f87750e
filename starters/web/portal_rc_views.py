"""What the Rocket.Chat portal pages show, computed from the workflows' `status` answers and the
sales-report records: the onboarding's seven steps, the 60-day training countdown, the
quarterly reviews and the revenue-share statements. Pure functions (no Temporal, no I/O), so
the pages and their tests agree on every rule."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models.forms import money

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    """One of the seven onboarding steps: `state` is done, waiting, declined or not_started."""

    number: int
    title: str
    state: str
    note: str = ""


# (title, the fact that says it is done, the tasks that mean it waits)
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Pre-requirements reviewed", "", ("review_prerequisites",)),
    ("Meeting with your account manager", "", ("schedule_meeting", "record_meeting")),
    ("Goals for three months and the year", "goals", ("set_goals",)),
    ("Partner agreement signed", "signed_at", ("set_contract_terms", "sign_partner_agreement")),
    ("Rocket.Chat named on your website", "", ("publish_website", "website_follow_up")),
    ("Workgroup on the community server", "workgroup", ("create_workgroup",)),
    ("Basic training per service", "training_completed_at", ("basic_training",)),
)
_DONE_EVENTS = {
    0: ("review_prerequisites", {"accept", "approve", "approved", "accepted"}),
    1: ("record_meeting", {"held"}),
    4: ("website_check", {"passed", "verified_manually"}),
}
FINISHED_STAGES = {"onboarded", "completed"}


def onboarding_steps(status: dict[str, Any]) -> list[Step]:
    """The seven steps, each done (its fact or decision is recorded), waiting (one of its
    tasks is open), declined, or not started."""
    facts: dict[str, Any] = status.get("facts") or {}
    open_tasks = {t.get("task") for t in status.get("pending_tasks") or []}
    history = status.get("history") or []
    finished = status.get("stage") in FINISHED_STAGES or bool(facts.get("partnership_workflow_id"))
    steps = []
    for index, (title, fact, tasks) in enumerate(STEPS):
        state, note = "not_started", ""
        step_name, events = _DONE_EVENTS.get(index, ("", set()))
        decided = [
            h.get("event")
            for h in history
            if step_name and str(h.get("step", "")).startswith(step_name)
        ]
        if index == 0 and "decline" in decided:
            state = "declined"
        elif finished or (fact and facts.get(fact)) or any(e in events for e in decided):
            state = "done"
        elif open_tasks & set(tasks):
            state = "waiting"
        if index == 6 and facts.get("training_missed") and state != "done":
            note = "the 60-day deadline passed"
        steps.append(Step(index + 1, title, state, note))
    return steps


@dataclass(frozen=True)
class Countdown:
    """The 60-day training clock: `state` is running, done, missed or not_started."""

    state: str
    due_at: datetime | None = None
    days_left: int | None = None
    completed_at: datetime | None = None
    late: bool = False


def training_countdown(facts: dict[str, Any], now: datetime) -> Countdown:
    """Days left to the training deadline (60 days from signature, counted in whole days,
    rounded up), or done (on time or late), or missed (the deadline passed without it)."""
    due = _when(facts.get("training_due_at"))
    if due is None:
        return Countdown("not_started")
    completed = _when(facts.get("training_completed_at"))
    if completed is not None:
        return Countdown("done", due, completed_at=completed, late=completed > due)
    if now > due or facts.get("training_missed"):
        return Countdown("missed", due, days_left=0)
    return Countdown("running", due, days_left=math.ceil((due - now) / DAY))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# --- reviews --------------------------------------------------------------------------------


@dataclass
class Review:
    quarter: int
    outcome: str
    failures: list[str] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)


def reviews(facts: dict[str, Any]) -> list[Review]:
    """The decided reviews, newest first: those carried into this quarter's run (`reviews`,
    with the goal lines of `attainment`) and the one decided in it (`last_review`)."""
    attainment: dict[int, list[dict[str, Any]]] = {}
    for line in facts.get("attainment") or []:
        attainment.setdefault(int(line.get("quarter", 0)), []).append(line)
    found: dict[int, Review] = {}
    for r in facts.get("reviews") or []:
        quarter = int(r.get("quarter", 0))
        found[quarter] = Review(
            quarter, str(r.get("outcome") or "not decided"), list(r.get("failures") or []),
            attainment.get(quarter, []),
        )  # fmt: skip
    last = facts.get("last_review")
    if isinstance(last, dict):
        quarter = int(last.get("quarter", 0))
        found[quarter] = Review(
            quarter, str(last.get("outcome") or "not decided"), list(last.get("failures") or []),
            list(last.get("goals") or []), list(last.get("findings") or []),
        )  # fmt: skip
    return [found[q] for q in sorted(found, reverse=True)]


METRICS = {
    "deals_closed": "Deals closed",
    "revenue_cents": "Revenue",
    "certified_staff": "Certified staff",
    "prospective_sales": "Prospective sales",
}


def metric_value(metric: str, value: Any) -> str:
    """A goal's number as people read it (revenue in money)."""
    if metric == "revenue_cents" and isinstance(value, int):
        return money(value)
    return str(value)


# --- statements -----------------------------------------------------------------------------


@dataclass
class Statement:
    """One month's revenue share: what was sold, the split line by line, what is owed and
    its invoice (stage from the share's own workflow when it answered)."""

    month: str
    sales_closed: str
    lines: list[dict[str, Any]]
    owed: str
    partner_keeps: str
    invoice: dict[str, Any] | None = None


def statements(
    records: list[tuple[str, str, str]], shares: list[dict[str, Any]], stages: dict[str, str]
) -> list[Statement]:
    """Newest month first. `records`: (month, report_json, share_json) of the sales-report
    records; `shares`: the partnership's `revenue_shares` facts; `stages`: month → the stage
    its `RocketChatRevenueShare` reports now."""
    invoices = {str(s.get("month")): s for s in shares}
    found = []
    for month, report_json, share_json in records:
        report, share = _json(report_json), _json(share_json)
        lines = [
            {
                "description": line.get("description", ""),
                "gross": money(int(line.get("gross_cents", 0))),
                "discount": money(int(line.get("discount_cents", 0))),
                "rocketchat": money(int(line.get("rocketchat_cents", 0))),
                "partner": money(int(line.get("partner_cents", 0))),
            }
            for line in share.get("lines") or []
        ]
        owed = sum(int(line.get("rocketchat_cents", 0)) for line in share.get("lines") or [])
        keeps = sum(int(line.get("partner_cents", 0)) for line in share.get("lines") or [])
        invoice = invoices.get(month)
        if invoice is not None:
            invoice = {
                **invoice,
                "amount": money(int(invoice.get("amount_cents", 0))),
                "stage": stages.get(month) or invoice.get("stage", "open"),
                "due": str(invoice.get("due_at") or "")[:10],
            }
        found.append(
            Statement(
                month,
                money(int(report.get("sales_closed_cents", 0))),
                lines,
                money(owed),
                money(keeps),
                invoice,
            )  # fmt: skip
        )
    return sorted(found, key=lambda s: s.month, reverse=True)


def fee_invoices(facts: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The yearly program fee invoices: year, invoice, amount, due date and stage."""
    rows = []
    for fee in facts.get("fees") or []:
        due = _when(fee.get("due_at"))
        stage = "paid" if fee.get("paid") else ("overdue" if due and now > due else "open")
        rows.append(
            {
                "year": fee.get("year"),
                "invoice_id": fee.get("invoice_id"),
                "amount": money(int(fee.get("amount_cents", 0))),
                "due": due.date().isoformat() if due else "",
                "stage": stage,
            }
        )
    return rows


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
