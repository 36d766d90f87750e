"""Partner records: who is an active partner of which program (the seed's "certified
reseller database"). Partners are per program: a record is keyed by (program, partner_id),
so the same slug in Mattermost and Rocket.Chat is two partners. Writes are idempotent
upserts; reads are activities too, so workflows record what they saw in their history."""

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
from models.applications import EvaluationCheck, EvaluationLicenseForm, evaluation_check
from models.contracts import PartnerRecord, PartnerRef
from models.programs import ProgramKey, program_of_workflow
from models.settings import Settings
from models.tables import PartnerRow

KEY = ("program", "partner_id")  # the primary key: partners are per program


class PartnerActivities:
    """Partner records, bound to one records database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.resolved_database_url

    @activity.defn(name="upsert_partner")
    def upsert_partner(self, record: PartnerRecord) -> None:
        """Create the partner of `record.program` or update everything but its creation
        time. An update older than the stored one (`record.at` before `updated_at`) is
        ignored. Another program's partner with the same id is left alone."""
        at = require_aware(record.at, "PartnerRecord.at")
        engine = get_engine(self.url)
        table: Table = PartnerRow.__table__  # type: ignore[attr-defined]
        values = record.model_dump(exclude={"attributes", "at"}) | {
            "attributes_json": json.dumps(record.attributes, sort_keys=True, default=str),
            "created_at": at,
            "updated_at": at,
        }
        stmt = upsert_statement(engine, table).values(**values)
        changed = [name for name in values if name not in KEY + ("created_at",)]
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[name] for name in KEY],
            set_={name: stmt.excluded[name] for name in changed},
            where=table.c.updated_at <= stmt.excluded.updated_at,
        )
        execute_write(engine, stmt)

    @activity.defn(name="get_partner")
    def get_partner(self, partner: PartnerRef | str) -> PartnerRecord | None:
        """The program's partner as recorded, or None when unknown. A bare id (what
        workflows passed before partners were per program) is a partner of the calling
        workflow's program: Rocket.Chat's for `RocketChat*` workflows, else Mattermost's."""
        if isinstance(partner, str):
            program = program_of_workflow(activity.info().workflow_type or "")
            partner = PartnerRef(program=program, partner_id=partner)
        return get_partner(self.settings, partner.program, partner.partner_id)

    @activity.defn(name="check_evaluation_request")
    def check_evaluation_request(self, form: EvaluationLicenseForm) -> EvaluationCheck:
        """The evaluation-license request against the partner's record as it is now: an
        active VAR or SI, the organisation name and the contact email's domain its own."""
        return evaluation_check(form, get_partner(self.settings, "mattermost", form.partner_id))


def get_partner(settings: Settings, program: ProgramKey, partner_id: str) -> PartnerRecord | None:
    """The program's partner as recorded, or None when that program has no such partner."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(PartnerRow, {"program": program, "partner_id": partner_id})
        if row is None:
            return None
        return _record(row)


def list_partners(
    settings: Settings, program: str | None = None, status: str | None = None
) -> list[PartnerRecord]:
    """The partners on record, by company name, optionally of one program or status."""
    with session_scope(settings.resolved_database_url) as session:
        query = select(PartnerRow)
        if program:
            query = query.where(PartnerRow.program == program)
        if status:
            query = query.where(PartnerRow.status == status)
        return [_record(row) for row in session.exec(query.order_by(PartnerRow.company))]


def _record(row: PartnerRow) -> PartnerRecord:
    data = row.model_dump(exclude={"attributes_json", "created_at", "updated_at"})
    return PartnerRecord(
        **data, attributes=json.loads(row.attributes_json or "{}"), at=row.updated_at
    )
