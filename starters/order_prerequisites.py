"""The records the published `order` example needs (`partnerflow seed-example order`).

A public order is taken only from an active Mattermost Value-Added Reseller with the online
training completed and local support confirmed, and its discount only on an approved,
still protected deal registration of that partner for the order's end customer
(`models.order_intake`). On a dev stack, tests and benchmarks these records come from here
rather than from a weakened rule: the partner `nordlicht-it` (agreed discount 20%) and its
approved registration DR-2026-000123 for Hanse Logistik AG, protected for the configured
days. Records already there are left as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.deals import DealActivities, get_registration
from activities.partners import PartnerActivities, get_partner
from models.contracts import PartnerRecord
from models.deals import DealRecord
from models.forms.orders import EXAMPLE_DEAL_NUMBER, EXAMPLE_DISCOUNT_PERCENT, ORDER_EXAMPLE
from models.settings import Settings


def example_partner(at: datetime, partner_id: str = "nordlicht-it") -> PartnerRecord:
    """The order example's reseller as an active, trained VAR with local support."""
    reseller = ORDER_EXAMPLE["reseller"]
    return PartnerRecord(
        partner_id=partner_id,
        program="mattermost",
        partner_type="value_added_reseller",
        company=reseller["company"],
        country=reseller["address"]["country"],
        website="https://nordlicht-it.example.com",
        contact_name=reseller["contact"]["name"],
        contact_email=reseller["contact"]["email"],
        status="active",
        discount_percent=EXAMPLE_DISCOUNT_PERCENT,
        attributes={
            "training_completed_at": at.date().isoformat(),
            "local_support": {"summary": "Support desk in German, 9-17 CET", "languages": ["de"]},
        },
        at=at,
    )


def example_registration(
    at: datetime,
    days: int,
    partner_id: str = "nordlicht-it",
    deal_number: str = EXAMPLE_DEAL_NUMBER,
    **changes: object,
) -> DealRecord:
    """The order example's approved deal registration, protected for `days` from `at`."""
    customer = ORDER_EXAMPLE["end_customer"]
    data: dict[str, object] = {
        "deal_number": deal_number,
        "workflow_id": f"deal-{deal_number}",
        "partner_id": partner_id,
        "partner_company": ORDER_EXAMPLE["reseller"]["company"],
        "end_customer_name": customer["legal_name"],
        "contact_email": customer["contact"]["email"],
        "sku": ORDER_EXAMPLE["lines"][0]["sku"],
        "status": "approved",
        "protected_until": at + timedelta(days=days),
        "at": at,
    }
    return DealRecord.model_validate({**data, **changes})


def seed_order_example(settings: Settings, now: datetime | None = None) -> list[str]:
    """Record what the order example needs unless it is there; what was recorded."""
    at = now or datetime.now(UTC)
    done = []
    if get_partner(settings, "mattermost", "nordlicht-it") is None:
        PartnerActivities(settings).upsert_partner(example_partner(at))
        done.append("partner nordlicht-it (active Value-Added Reseller, 20% agreed)")
    if get_registration(settings, EXAMPLE_DEAL_NUMBER) is None:
        DealActivities(settings).record_deal(
            example_registration(at, settings.deal_protection_days)
        )
        done.append(f"approved deal registration {EXAMPLE_DEAL_NUMBER}")
    return done
