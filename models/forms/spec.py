"""The form mechanism: a `FormSpec` says how a form is validated and which process it
starts (or advances), under which business-key id. It is a pure declaration: checks that
need the records (the partner must be active, allocate the deal number) belong to the
intake layer (`starters/form_preparation.py`). The forms live in the modules of this
package; `models.forms.FORMS` is the registry."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.links import make_token
from models.settings import Settings

# The body field of an advance-form that proves who sends it (see `FormSpec.proof_purposes`).
PROOF_FIELD = "proof_token"
# How long a proof token in an email stays valid.
PROOF_VALID = timedelta(days=60)


class FormRejected(ValueError):
    """A valid form the business rules refuse: 422 with `errors` ({field, message})."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class FormSpec:
    """One webhook form: how to validate it and which workflow it starts, under which id."""

    name: str
    workflow_type: str
    title: str
    description: str
    model: type[BaseModel]
    build_workflow_id: Callable[[Any], str]
    build_input: Callable[[Any], BaseModel]
    build_search_attributes: Callable[[Any], dict[str, str]]
    build_summary: Callable[[Any], str]
    build_details: Callable[[Any], str]
    refresh_example: Callable[[dict[str, Any]], dict[str, Any]]
    # A form that advances a running process instead of starting one: the signal to send
    # (its input is `build_input(form)`), the workflow found by `build_workflow_id`.
    signal: str | None = None
    # An advance-form must prove who sends it: `proof_token`, a signed token (models.links)
    # for the very workflow it advances, with one of these purposes, signed with this secret
    # (`link_secret`: the partner got it in the email that asks for the input;
    # `internal_secret`: only internal systems can make it).
    proof_purposes: tuple[str, ...] = ()
    proof_secret: Literal["link_secret", "internal_secret"] = "link_secret"
    # The emails that ask for this form's input and so carry a proof token: a regular
    # expression matched against `<workflow id> <email step>`.
    proof_emails: str | None = None
    # The outcomes (`outcome` of the workflow's result) that free the business key again:
    # when the last run under the id completed with one of them, a new submission starts a
    # new run (a refused evaluation license may be asked for again). Otherwise, and for a
    # running process, the id is used: the same submission answers 200, another one 409.
    reusable_after: tuple[str, ...] = ()
    # The webhook reads at most this many bytes of the body (413 beyond); None: the intake's
    # limit for every form (256 KiB). Only a form that carries a file needs more.
    max_body_bytes: int | None = None

    @property
    def proof_purpose(self) -> str:
        """The purpose of the proof tokens this form's emails carry."""
        return self.proof_purposes[0]

    def proof_token(
        self, settings: Settings, workflow_id: str, expires_at: datetime | None = None
    ) -> str:
        """A proof token for posting this form to `workflow_id` (what the emails that ask
        for the input carry; internal systems make theirs with the internal secret)."""
        expires_at = expires_at or datetime.now(UTC) + PROOF_VALID
        secret = settings.secret(self.proof_secret)
        return make_token(secret, workflow_id, self.proof_purpose, expires_at)

    def workflow_id(self, form: BaseModel) -> str:
        """The business-key workflow id, so a repeated webhook never starts a second copy."""
        return self.build_workflow_id(form)

    def to_workflow_input(self, form: BaseModel) -> BaseModel:
        """The workflow's input built from the validated form."""
        return self.build_input(form)

    def search_attributes(self, form: BaseModel) -> dict[str, str]:
        """Search attribute values by name (`Program`, `PartnerId` when known)."""
        return self.build_search_attributes(form)

    def summary(self, form: BaseModel) -> str:
        """One line for the Temporal UI's workflow summary."""
        return self.build_summary(form)

    def details(self, form: BaseModel) -> str:
        """Markdown for the Temporal UI's workflow details: who, what, amounts."""
        return self.build_details(form)

    def json_schema(self) -> dict[str, Any]:
        """The form's JSON Schema, with complete valid `examples`. An advance-form's
        `proof_token` is listed as required (the intake answers 403, not 422, without it)."""
        schema = self.model.model_json_schema()
        if self.proof_purposes:
            schema["required"] = [*schema.get("required", []), PROOF_FIELD]
        return schema

    def examples(self) -> list[dict[str, Any]]:
        """The complete valid examples published in the schema."""
        return copy.deepcopy(self.model.model_json_schema().get("examples", []))

    def fresh_example(self) -> dict[str, Any]:
        """The first example with fresh unique identifiers, ready to post."""
        return self.refresh_example(self.examples()[0])


class ProvenForm(BaseModel):
    """The proof field of a form that advances a running process (checked by the intake:
    403 naming what is missing when it is absent, forged, expired or for another process)."""

    proof_token: str | None = Field(
        default=None,
        max_length=2000,
        description=(
            "Proof of the sender, required: the signed token for this very process from the "
            "email that asks for the input (partners), or made with the internal secret "
            "(internal systems). Without it the form is refused with 403."
        ),
    )


def money(cents: int, currency: str = "usd") -> str:
    """`USD 6,000.00` from integer cents."""
    return f"{currency.upper()} {cents // 100:,}.{cents % 100:02d}"
