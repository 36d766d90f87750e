"""Deliveries of the forms that advance a running process (`directory-listing`,
`deal-information`, ...): the intake claims a delivery id before it signals the workflow and
marks it delivered after, so the same webhook delivered again (also after a restart of the
web service) is answered from the records instead of signalling the workflow a second time.

A claim that was never marked (the service stopped between claim and signal, or the signal
failed) is signalled again by the next delivery, with the same request id, which Temporal
uses to drop a signal it already took: the input is neither lost nor taken twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from activities.database import session_scope
from models.settings import Settings
from models.tables import FormDeliveryRow

CLAIMED = "claimed"
DELIVERED = "delivered"


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery: `new` when this call made the claim, else the earlier one."""

    delivery_id: str
    workflow_id: str
    status: str
    new: bool

    @property
    def delivered(self) -> bool:
        return self.status == DELIVERED


def claim_delivery(
    settings: Settings, delivery_id: str, form: str, workflow_id: str, signal: str
) -> Delivery:
    """Claim `delivery_id` for this delivery, or return the claim an earlier one made."""
    url = settings.resolved_database_url
    try:
        with session_scope(url) as session:
            session.add(
                FormDeliveryRow(
                    delivery_id=delivery_id,
                    form=form,
                    workflow_id=workflow_id,
                    signal=signal,
                    status=CLAIMED,
                )
            )
    except IntegrityError:
        with session_scope(url) as session:
            row = session.get(FormDeliveryRow, delivery_id)
            if row is None:  # released meanwhile: claim it again
                return claim_delivery(settings, delivery_id, form, workflow_id, signal)
            return Delivery(delivery_id, row.workflow_id, row.status, new=False)
    return Delivery(delivery_id, workflow_id, CLAIMED, new=True)


def mark_delivered(settings: Settings, delivery_id: str) -> None:
    """The workflow has the input: later deliveries are answered from this record."""
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            update(FormDeliveryRow)
            .where(col(FormDeliveryRow.delivery_id) == delivery_id)
            .values(status=DELIVERED, delivered_at=datetime.now(UTC))
        )


def release_delivery(settings: Settings, delivery_id: str) -> None:
    """Drop a claim whose signal surely did not arrive (the process does not exist)."""
    with session_scope(settings.resolved_database_url) as session:
        session.execute(
            delete(FormDeliveryRow).where(
                col(FormDeliveryRow.delivery_id) == delivery_id,
                col(FormDeliveryRow.status) == CLAIMED,
            )
        )


def find_delivery(settings: Settings, delivery_id: str) -> Delivery | None:
    """The delivery recorded under `delivery_id`, if any."""
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(FormDeliveryRow, delivery_id)
        if row is None:
            return None
        return Delivery(delivery_id, row.workflow_id, row.status, new=False)
