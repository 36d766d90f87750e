"""The human-task protocol every workflow publishes (PRODUCT.md, "Self-describing contract").

`status` and `pending_tasks` queries return these models; the CLI, the task pages and the
tests read them. `example` is a JSON input that completes the task on the happy path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PendingTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(description="Stable task name, also the PendingTask search attribute")
    handler: str = Field(description="Signal or update that completes it")
    kind: Literal["signal", "update"] = "update"
    description: str
    assignee: str = Field(description="Role that owns it: end_customer, finance, ...")
    assigned_to: str | None = Field(
        default=None,
        description=(
            "The person's address it is assigned to when known (a deal's review goes to the "
            "partner's Sales Manager); `assignee`, the role, is what the search attributes show"
        ),
    )
    due_at: datetime | None = None
    example: dict[str, Any] = Field(default_factory=dict)
    opened_at: datetime | None = None
    reminders_sent: int = 0
    escalated: bool = False


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime
    step: str
    actor: str
    event: str = Field(description="What happened: decided, reminded, escalated, rejected, ...")
    detail: dict[str, Any] = Field(default_factory=dict)


class WorkflowStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow_id: str
    workflow_type: str
    stage: str
    facts: dict[str, Any] = Field(default_factory=dict)
    history: list[HistoryEntry] = Field(default_factory=list)
    pending_tasks: list[PendingTask] = Field(default_factory=list)


class LinkSpec(BaseModel):
    """A signed, expiring link that an activity renders at send time (never in history)."""

    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(description="e.g. accept_terms; maps to a page of the web service")
    expires_at: datetime
    subject: str | None = Field(default=None, description="e.g. the agreement id to sign")


class NextTask(BaseModel):
    """A human task the process waits for after a decision."""

    model_config = ConfigDict(extra="forbid")

    task: str
    handler: str
    assignee: str
    description: str
    due_at: datetime | None = None


class TaskResult(BaseModel):
    """What a human task's Workflow Update answers: what was decided, the stage the process
    reached, and what it waits for next (empty when it waits on no one or has ended)."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: str
    handler: str
    task: str | None = Field(default=None, description="The task the input completed")
    decided_by: str | None = Field(default=None, description="Who decided, from the input")
    decision: str = Field(
        description="The decision (`decision`, `action` or `outcome` of the input, else the "
        "handler's name)"
    )
    stage: str = Field(description="The process's stage once it acted on the decision")
    waiting_for: list[NextTask] = Field(default_factory=list)
    ended: bool = Field(default=False, description="The process has ended")
    settled: bool = Field(
        default=True,
        description="False when the process was still working when the answer was sent "
        "(query `status` for the outcome)",
    )
