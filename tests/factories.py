"""Valid inputs for tests, with fresh identifiers."""

from __future__ import annotations

import uuid
from typing import Any

from models.contracts import OrderFulfillmentInput


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
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return OrderFulfillmentInput.model_validate(data)
