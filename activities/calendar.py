"""`business_deadline`: business-day deadlines, computed outside workflow code.

Run as a local activity: the result is recorded in history, so a workflow replays with the
same deadline even after the `holidays` data changes (see ARCHITECTURE.md, "Facts checked").
"""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from activities.errors import InvalidDeadlineRequest
from models.calendar import add_business_days
from models.contracts import DeadlineRequest


@activity.defn(name="business_deadline")
def business_deadline(req: DeadlineRequest) -> datetime:
    """`req.business_days` business days after `req.start` on `req.country`'s calendar (UTC).

    A naive start or an unknown country is a permanent error (non-retryable)."""
    try:
        return add_business_days(req.start, req.business_days, req.country)
    except (TypeError, ValueError) as exc:
        raise InvalidDeadlineRequest(str(exc)) from exc
