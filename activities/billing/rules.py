"""Stripe's invoice status rules, which the local ledger follows too."""

from __future__ import annotations

from activities.errors import InvoiceStateError
from models.contracts import InvoiceAction

# The statuses each action may start from, and where it leads.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "pay": frozenset({"open", "uncollectible"}),
    "void": frozenset({"open", "uncollectible"}),
    "mark_uncollectible": frozenset({"open"}),
}
TARGET_STATUS = {"pay": "paid", "void": "void", "mark_uncollectible": "uncollectible"}


def transition_needed(invoice_id: str, status: str, action: str) -> bool:
    """False when the invoice already is where `action` leads (nothing to do), True when the
    action may run; raises a non-retryable `InvoiceStateError` when Stripe forbids it."""
    if status == TARGET_STATUS[action]:
        return False
    if status not in ALLOWED_FROM[action]:
        raise InvoiceStateError(
            f"cannot {action.replace('_', ' ')} invoice {invoice_id}: it is {status} "
            f"(allowed from {', '.join(sorted(ALLOWED_FROM[action]))})",
            {"invoice_id": invoice_id, "status": status, "action": action},
        )
    return True


def reason_metadata(action: InvoiceAction) -> dict[str, str]:
    """The action's reason as invoice metadata (`void_reason: ...`), if it gives one."""
    return {f"{action.action}_reason": action.reason} if action.reason else {}
