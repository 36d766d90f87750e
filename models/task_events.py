"""The contract of a human task's fact (opened, reminded, escalated, decided, expired), as
workflows send it to the `record_task_event` activity and the `task_events` table keeps it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

TaskEventKind = Literal["opened", "reminded", "escalated", "decided", "expired"]


class TaskEventRecord(BaseModel):
    """One fact, written once per `idempotency_key` (workflow + task + occurrence + event)."""

    model_config = ConfigDict(extra="forbid")

    idempotency_key: str
    workflow_id: str
    workflow_type: str
    program: str
    partner_id: str | None = None
    task: str
    event: TaskEventKind
    at: datetime
    due_at: datetime | None = None
    actor: str = "system"
