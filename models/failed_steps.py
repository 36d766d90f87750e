"""An operator's decision on a step that an outside system refused for good.

A non-retryable activity error (e.g. Stripe answering 400 to the invoice) does not fail the
process: the workflow opens the task `resolve_failed_step` (role `operations`) and waits.
The operator fixes the cause (the customer's data in Stripe, a setting) and sends
`{"decided_by": "...", "action": "retry"}`, or, where the step allows it, `"skip"`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from models.contracts import Contract


class FailedStepResolution(Contract):
    decided_by: str = Field(min_length=1, max_length=200)
    action: Literal["retry", "skip"]
    reason: str | None = Field(default=None, max_length=2000)
