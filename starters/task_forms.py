"""A human task's form, generated from its input's JSON Schema (pydantic v2's), and the
posted form parsed back into the JSON input. Pure functions, no Temporal.

    fields = task_form(Model.model_json_schema(), example, operator="anna")
    payload, errors = parse_form(fields, posted)  # posted: {name: value} of the POST

One field per top-level property: strings are text inputs (a textarea when long; email, url
and date inputs by `format`), integers and numbers number inputs, booleans a checkbox, an
`enum` or `const` a `<select>`; `$ref`s are resolved and `anyOf [X, null]` is an optional X.
What does not map to one input (arrays, nested objects, unions) is a JSON textarea. Values
are prefilled from the example (else the schema's default).

Fields the server sets, shown read-only and never read from the post:
- the actor: the first of `ACTOR_FIELDS` the schema has, except `email`, is the signed-in
  operator's name. `email` names the customer or signer whose written consent an operator
  records (`accept_terms`, `sign_agreement`), not who acted, so it stays an input;
- `via` (when it allows "operator"): such a submission comes from an operator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from workflows.human_updates import ACTOR_FIELDS

Widget = Literal[
    "text", "textarea", "email", "url", "date", "number", "checkbox", "select", "json", "fixed"
]
OPERATOR_FIELDS = tuple(name for name in ACTOR_FIELDS if name != "email")
LONG_TEXT = 1000  # a string allowed this long or longer is a textarea
CHECKED = {"on", "true", "1", "yes"}
ACRONYMS = {"ip": "IP", "url": "URL", "id": "ID", "sku": "SKU", "sha256": "SHA-256"}
FORMATS: dict[str, Widget] = {"email": "email", "uri": "url", "date": "date"}


@dataclass(frozen=True)
class FormField:
    """One input of a task's form, as the template draws it and `parse_form` reads it."""

    name: str
    label: str
    widget: Widget
    required: bool = False
    nullable: bool = False  # an empty input means null (else: omitted)
    value: str = ""  # what the input shows (JSON text for a json field)
    options: tuple[tuple[str, Any], ...] = ()  # (shown and posted text, JSON value)
    help: str = ""
    integer: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    max_length: int | None = None

    @property
    def checked(self) -> bool:
        return self.value in CHECKED


def task_form(
    schema: Mapping[str, Any], values: Mapping[str, Any], operator: str
) -> list[FormField]:
    """The form of an object schema, prefilled from `values` (the task's example)."""
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    properties: Mapping[str, Any] = schema.get("properties", {})
    actor = next((name for name in OPERATOR_FIELDS if name in properties), None)
    fields = []
    for name, prop in properties.items():
        if name == actor:
            fields.append(_fixed(name, operator, "you: the signed-in operator"))
        elif name == "via" and "operator" in _resolve(prop, defs).get("enum", ()):
            fields.append(_fixed(name, "operator", "entered by an operator"))
        else:
            fields.append(_field(name, prop, defs, name in required, values))
    return fields


def _fixed(name: str, value: str, note: str) -> FormField:
    return FormField(name, _label(name), "fixed", value=value, help=note)


def _label(name: str) -> str:
    words = name.replace("_", " ").strip().capitalize().split(" ")
    return " ".join(ACRONYMS.get(word.lower(), word) for word in words)


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The property with `$ref` (and a one-item `allOf`) replaced by what it names; the
    property's own keys (description, default) win."""
    merged = dict(prop)
    for _ in range(10):  # a reference to a reference; a loop stops here
        if len(merged.get("allOf", ())) == 1:
            merged = {**merged.pop("allOf")[0], **merged}
        ref = merged.pop("$ref", None)
        if not isinstance(ref, str):
            return merged
        merged = {**defs.get(ref.rsplit("/", 1)[-1], {}), **merged}
    return merged


def _unwrap_null(prop: dict[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the non-null alternative, whether null is allowed) of `anyOf [X, null]`."""
    options = prop.get("anyOf")
    if isinstance(options, list):
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1 and len(rest) < len(options):
            outer = {k: v for k, v in prop.items() if k != "anyOf"}
            return {**_resolve(rest[0], defs), **outer}, True
    types = prop.get("type")
    if isinstance(types, list) and "null" in types:
        rest = [t for t in types if t != "null"]
        return {**prop, "type": rest[0] if len(rest) == 1 else rest}, True
    return prop, False


def _field(
    name: str,
    raw: Mapping[str, Any],
    defs: Mapping[str, Any],
    required: bool,
    values: Mapping[str, Any],
) -> FormField:
    prop, nullable = _unwrap_null(_resolve(raw, defs), defs)
    value = values.get(name, prop.get("default"))
    kind = prop.get("type")
    base = FormField(
        name, _label(name), "text", required=required and not nullable, nullable=nullable,
        help=str(prop.get("description") or ""),
    )  # fmt: skip
    choices = [prop["const"]] if "const" in prop else prop.get("enum")
    if kind == "boolean" or choices == [True]:
        return replace(base, widget="checkbox", value="true" if value else "")
    if isinstance(choices, list) and choices:
        return replace(base, widget="select", value=_text(value), options=_options(choices))
    if kind in ("integer", "number"):
        return replace(
            base, widget="number", value=_text(value), integer=kind == "integer",
            minimum=_bound(prop, "minimum", "exclusiveMinimum", kind, 1),
            maximum=_bound(prop, "maximum", "exclusiveMaximum", kind, -1),
        )  # fmt: skip
    if kind == "string":
        length = prop.get("maxLength")
        widget = FORMATS.get(prop.get("format", ""), "text")
        if widget == "text" and isinstance(length, int) and length >= LONG_TEXT:
            widget = "textarea"
        if prop.get("format") == "date-time":
            note = "ISO 8601 date and time with a time zone, e.g. 2026-12-01T15:00:00Z"
            base = replace(base, help=_joined(base.help, note))
        return replace(base, widget=widget, value=_text(value), max_length=length)
    shown = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
    note = {"array": "a JSON array", "object": "a JSON object"}.get(str(kind), "JSON")
    return replace(base, widget="json", value=shown, help=_joined(base.help, note))


def _joined(text: str, note: str) -> str:
    return f"{text} ({note})" if text else note[:1].upper() + note[1:]


def _options(choices: list[Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((_text(choice), choice) for choice in choices)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _bound(
    prop: Mapping[str, Any], inclusive: str, exclusive: str, kind: str, step: int
) -> int | float | None:
    """The input's min (or max): an exclusive bound of an integer moves one step inside."""
    bound = prop.get(inclusive)
    if isinstance(bound, int | float):
        return bound
    bound = prop.get(exclusive)
    return bound + step if kind == "integer" and isinstance(bound, int) else None


# --- reading the post --------------------------------------------------------------------------


def parse_form(
    fields: list[FormField], posted: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the JSON input, problems by field). A field left empty is omitted (the model's
    default applies, or the validator names the missing field); an empty field that may
    be null and is required is sent as null. Fixed fields take their own value."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        if field.widget == "fixed":
            payload[field.name] = field.value
            continue
        text = posted.get(field.name, "")
        if field.widget == "checkbox":
            payload[field.name] = text in CHECKED
            continue
        text = text if field.widget in ("textarea", "json") else text.strip()
        if not text.strip():
            if field.nullable:
                payload[field.name] = None
            continue
        try:
            payload[field.name] = _parse(field, text)
        except ValueError as exc:
            errors[field.name] = str(exc)
    return payload, errors


def _parse(field: FormField, text: str) -> Any:
    if field.widget == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if field.widget == "select":
        for shown, value in field.options:
            if shown == text:
                return value
        raise ValueError("choose one of the options")
    if field.widget == "number":
        return _number(text, field.integer)
    return text


def _number(text: str, integer: bool) -> int | float:
    if integer:
        try:
            return int(text, 10)
        except ValueError:
            raise ValueError("enter a whole number") from None
    try:
        number = float(text)
    except ValueError:
        raise ValueError("enter a number") from None
    if not math.isfinite(number):
        raise ValueError("enter a number")
    return number


def refill(fields: list[FormField], posted: Mapping[str, str]) -> list[FormField]:
    """The fields showing what was posted (to show the form again with its problems)."""
    return [
        field if field.widget == "fixed" else replace(field, value=posted.get(field.name, ""))
        for field in fields
    ]


def problems_by_field(problems: list[dict[str, str]], fields: list[FormField]) -> dict[str, str]:
    """The validator's problems by form field: `end_customer.address.country` belongs to
    the field `end_customer`; a problem of no field (the process's state, or a field the
    form does not have) is under `""`."""
    names = {field.name for field in fields}
    errors: dict[str, str] = {}
    for problem in problems:
        path = str(problem.get("field") or "")
        top, _, rest = path.partition(".")
        key = top if top in names else ""
        text = str(problem.get("message") or "rejected")
        if rest or (path and not key):
            text = f"{rest or path}: {text}"
        errors[key] = f"{errors[key]}; {text}" if key in errors else text
    return errors
