"""The portal's deal registration form: the `deal-registration` form's fields as HTML inputs
named by their path in the form (`end_customer.address.country`), so each refusal of the
form's model or of its preparation lands by its input. The partner id is never an input: it
is the session's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.deals import DealRegistrationForm

# Left out of the payload when empty: the optional fields, and those with a default in the
# form (sku, product), as a webhook sender leaves them out.
OMITTED_WHEN_EMPTY = frozenset(
    {"end_customer.address.line2", "end_customer.address.state", "end_customer.address.postal_code",
     "notes", "industry", "sku", "product"}
)  # fmt: skip
REQUIRED = "This field is required."


@dataclass(frozen=True)
class DealField:
    name: str
    label: str
    kind: str = "text"  # text | email | number | date | textarea
    required: bool = True
    help: str = ""
    default: str = ""
    autocomplete: str = "off"
    group: str = "deal"

    @property
    def html_id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


_FORM = DealRegistrationForm.model_fields
DEAL_FIELDS: tuple[DealField, ...] = (
    DealField("registered_by.name", "Your name", autocomplete="name", group="you"),
    DealField("registered_by.email", "Your email address", "email", autocomplete="email",
              group="you"),
    DealField("end_customer.legal_name", "Legal name", group="customer",
              help="The end customer is always named."),
    DealField("end_customer.address.line1", "Street address", group="customer"),
    DealField("end_customer.address.line2", "Address line 2", required=False, group="customer"),
    DealField("end_customer.address.city", "City", group="customer"),
    DealField("end_customer.address.state", "State or province", required=False,
              group="customer"),
    DealField("end_customer.address.postal_code", "Postal code", required=False,
              group="customer"),
    DealField("end_customer.address.country", "Country", group="customer",
              help="ISO 3166-1 alpha-2 code, e.g. DE"),
    DealField("end_customer.contact.name", "Contact name", group="customer"),
    DealField("end_customer.contact.email", "Contact email", "email", group="customer",
              help="The customer's contact (the quotation names the license contact)."),
    DealField("industry", "Industry", required=False, group="customer",
              help="e.g. public sector; compared with your reseller agreement's industries"),
    DealField("sku", "SKU", required=False, default=str(_FORM["sku"].default),
              help=f"Empty: {_FORM['sku'].default}"),
    DealField("product", "Product", required=False, default=str(_FORM["product"].default),
              help=f"Empty: {_FORM['product'].default}"),
    DealField("seats", "Seats", "number", help="1 to 1,000,000"),
    DealField("list_unit_price_cents", "List price per seat per year (cents)", "number",
              help="In cents: 12000 is USD 120.00"),
    DealField("expected_close_date", "Expected close date", "date", help="YYYY-MM-DD"),
    DealField("notes", "Notes", "textarea", required=False, help="At most 2,000 characters"),
)  # fmt: skip
FIELD_NAMES = frozenset(field.name for field in DEAL_FIELDS)


def deal_payload(partner_id: str, values: dict[str, str]) -> dict[str, Any]:
    """The `deal-registration` form's JSON body from the posted values (empty optional
    inputs left out, the partner id the session's); the form's model validates it."""
    payload: dict[str, Any] = {"partner_id": partner_id}
    for name, value in values.items():
        if name not in FIELD_NAMES or (value == "" and name in OMITTED_WHEN_EMPTY):
            continue
        *parents, leaf = name.split(".")
        target = payload
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return payload


def errors_by_field(errors: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """The form's problems by input name; problems of no input (the partner's standing,
    the whole form) as general messages."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for error in errors:
        name, text = str(error.get("field", "")), str(error.get("message", ""))
        text = text.removeprefix("Value error, ")
        kind = error.get("type")
        if kind == "missing" or (kind == "string_too_short" and "at least 1 " in text):
            text = REQUIRED
        if name in FIELD_NAMES:
            by_field.setdefault(name, text)
        elif (parent := _parent_field(name)) is not None:
            by_field.setdefault(parent, text)
        else:
            general.append(text)
    return by_field, general


def _parent_field(name: str) -> str | None:
    """`end_customer.contact` (a missing group) → its first input."""
    for field in DEAL_FIELDS:
        if name and field.name.startswith(name + "."):
            return field.name
    return None
