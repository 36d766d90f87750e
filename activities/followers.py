"""Starting a process that follows something on its own (Temporal itself is the outside
system): the monthly revenue share's `RocketChatRevenueShare`, started for the partnership.

A follower is a workflow of its own, not a child: it outlives the partnership's quarterly
run (which continues as new) and the partnership itself (money is still owed after a
removal). The workflow id is the idempotency key: starting it again answers the same id.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from models.rocketchat_billing import RevenueShareInvoiceInput, revenue_share_workflow_id

REVENUE_SHARE_WORKFLOW = "RocketChatRevenueShare"


@activity.defn(name="start_revenue_share_follower")
async def start_revenue_share_follower(share: RevenueShareInvoiceInput) -> str:
    """Start the month's `RocketChatRevenueShare` on this worker's task queue (once: an
    existing one, running or closed, is not started again); its workflow id."""
    workflow_id = revenue_share_workflow_id(share.partner_id, share.month)
    try:
        await activity.client().start_workflow(
            REVENUE_SHARE_WORKFLOW,
            share,
            id=workflow_id,
            task_queue=activity.info().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"revenue share {share.month}: invoice "
            f"{share.invoice.number or share.invoice.id}",
        )
    except WorkflowAlreadyStartedError:
        activity.logger.info("%s already started", workflow_id)
    return workflow_id
