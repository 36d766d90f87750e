"""Invoice stages only move forward: the rule every workflow that follows a billing
provider's invoice events applies (issue 16).

Stripe does not deliver events in the order they happened, and it retries them: an
`invoice.payment_failed` or `invoice.finalized` can arrive after `invoice.paid`. Each event
carries the invoice as it was when the event was made, so a late one reports a stage the
invoice has already left. Taken at its word it would reopen a paid invoice and send overdue
notices to a customer who paid.

The order of the stages:

    draft → open → overdue → uncollectible → paid | void

- `paid` and `void` are final: nothing moves them.
- `uncollectible` is closed, but Stripe still lets such an invoice be paid or voided, so
  those two events move it on; nothing moves it back.
- `overdue` is an open invoice past its due date (the workflow's own clock, not an event):
  a stale `open` never overrides it.
- An event reporting the stage the invoice is at is taken (nothing changes).

Everything else is a late event: it changes nothing (no stage, search attribute or notice)
and the workflow records it in its history as ignored, with the event id and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.contracts import InvoiceStage, InvoiceStatus

# How far along each stage is; an event may only move the invoice to a later one.
STAGE_ORDER: dict[InvoiceStage, int] = {
    "draft": 0,
    "open": 1,
    "overdue": 2,
    "uncollectible": 3,
    "paid": 4,
    "void": 4,
}
FINAL_STAGES: frozenset[InvoiceStage] = frozenset({"paid", "void"})


@dataclass(frozen=True)
class StageChange:
    """What an event reporting a stage does to an invoice at `current`."""

    stage: InvoiceStage  # the invoice's stage after the event
    applies: bool  # False: a late event, recorded as ignored and changing nothing
    reason: str | None = None  # why it is ignored


def invoice_stage(status: InvoiceStatus, overdue: bool) -> InvoiceStage:
    """The stage finance sees: the billing status, `overdue` for an open invoice past due."""
    return "overdue" if status == "open" and overdue else status


def invoice_stage_after(current: InvoiceStage, reported: InvoiceStage) -> StageChange:
    """The invoice's stage once an event reporting `reported` arrives at `current`."""
    if reported == current:
        return StageChange(current, True)
    if current in FINAL_STAGES:
        return StageChange(
            current,
            False,
            f"the invoice is {current}, which is final: a late event reporting {reported} "
            "changes nothing",
        )
    if STAGE_ORDER[reported] < STAGE_ORDER[current]:
        return StageChange(
            current,
            False,
            f"the invoice is already {current}; {reported} comes before it (a late or "
            "retried event)",
        )
    return StageChange(reported, True)
