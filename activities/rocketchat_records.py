"""Rocket.Chat records: the monthly sales reports and the revenue share computed from them."""

from __future__ import annotations

import json

from sqlalchemy import Table
from sqlmodel import select
from temporalio import activity

from activities.database import (
    execute_write,
    get_engine,
    require_aware,
    session_scope,
    upsert_statement,
)
from models.rocketchat import SalesReportRecord
from models.settings import Settings
from models.tables import RocketChatSalesReportRow


class RocketChatRecordActivities:
    """Rocket.Chat sales reports, bound to one records database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.resolved_database_url

    @activity.defn(name="record_sales_report")
    def record_sales_report(self, record: SalesReportRecord) -> None:
        """Store one report once per idempotency key (a retry changes nothing)."""
        engine = get_engine(self.url)
        table: Table = RocketChatSalesReportRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"report", "share"}) | {
            "report_json": json.dumps(record.report, sort_keys=True, default=str),
            "share_json": json.dumps(record.share, sort_keys=True, default=str),
            "submitted_at": require_aware(record.submitted_at, "SalesReportRecord.submitted_at"),
        }
        execute_write(
            engine,
            upsert_statement(engine, table)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[table.c.idempotency_key]),
        )


def list_sales_reports(settings: Settings, partner_id: str) -> list[RocketChatSalesReportRow]:
    """The partner's monthly sales reports, oldest month first."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(RocketChatSalesReportRow).where(
            RocketChatSalesReportRow.partner_id == partner_id
        )
        return list(session.exec(query.order_by(RocketChatSalesReportRow.month)))
