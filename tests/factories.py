"""Valid inputs for tests, with fresh identifiers."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

from models.contracts import OrderFulfillmentInput, PartnerRecord
from models.deals import AuthorizedResaleInput, DealRegistrationInput


def order_input(**overrides: Any) -> OrderFulfillmentInput:
    order_id = overrides.pop("order_id", f"T-{uuid.uuid4().hex[:10]}")
    data: dict[str, Any] = {
        "order_id": order_id,
        "channel": "authorized_reseller",
        "reseller": {
            "company": "Nordlicht IT GmbH",
            "partner_id": "P-NORDLICHT",
            "contact": {"name": "Jonas Weber", "email": "jonas.weber@nordlicht.example"},
            "address": {
                "line1": "Hafenstrasse 1",
                "city": "Hamburg",
                "postal_code": "20457",
                "country": "DE",
            },
        },
        "end_customer": {
            "legal_name": "Stadtwerke Kiel AG",
            "address": {
                "line1": "Uhlenkrog 32",
                "city": "Kiel",
                "postal_code": "24113",
                "country": "DE",
            },
            "contact": {"name": "Anna Schmidt", "email": "anna.schmidt@stadtwerke-kiel.example"},
        },
        "purchase_order": {"number": f"PO-{order_id}", "issued_by": "reseller"},
        "lines": [
            {
                "sku": "MM-ENT-1Y",
                "description": "Mattermost Enterprise, 1 year",
                "seats": 50,
                "unit_price_cents": 10_000,
            }
        ],
    }
    return OrderFulfillmentInput.model_validate(_merged(data, overrides))


def _merged(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`data` with `overrides`; a dict override changes only the keys it names."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def deal_input(**overrides: Any) -> DealRegistrationInput:
    data: dict[str, Any] = {
        "deal_number": f"DR-2026-{random.randint(1, 999_999):06d}",
        "partner": {
            "company": "Nordlicht IT-Systemhaus GmbH",
            "partner_id": f"nordlicht-{uuid.uuid4().hex[:6]}",
            "contact": {"name": "Lena Hoffmann", "email": "lena.hoffmann@nordlicht-it.example"},
            "address": {"line1": "Friedrichstraße 123", "city": "Berlin", "country": "DE"},
        },
        "end_customer": {
            "legal_name": "Hanse Logistik AG",
            "address": {
                "line1": "Am Sandtorkai 50",
                "city": "Hamburg",
                "postal_code": "20457",
                "country": "DE",
            },
            "contact": {"name": "Jonas Weber", "email": "jonas.weber@hanse-logistik.example"},
        },
        "sku": "MM-ENT-1Y",
        "product": "Mattermost Enterprise, 1 year",
        "seats": 250,
        "list_unit_price_cents": 12_000,
        "expected_close_date": date(2027, 3, 31),
        "discount_percent": 20,
    }
    return DealRegistrationInput.model_validate(_merged(data, overrides))


def resale_input(**overrides: Any) -> AuthorizedResaleInput:
    data: dict[str, Any] = {
        "request_id": f"T-{uuid.uuid4().hex[:10]}",
        "reseller": {
            "company": "Baltic Procurement Services OÜ",
            "contact": {"name": "Mari Tamm", "email": "mari.tamm@baltic-procurement.example"},
            "address": {"line1": "Narva mnt 5", "city": "Tallinn", "country": "EE"},
        },
        "end_customer_name": "Tallinna Sadam AS",
        "end_customer_country": "EE",
    }
    data.update(overrides)
    return AuthorizedResaleInput.model_validate(data)


def partner_record(partner_id: str, **changes: Any) -> PartnerRecord:
    """An active Mattermost VAR as of now: the partner of the published form examples (the
    evaluation license's organisation name, its contact email's domain as website)."""
    data: dict[str, Any] = {
        "partner_id": partner_id,
        "program": "mattermost",
        "partner_type": "value_added_reseller",
        "company": "Nordlicht IT-Systemhaus GmbH",
        "country": "DE",
        "website": "https://nordlicht-it.example.com",
        "contact_name": "Lena Hoffmann",
        "contact_email": "lena@nordlicht-it.example.com",
        "status": "active",
        "discount_percent": 20,  # agreed at the VAR approval
        "at": datetime.now(UTC),
    }
    return PartnerRecord.model_validate({**data, **changes})
