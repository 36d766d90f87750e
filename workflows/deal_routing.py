"""Deals reach the partner's Sales Manager (seed: "Resellers collaborate with the Sales
Manager"): the deadline emails of a task assigned to a Mattermost person rather than a role.

The clock's default emails go to the owner role; a task the process assigned to a person
(`open_task(..., assigned_to=...)`) is reminded at that person's address, and escalates to the
person and, as before, to the role above and operations. The steps are the default ones
(`{task}:reminder:{n}`, `{task}:escalation`), so each email is still sent once per workflow.
The templates are the internal ones (the Temporal UI and the CLI): the person works at the
vendor, never at the partner.
"""

from __future__ import annotations

from workflows.deadlines import Escalate, Remind
from workflows.human_tasks import HumanTask
from workflows.process import ProcessWorkflow

# Set at the start of `DealRegistration.run`: the partner record is read (`get_partner`) after
# the screening, the review and quotation tasks go to the partner's Sales Manager, and a deal
# outside the agreement's territory or industries is flagged to the reviewer. Histories from
# before: no read, the tasks go to the role, nothing is compared with the agreement.
ROUTING_PATCH = "deal-routing-sales-manager"


def person_reminder(owner: ProcessWorkflow, spec: HumanTask, address: str) -> Remind:
    """Reminder number n of `spec` (the `task_reminder` email) to the person it is assigned to."""

    async def remind(number: int) -> None:
        await owner.email(
            f"{spec.task}:reminder:{number}",
            [address],
            "task_reminder",
            owner.task_context(spec),
        )

    return remind


def person_escalation(owner: ProcessWorkflow, spec: HumanTask, address: str) -> Escalate:
    """The `task_escalation` email of `spec` to the person, the owner role and operations."""

    async def escalate() -> None:
        await owner.email(
            f"{spec.task}:escalation",
            [address, f"role:{spec.assignee}", "role:operations"],
            "task_escalation",
            owner.task_context(spec),
        )

    return escalate
