"""Form intake shared by the web service and the CLI: signatures, validation, starting.

A form starts its workflow under a business-key id with `REJECT_DUPLICATE`, so the same
webhook delivered twice (or after the workflow finished) never starts a second copy: the
same submission answers 200, different content under the same key answers 409. A form may
free its key after some outcomes (`FormSpec.reusable_after`: a refused or rejected
evaluation license): when the last run ended so, the next submission starts a new run
(`ALLOW_DUPLICATE`).

A form that advances a running process (`FormSpec.signal`) must prove who sends it: its
`proof_token` is a signed token for that very workflow (from the email that asks for the
input, or made with the internal secret), else 403 and nothing is signalled. Its delivery
is recorded (`activities.form_deliveries`) under a delivery id derived from the signed
body: claimed, signalled (with that id as the request id), marked delivered; the same body
again answers 200 with the same workflow id and the workflow receives the input once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.form_deliveries import claim_delivery, mark_delivered, release_delivery
from models.constant_time import same_secret
from models.forms import FORMS, FormRejected, FormSpec
from models.forms.spec import PROOF_FIELD
from models.links import LinkError, read_token
from models.settings import Settings
from starters.form_preparation import PREPARATIONS
from workflows.search_attributes import ALL_KEYS, STAGE

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Partnerflow-Signature"
RPC_TIMEOUT = timedelta(seconds=10)
_KEYS_BY_NAME = {key.name: key for key in ALL_KEYS}
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class SignatureError(ValueError):
    """The webhook signature is missing, malformed, stale or does not match."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class IntakeResult:
    """What to answer the caller: an HTTP status code and a JSON body."""

    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


# --- signatures --------------------------------------------------------------------------------


def _digest(secret: str, raw_body: bytes, t: int | str, form: str | None = None) -> str:
    """v2 (with `form`): HMAC of "<t>.<form>.<body>"; v1: HMAC of "<t>.<body>"."""
    message = (f"{t}." if form is None else f"{t}.{form}.").encode() + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, raw_body: bytes, t: int, form: str) -> str:
    """The `X-Partnerflow-Signature` header value for `raw_body` posted to `form`, signed
    at unix time `t` (v2: the form's name is signed with the body, so a body signed for one
    form is refused by every other)."""
    return f"t={int(t)},v2={_digest(secret, raw_body, int(t), form)}"


def sign_v1(secret: str, raw_body: bytes, t: int) -> str:
    """The previous scheme, without the form's name: accepted only until
    `PARTNERFLOW_WEBHOOK_V1_UNTIL`."""
    return f"t={int(t)},v1={_digest(secret, raw_body, int(t))}"


def verify_signature(
    secret: str,
    header: str | None,
    raw_body: bytes,
    now: float,
    tolerance: int,
    *,
    form: str | None = None,
    accept_v1: bool = False,
) -> None:
    """Check `t=<unix seconds>,v2=<hex HMAC>` for `form` (and `v1=` while `accept_v1`);
    raise `SignatureError(reason)` if not valid.

    The timestamp must be within `tolerance` seconds of `now`, either way. Any one of several
    values may match (a client signing with the old and the new secret during rotation).
    """
    if not header or not header.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamps: list[str] = []
    candidates: dict[str, list[str]] = {"v1": [], "v2": []}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected t=...,v2=...")
        if key == "t":
            timestamps.append(value)
        elif key in candidates:
            candidates[key].append(value.lower())
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]):
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: one t=<unix seconds> needed")
    if not candidates["v2"] and not candidates["v1"]:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: no v2= signature")
    if not candidates["v2"] and not accept_v1:
        raise SignatureError(
            "v1 signatures (without the form's name) are no longer accepted: sign "
            '"<t>.<form>.<body>" and send it as v2='
        )
    t = int(timestamps[0])
    if abs(now - t) > tolerance:
        raise SignatureError(
            f"stale timestamp: t={t} is more than {tolerance} seconds from the server's clock"
        )
    expected = {"v2": _digest(secret, raw_body, t, form) if form is not None else None}
    expected["v1"] = _digest(secret, raw_body, t) if accept_v1 else None
    matched = False
    for scheme, values in candidates.items():  # no early exit: every candidate is compared
        for candidate in values:
            wanted = expected[scheme]
            matched |= wanted is not None and same_secret(candidate, wanted)
    if not matched:
        raise SignatureError("signature mismatch")


# --- submissions ---------------------------------------------------------------------------------


def submission_sha256(form: BaseModel) -> str:
    """SHA-256 of the canonical JSON of a validated form (sorted keys, no whitespace)."""
    canonical = json.dumps(
        form.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """One `{field, message, type}` per bad field, `field` a dotted path (`lines.0.seats`)."""
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "body",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False)
    ]


def _search_attributes(spec: FormSpec, form: BaseModel) -> TypedSearchAttributes:
    pairs = [
        SearchAttributePair(_KEYS_BY_NAME[name], value)
        for name, value in spec.search_attributes(form).items()
    ]
    return TypedSearchAttributes([*pairs, SearchAttributePair(STAGE, "received")])


async def submit_form(
    client: Client,
    settings: Settings,
    form_name: str,
    payload: Any,
    *,
    execution_timeout: timedelta | None = None,
) -> IntakeResult:
    """Validate `payload` as form `form_name` and start its workflow (at most once).

    202 started, 200 the same submission again, 404 unknown form, 409 other content under the
    same business key, 422 invalid (each bad field named), 503 Temporal unreachable.
    """
    spec = FORMS.get(form_name)
    if spec is None:
        return IntakeResult(404, {"detail": f"unknown form {form_name!r}", "forms": sorted(FORMS)})
    try:
        form = spec.model.model_validate(payload)
    except ValidationError as exc:
        errors = validation_errors(exc)
        fields = ", ".join(error["field"] for error in errors)
        return IntakeResult(
            422, {"detail": f"invalid {form_name} form: {fields}", "errors": errors}
        )
    if spec.signal is not None and (refused := proof_refusal(settings, spec, form)) is not None:
        return refused
    prepare = PREPARATIONS.get(form_name)
    if prepare is not None:
        try:
            form = await asyncio.to_thread(prepare, form, settings)
        except FormRejected as exc:
            fields = ", ".join(
                f"{error['field']} ({error['type']})" if error.get("type") else error["field"]
                for error in exc.errors
            )
            return IntakeResult(
                422, {"detail": f"{form_name} form refused: {fields}", "errors": exc.errors}
            )
    workflow_id = spec.workflow_id(form)
    if spec.signal is not None:
        return await _signal(client, settings, spec, form, workflow_id, delivery_id(spec, payload))
    digest = submission_sha256(form)
    try:
        handle = await client.start_workflow(
            spec.workflow_type,
            spec.to_workflow_input(form),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=await _id_reuse_policy(client, spec, workflow_id),
            execution_timeout=execution_timeout,
            search_attributes=_search_attributes(spec, form),
            memo={"form": spec.name, "submission_sha256": digest},
            static_summary=spec.summary(form)[:400],
            static_details=spec.details(form),
            rpc_timeout=RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        return await _existing(client, spec, workflow_id, digest)
    except RPCError as exc:
        if exc.status in _UNAVAILABLE:
            return unavailable(exc)
        raise
    except RuntimeError as exc:  # a lazy client that cannot connect
        if "client connect" in str(exc):
            return unavailable(exc)
        raise
    return IntakeResult(202, {"workflow_id": workflow_id, "run_id": handle.result_run_id})


async def _id_reuse_policy(
    client: Client, spec: FormSpec, workflow_id: str
) -> WorkflowIDReusePolicy:
    """`REJECT_DUPLICATE`: a business key runs once. `ALLOW_DUPLICATE` only when the form
    frees its key after some outcomes (`FormSpec.reusable_after`) and the last run under the
    id completed with one of them. A running process is never replaced: its start fails
    whatever the policy, and the submission is answered as a duplicate (200 or 409)."""
    if not spec.reusable_after:
        return WorkflowIDReusePolicy.REJECT_DUPLICATE
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return WorkflowIDReusePolicy.REJECT_DUPLICATE
        raise
    if description.status != WorkflowExecutionStatus.COMPLETED:
        return WorkflowIDReusePolicy.REJECT_DUPLICATE
    last_run = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    result = await last_run.result(follow_runs=False, rpc_timeout=RPC_TIMEOUT)
    outcome = result.get("outcome") if isinstance(result, dict) else None
    if outcome in spec.reusable_after:
        return WorkflowIDReusePolicy.ALLOW_DUPLICATE
    return WorkflowIDReusePolicy.REJECT_DUPLICATE


def delivery_id(spec: FormSpec, payload: Any) -> str:
    """The id of a delivery: SHA-256 of the form name and the canonical JSON of the signed
    body (sorted keys, no whitespace), so a repeated webhook has the same one."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{spec.name}\n{canonical}".encode()).hexdigest()


def proof_refusal(settings: Settings, spec: FormSpec, form: BaseModel) -> IntakeResult | None:
    """403 naming what is missing unless the form's `proof_token` is a valid token, signed
    with the form's secret, for the very workflow the form advances; None when it is."""
    workflow_id = spec.workflow_id(form)
    if spec.proof_secret == "internal_secret":
        source = "made with the internal secret (internal senders only)"
    else:
        source = "from the email that asks for this input"
    needed = f"a {PROOF_FIELD} for {workflow_id} {source}"
    token = getattr(form, PROOF_FIELD, None)
    if not token:
        return _forbidden(spec, f"missing {PROOF_FIELD}: the {spec.name} form needs {needed}")
    secret = settings.secret(spec.proof_secret)
    problem = "is not valid"
    for purpose in spec.proof_purposes:
        try:
            claims = read_token(secret, token, purpose)
        except LinkError as exc:
            if "expired" in str(exc):
                problem = "has expired"
            continue
        if claims.workflow_id != workflow_id:
            return _forbidden(
                spec, f"{PROOF_FIELD} is for another process: the {spec.name} form needs {needed}"
            )
        return None
    return _forbidden(spec, f"{PROOF_FIELD} {problem}: the {spec.name} form needs {needed}")


def _forbidden(spec: FormSpec, message: str) -> IntakeResult:
    error = {"field": PROOF_FIELD, "message": message, "type": "proof"}
    return IntakeResult(403, {"detail": f"{spec.name} form refused: {message}", "errors": [error]})


async def _signal(
    client: Client,
    settings: Settings,
    spec: FormSpec,
    form: BaseModel,
    workflow_id: str,
    delivery: str,
) -> IntakeResult:
    """Deliver a form to the running process it belongs to, once (the workflow validates it
    and records a rejection in its history if it does not fit its current step)."""
    assert spec.signal is not None
    handle = client.get_workflow_handle(workflow_id)
    claim = None
    try:
        description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        if description.status != WorkflowExecutionStatus.RUNNING:
            detail = f"process {workflow_id} is closed: the {spec.name} form can no longer be taken"
            return IntakeResult(409, {"detail": detail, "workflow_id": workflow_id})
        claim = await asyncio.to_thread(
            claim_delivery, settings, delivery, spec.name, workflow_id, spec.signal
        )
        if not claim.delivered:
            # A claim not marked delivered (a delivery in flight, or one that stopped between
            # claim and mark) is signalled again under the same request id: Temporal drops
            # a signal whose request id the run already took.
            await _signal_once(
                client,
                workflow_id,
                spec.signal,
                spec.to_workflow_input(form).model_dump(mode="json"),
                request_id=str(uuid.UUID(delivery[:32])),
            )
            await asyncio.to_thread(mark_delivered, settings, delivery)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            if claim is not None:
                await asyncio.to_thread(release_delivery, settings, delivery)
            return IntakeResult(
                404, {"detail": f"no process {workflow_id} for this {spec.name} form"}
            )
        if exc.status in _UNAVAILABLE:
            return unavailable(exc)
        raise
    assert claim is not None
    body: dict[str, Any] = {
        "workflow_id": workflow_id,
        "run_id": description.run_id,
        "signal": spec.signal,
        "delivery_id": delivery,
    }
    if not claim.new:
        return IntakeResult(200, {**body, "duplicate": True})
    return IntakeResult(202, body)


async def _signal_once(
    client: Client, workflow_id: str, signal: str, arg: Any, *, request_id: str
) -> None:
    """Signal the workflow's current run with a fixed request id (the SDK's `signal` makes a
    random one), encoded by the client's data converter (and payload codec)."""
    request = SignalWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        signal_name=signal,
        identity=client.identity,
        request_id=request_id,
    )
    request.input.payloads.extend(await client.data_converter.encode([arg]))
    await client.workflow_service.signal_workflow_execution(
        request, retry=True, timeout=RPC_TIMEOUT
    )


async def _existing(client: Client, spec: FormSpec, workflow_id: str, digest: str) -> IntakeResult:
    try:
        description = await client.get_workflow_handle(workflow_id).describe(
            rpc_timeout=RPC_TIMEOUT
        )
        memo = await description.memo()
    except RPCError as exc:
        if exc.status in _UNAVAILABLE:
            return unavailable(exc)
        raise
    if memo.get("form") == spec.name and memo.get("submission_sha256") == digest:
        return IntakeResult(
            200, {"workflow_id": workflow_id, "run_id": description.run_id, "duplicate": True}
        )
    return IntakeResult(
        409,
        {
            "detail": (
                f"conflict: workflow {workflow_id} already exists with different content; "
                f"a {spec.name} form's business key cannot be reused"
            ),
            "workflow_id": workflow_id,
            "run_id": description.run_id,
        },
    )


def unavailable(exc: BaseException) -> IntakeResult:
    """503: Temporal cannot be reached, nothing was started (the cause is logged)."""
    log.warning("Temporal unreachable: %s", exc)
    return IntakeResult(
        503, {"detail": "Temporal is unreachable: nothing was started, please retry later"}
    )
