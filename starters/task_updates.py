"""Completing a human task: execute the task's Workflow Update and say what came of it.

One function for everyone who decides: `partnerflow act`, the task inbox's forms and the
accept, sign and listing pages, so they all give the same answer.

    outcome = await complete_task(client, workflow_id, "review_application", payload)
    outcome.status  # "accepted" | "rejected" | "unanswered" | "failed"

- `accepted`: the update ran; `result` is the workflow's `TaskResult` (the decision, the new
  stage, what the process waits for next).
- `rejected`: the validator refused the input; nothing was recorded. `message` is the
  validator's message and `problems` the bad fields (`[{"field", "message"}]`), from the
  failure's `cause.message` and `cause.details[0]`.
- `unanswered`: no worker took the update within `wait` (it was not accepted, so nothing was
  recorded). `wait` bounds the whole call to acceptance: the SDK asks again whenever the
  server answers "admitted, not accepted yet" before the RPC's timeout, each time with the
  whole timeout. Pages then fall back to the task's signal, which Temporal keeps durably until a
  worker runs it; should the update still be delivered later, the validator refuses the
  second copy (the task is decided), so the input applies once.
- `failed`: Temporal refused the call (unknown workflow, closed workflow, unreachable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError, RPCStatusCode

from models.tasks import TaskResult

# How long a page waits for a worker to accept the update before it falls back.
PAGE_WAIT = timedelta(seconds=4)

OutcomeStatus = Literal["accepted", "rejected", "unanswered", "failed"]


@dataclass(frozen=True)
class UpdateOutcome:
    """What became of one task update (see the module's docstring)."""

    status: OutcomeStatus
    message: str = ""
    result: TaskResult | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    not_found: bool = False

    @property
    def exit_code(self) -> int:
        """`partnerflow act`'s exit code: 0 accepted, 2 rejected, 1 otherwise."""
        return {"accepted": 0, "rejected": 2}.get(self.status, 1)

    def field_errors(self) -> dict[str, str]:
        """The rejection's problems by field (`""` for the process's state), for a form."""
        errors: dict[str, str] = {}
        for problem in self.problems:
            key = problem.get("field", "")
            errors[key] = (
                f"{errors[key]}; {problem['message']}" if key in errors else problem["message"]
            )
        return errors


async def complete_task(
    client: Client,
    workflow_id: str,
    handler: str,
    payload: Any,
    *,
    wait: timedelta = PAGE_WAIT,
) -> UpdateOutcome:
    """Execute the update `handler` with `payload` on the workflow and report the outcome;
    never raises for the outcomes above."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        async with asyncio.timeout(wait.total_seconds()):
            update = await handle.start_update(
                handler,
                payload,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=TaskResult,
                rpc_timeout=wait,
            )
        result = await update.result()
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        return UpdateOutcome(
            "unanswered",
            f"no worker answered within {wait.total_seconds():g} s: the update was not "
            "delivered and nothing was recorded",
        )
    except WorkflowUpdateFailedError as exc:
        return UpdateOutcome(
            "rejected", failure_message(exc.cause), problems=failure_problems(exc.cause)
        )
    except RPCError as exc:
        return UpdateOutcome(
            "failed",
            f"{workflow_id}: {exc.message}",
            not_found=exc.status == RPCStatusCode.NOT_FOUND,
        )
    return UpdateOutcome("accepted", f"{handler}: {result.decision}", result=result)


def failure_message(error: BaseException | None) -> str:
    """The validator's message without the exception type the SDK puts in front."""
    message = getattr(error, "message", None) or str(error)
    return str(message)


def failure_problems(error: BaseException | None) -> list[dict[str, str]]:
    """The rejected fields the validator put in its failure's first detail, if any."""
    details = getattr(error, "details", None) or ()
    first = details[0] if details else None
    if not isinstance(first, list):
        return [{"field": "", "message": failure_message(error)}]
    return [
        {"field": str(p.get("field") or ""), "message": str(p.get("message") or "")}
        for p in first
        if isinstance(p, dict)
    ]
