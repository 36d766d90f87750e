"""The subscription renewal form: the partner (or, once the reseller has left, the end
customer) renews a subscription from the reminder email, without the Temporal UI.

It advances the term's running `SubscriptionRenewal` (signal `renew`, the same input as the
update); `proof_token` is the token printed in the reminder email.
"""

from __future__ import annotations

from pydantic import Field

from models.forms.spec import PROOF_FIELD, FormSpec, ProvenForm
from models.renewals import RenewalDecision, renewal_workflow_id

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class RenewalOrderForm(RenewalDecision, ProvenForm):
    """A renewal order for one term of a Mattermost subscription."""

    model_config = {
        "title": "SubscriptionRenewalForm",
        "json_schema_extra": {
            "examples": [
                {
                    "subscription_id": "ORD-2026-000123",
                    "term": 1,
                    "decided_by": "lena.hoffmann@nordlicht-it.example",
                    "seats": 60,
                    "purchase_order_number": "PO-NL-2027-0007",
                    PROOF_FIELD: "<the proof token of the renewal reminder email>",
                }
            ]
        },
    }

    subscription_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=ORDER_ID_PATTERN,
        description="The subscription (its first order's id), as the reminder names it",
    )
    term: int = Field(ge=1, le=100, description="The term being renewed, as the reminder names it")


RENEWAL_ORDER_FORM = FormSpec(
    name="subscription-renewal",
    workflow_type="SubscriptionRenewal",
    title="Mattermost subscription renewal",
    description=(
        "Renews a Mattermost subscription for another term (signal `renew` of the running "
        "`renewal-{subscription_id}-{term}`): the users for the new term and, optionally, the "
        "purchase order. Proof of the sender: `proof_token`, the token printed in the "
        "renewal reminder email."
    ),
    model=RenewalOrderForm,
    build_workflow_id=lambda form: renewal_workflow_id(form.subscription_id, form.term),
    build_input=lambda form: RenewalDecision.model_validate(
        form.model_dump(exclude={PROOF_FIELD, "subscription_id", "term"})
    ),
    build_search_attributes=lambda form: {"Program": "mattermost"},
    build_summary=lambda form: f"Renewal of subscription {form.subscription_id}",
    build_details=lambda form: f"{form.seats} users, decided by {form.decided_by}",
    refresh_example=lambda example: example,
    signal="renew",
    proof_purposes=("form:subscription-renewal",),
    proof_emails=r"renewal-\S+ renewal:reminder:\d+",
)
