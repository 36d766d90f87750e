"""The form registry: every webhook form, its JSON Schema and the workflow it starts.

PRODUCT.md, "Self-describing contract": `GET /webhooks/forms` lists `FORMS`; each form's
schema carries at least one complete, valid example; posting that example with fresh
identifiers (`FormSpec.fresh_example`) runs the happy path.

The forms by domain: `orders` (the resale order), `lifecycle` (partner applications, the
directory listing, the evaluation license), `sales` (deal registration and authorized
resale) and `rocketchat` (the Rocket.Chat partner program).
"""

from __future__ import annotations

from models.forms.lifecycle import LIFECYCLE_FORMS
from models.forms.orders import ORDER_EXAMPLE, ORDER_FORM, OrderForm
from models.forms.renewals import RENEWAL_ORDER_FORM
from models.forms.rocketchat import ROCKETCHAT_FORMS
from models.forms.sales import SALES_FORMS
from models.forms.spec import FormRejected, FormSpec, money

FORMS: dict[str, FormSpec] = {
    spec.name: spec
    for spec in [
        ORDER_FORM,
        *LIFECYCLE_FORMS,
        *SALES_FORMS,
        *ROCKETCHAT_FORMS,
        RENEWAL_ORDER_FORM,
    ]
}

__all__ = [
    "FORMS",
    "ORDER_EXAMPLE",
    "ORDER_FORM",
    "FormRejected",
    "FormSpec",
    "OrderForm",
    "money",
]
