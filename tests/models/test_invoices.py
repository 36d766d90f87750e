"""Invoice stages only move forward (issue 16): every pair of stages, without Temporal."""

from __future__ import annotations

from itertools import product
from typing import get_args

import pytest

from models.contracts import InvoiceStage, InvoiceStatus
from models.invoices import invoice_stage, invoice_stage_after

STAGES: tuple[str, ...] = get_args(InvoiceStage)

# current stage -> the stages an event may move it to (besides repeating the current one)
FORWARD = {
    "draft": {"open", "overdue", "uncollectible", "paid", "void"},
    "open": {"overdue", "uncollectible", "paid", "void"},
    "overdue": {"uncollectible", "paid", "void"},
    "uncollectible": {"paid", "void"},  # Stripe still takes a payment or a void
    "paid": set(),
    "void": set(),
}


def test_the_table_names_every_stage() -> None:
    assert set(FORWARD) == set(STAGES) and len(STAGES) == 6


@pytest.mark.parametrize(("current", "reported"), list(product(STAGES, STAGES)))
def test_every_pair_of_stages(current: InvoiceStage, reported: InvoiceStage) -> None:
    change = invoice_stage_after(current, reported)
    if reported == current:
        assert (change.stage, change.applies, change.reason) == (current, True, None)
    elif reported in FORWARD[current]:
        assert (change.stage, change.applies, change.reason) == (reported, True, None)
    else:
        assert change.stage == current and change.applies is False
        assert change.reason and current in change.reason and reported in change.reason


@pytest.mark.parametrize("late", ["open", "draft", "overdue", "uncollectible", "void"])
def test_nothing_moves_a_paid_invoice(late: InvoiceStage) -> None:
    change = invoice_stage_after("paid", late)
    assert change.stage == "paid" and not change.applies
    assert change.reason is not None and "final" in change.reason


def test_a_stale_open_never_overrides_overdue() -> None:
    change = invoice_stage_after("overdue", "open")
    assert change.stage == "overdue" and not change.applies
    assert change.reason is not None and "late or retried" in change.reason


def test_the_stage_finance_sees() -> None:
    assert invoice_stage("open", overdue=True) == "overdue"
    assert invoice_stage("open", overdue=False) == "open"
    not_open: tuple[InvoiceStatus, ...] = ("draft", "paid", "void", "uncollectible")
    for status in not_open:
        assert invoice_stage(status, overdue=True) == invoice_stage(status, overdue=False) == status
