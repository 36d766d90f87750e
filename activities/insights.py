"""Insights records: the facts of human tasks (written once each by `record_task_event`) and
the reads behind the `/insights` reports (never workflow histories)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Table
from sqlmodel import col, select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from models.settings import Settings
from models.tables import DealRegistrationRow, PartnerRow, TaskEventRow
from models.task_events import TaskEventRecord


class InsightActivities:
    """Activities bound to one records database (`settings.resolved_database_url`)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url

    @activity.defn(name="record_task_event")
    def record_task_event(self, record: TaskEventRecord) -> None:
        """Insert the fact once per `idempotency_key`; a repeat keeps the first write."""
        values = record.model_dump() | {"at": require_aware(record.at, "TaskEventRecord.at")}
        engine = get_engine(self.url)
        table: Table = TaskEventRow.__table__  # type: ignore[attr-defined]
        stmt = upsert_statement(engine, table).values(**values)
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.idempotency_key])
        execute_write(engine, stmt)


def list_task_events(
    settings: Settings, program: str, start: date, end: date
) -> list[TaskEventRow]:
    """The program's task facts of workflows whose tasks were opened from `start` (facts
    after `end` included, so a task opened in the period shows its late decision)."""
    since = datetime.combine(start, time(), UTC) - timedelta(days=1)
    with session_scope(settings.resolved_database_url) as session:
        rows = session.exec(
            select(TaskEventRow)
            .where(TaskEventRow.program == program, col(TaskEventRow.at) >= since)
            .order_by(col(TaskEventRow.at), col(TaskEventRow.id))
        ).all()
        return list(rows)


def list_deal_statuses(settings: Settings, start: date, end: date) -> list[str]:
    """Statuses of the deal registrations created in the period."""
    first = datetime.combine(start, time(), UTC)
    last = datetime.combine(end + timedelta(days=1), time(), UTC)
    with session_scope(settings.resolved_database_url) as session:
        rows = session.exec(
            select(DealRegistrationRow.status).where(
                col(DealRegistrationRow.created_at) >= first,
                col(DealRegistrationRow.created_at) < last,
            )
        ).all()
        return list(rows)


def list_partner_statuses(
    settings: Settings, program: str, start: date, end: date
) -> list[tuple[str, str]]:
    """(partner type, status) of the program's partners created in the period."""
    first = datetime.combine(start, time(), UTC)
    last = datetime.combine(end + timedelta(days=1), time(), UTC)
    with session_scope(settings.resolved_database_url) as session:
        rows = session.exec(
            select(PartnerRow.partner_type, PartnerRow.status).where(
                PartnerRow.program == program,
                col(PartnerRow.created_at) >= first,
                col(PartnerRow.created_at) < last,
            )
        ).all()
        return [(t, s) for t, s in rows]
