"""The portal's monthly sales report form: the fields of `SalesReport` (form
`monthly-sales-report`) drawn for people, and the post read back into its JSON input.

Lists without JavaScript: each list (the month's projects, the projects Rocket.Chat
referred, the premium offers sold) is a table with a fixed number of rows; an empty row is
left out. "More rows" (a submit button of its own) draws the form again as posted with more
empty rows, recording nothing, so any length up to `MAX_ROWS` is reachable with no script and
no JSON to type. Amounts are entered in US dollars (up to two decimals) and sent in cents.

Only the shape is checked here (numbers, amounts); every rule (month due and not reported
yet, non-negative counts, each project once, ...) is the workflow's validator's, whose
messages are shown by the field they name (`field_errors`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 30
COUNT = re.compile(r"[0-9]{1,12}")
DOLLARS = re.compile(r"([0-9]{1,12})(?:\.([0-9]{1,2}))?")
COUNTS = ("deals_closed", "prospective_sales", "certified_staff")
AMOUNTS = ("sales_closed", "prospective_sales_amount", "hosting_revenue")
# the form's amount inputs → the report's cents fields
AMOUNT_FIELDS = {
    "sales_closed": "sales_closed_cents",
    "prospective_sales_amount": "prospective_sales_cents",
    "hosting_revenue": "hosting_revenue_cents",
}


@dataclass(frozen=True)
class ListSpec:
    """A list of the report: its inputs per row (name, kind) and the rows drawn at first."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (input, kind: text | count | amount | flag | product)
    rows: int


LISTS = (
    ListSpec("projects", (("name", "text"), ("rocketchat_reference", "flag")), 5),
    ListSpec("referred_projects", (("name", "text"), ("amount", "amount")), 3),
    ListSpec(
        "premium_offers",
        (
            ("product", "product"),
            ("description", "text"),
            ("quantity", "count"),
            ("list_price", "amount"),
        ),
        3,
    ),  # fmt: skip
)
PRODUCTS = (("support_plan", "Support plan"), ("enterprise_license", "Enterprise License"))
# a row input → the report's field (amounts in cents)
ROW_FIELDS = {"amount": "amount_cents", "list_price": "list_price_cents"}


def row_counts(posted: Mapping[str, str] | None, more: bool = False) -> dict[str, int]:
    """Rows to draw per list: the posted count (or the default), three more on "More rows",
    never past `MAX_ROWS`."""
    counts = {}
    for spec in LISTS:
        shown = spec.rows
        if posted is not None:
            raw = posted.get(f"{spec.name}_rows", "")
            shown = int(raw) if COUNT.fullmatch(raw) else spec.rows
        counts[spec.name] = max(1, min(MAX_ROWS, shown + (3 if more else 0)))
    return counts


def initial_values(month: str, email: str) -> dict[str, str]:
    """A fresh form: the oldest open month, zeros, share statistics on."""
    values = {"month": month, "submitted_by": email, "share_statistics": "on"}
    values.update({name: "0" for name in COUNTS})
    values.update({name: "0.00" for name in AMOUNTS})
    return values


def parse_report(
    posted: Mapping[str, str], counts: Mapping[str, int], email: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the `SalesReport` input, problems by input id). `submitted_by` is the signed-in
    contact, whatever was posted."""
    errors: dict[str, str] = {}
    report: dict[str, Any] = {
        "month": posted.get("month", "").strip(),
        "submitted_by": email,
        "share_statistics": posted.get("share_statistics", "") in ("on", "true", "1"),
    }
    for name in COUNTS:
        report[name] = _value(posted.get(name, ""), "count", name, errors, required=True)
    for name, target in AMOUNT_FIELDS.items():
        report[target] = _value(posted.get(name, ""), "amount", name, errors, required=True)
    for spec in LISTS:
        items = []
        for index in range(counts[spec.name]):
            cells = {c: posted.get(f"{spec.name}-{index}-{c}", "").strip() for c, _ in spec.columns}
            if not any(cells.values()):
                continue
            item: dict[str, Any] = {}
            for column, kind in spec.columns:
                key = f"{spec.name}-{index}-{column}"
                item[ROW_FIELDS.get(column, column)] = _value(
                    cells[column], kind, key, errors, required=kind != "flag"
                )
            items.append(item)
        report[spec.name] = items
    return report, errors


def _value(text: str, kind: str, key: str, errors: dict[str, str], *, required: bool) -> Any:
    text = text.strip()
    if kind == "flag":
        return text in ("on", "true", "1")
    if not text:
        if required:
            errors[key] = "this is required"
        return None
    if kind == "count":
        if not COUNT.fullmatch(text):
            errors[key] = "enter a whole number, 0 or more"
            return None
        return int(text)
    if kind == "amount":
        cents = dollars_to_cents(text)
        if cents is None:
            errors[key] = "enter an amount in US dollars, e.g. 1500 or 1500.50"
        return cents
    if kind == "product" and text not in dict(PRODUCTS):
        errors[key] = "choose a product"
        return None
    if len(text) > 200:
        errors[key] = "at most 200 characters"
        return None
    return text


def dollars_to_cents(text: str) -> int | None:
    """`1,500.50` → 150050; None when not a non-negative amount with at most two decimals."""
    match = DOLLARS.fullmatch(text.replace(",", "").replace("$", "").strip())
    if match is None:
        return None
    dollars, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(dollars) * 100 + int(cents)


def field_errors(problems: list[dict[str, str]]) -> dict[str, str]:
    """The validator's problems by the form's input ids: `referred_projects.0.amount_cents`
    → `referred_projects-0-amount`, `sales_closed_cents` → `sales_closed`; a problem of no
    input (the process's state) under `""`."""
    inputs = {target: name for name, target in AMOUNT_FIELDS.items()}
    columns = {target: name for name, target in ROW_FIELDS.items()}
    errors: dict[str, str] = {}
    for problem in problems:
        parts = str(problem.get("field") or "").split(".")
        key = inputs.get(parts[0], parts[0])
        if len(parts) >= 3 and parts[1].isdigit():
            key = f"{parts[0]}-{parts[1]}-{columns.get(parts[2], parts[2])}"
        text = str(problem.get("message") or "rejected")
        errors[key] = f"{errors[key]}; {text}" if key in errors else text
    return errors


def form_values(posted: Mapping[str, str]) -> dict[str, str]:
    """What the form shows again after a post (text only, bounded)."""
    return {k: v[:500] for k, v in posted.items() if not k.startswith("_")}
