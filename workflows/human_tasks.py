"""Human steps, declared once: what a step is, who owns it, how to complete it; and the two
operations steps every process may open (an undelivered email, a step that failed for good).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import EmailDeliveryFixed
    from models.failed_steps import FailedStepResolution


@dataclass(frozen=True)
class HumanTask:
    """A human step, declared once: what it is, who owns it, how to complete it."""

    task: str
    handler: str
    assignee: str
    description: str
    model: type[BaseModel]
    example: dict[str, Any]
    kind: Literal["signal", "update"] = "update"
    # For a task the partner owns: the task and how to answer, in the partner's words, for
    # its reminders (which never show the Temporal UI or the CLI).
    partner_task: str = ""
    partner_action: str = ""

    @property
    def partner_facing(self) -> bool:
        return self.assignee == "partner"


FIX_EMAIL_DELIVERY = HumanTask(
    task="fix_email_delivery",
    handler="email_delivery_fixed",
    assignee="operations",
    description="A process email was not delivered: correct the contact or resend it, then confirm",
    model=EmailDeliveryFixed,
    example={
        "decided_by": "partners@mattermost.com",
        "action": "contact_updated",
        "note": "Corrected the address with the partner and resent the email by hand",
    },
)


RESOLVE_FAILED_STEP = HumanTask(
    task="resolve_failed_step",
    handler="resolve_failed_step",
    assignee="operations",
    description="A step failed for good (an outside system refused it): fix the cause, then "
    "retry the step (or skip it where allowed)",
    model=FailedStepResolution,
    example={
        "decided_by": "operations@mattermost.com",
        "action": "retry",
        "reason": "fixed the customer's data",
    },
)
