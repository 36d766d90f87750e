"""Fuzzing the web service's intake endpoints with schemathesis, from the app's own OpenAPI.

`create_app(settings, temporal)` gets a recording stand-in for the Temporal client. Checks:

- no request ever makes the service fail (no 5xx, no unhandled exception);
- an unsigned request (every fuzzed request: none carries a valid signature or link token)
  never reaches Temporal: no workflow started, signalled or queried;
- a signed form submission starts (or signals) a workflow only when its body is a valid form;
- every other endpoint (pages, feeds, the codec, sign-in) never fails and, without a sign-in,
  never reaches Temporal.

`make test` runs a few examples per endpoint; `make fuzz` runs many (`FUZZ_EXAMPLES`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from pydantic import ValidationError
from schemathesis.checks import not_a_server_error
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.database import migrate
from models.forms import FORMS
from models.settings import Settings
from starters.intake import SIGNATURE_HEADER, sign
from starters.order_prerequisites import seed_order_example
from starters.web.app import create_app

# `make test`: a few examples per endpoint, the same ones every run; `make fuzz`: many, random.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 8)
FUZZ_RANDOM = bool(os.environ.get("FUZZ_EXAMPLES"))
INTAKE_PATHS = r"^/(webhooks/(forms/\{form\}$|stripe$|sendgrid$)|accept/|sign/|listing/)"
SECRET = "test-webhook-secret"  # the `settings` fixture's PARTNERFLOW_WEBHOOK_SECRET
FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not FUZZ_RANDOM,
    database=None,  # no .hypothesis directory; a failure prints how to reproduce it
    print_blob=True,
)
PUBLIC_KEY = base64.b64encode(
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


class RecordingTemporal:
    """Stands in for `temporalio.client.Client`: records every use, answers like a server on
    which every workflow is running (so a start or signal, when it happens, succeeds)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    async def start_workflow(self, workflow: str, arg: Any, *, id: str, **_: Any) -> Any:
        self.calls.append(("start_workflow", id, arg))
        return SimpleNamespace(id=id, result_run_id="run-fuzz")

    def get_workflow_handle(self, workflow_id: str, **_: Any) -> Any:
        self.calls.append(("get_workflow_handle", workflow_id, None))
        return _Handle(self, workflow_id)

    def __getattr__(self, name: str) -> Any:
        self.calls.append((name, "", None))
        raise AttributeError(name)


class _Handle:
    def __init__(self, temporal: RecordingTemporal, workflow_id: str) -> None:
        self.temporal, self.id = temporal, workflow_id

    async def signal(self, name: str, arg: Any = None, **_: Any) -> None:
        self.temporal.calls.append(("signal", self.id, (name, arg)))

    async def describe(self, **_: Any) -> Any:
        async def memo() -> dict[str, Any]:
            return {}

        return SimpleNamespace(status=WorkflowExecutionStatus.RUNNING, run_id="run-fuzz", memo=memo)

    async def query(self, name: str, *args: Any, **_: Any) -> Any:
        self.temporal.calls.append(("query", self.id, name))
        raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")


TEMPORAL = RecordingTemporal()
_DATA = Path(tempfile.mkdtemp(prefix="partnerflow-fuzz-"))
set_hypothesis_home_dir(str(_DATA / "hypothesis"))  # its caches stay out of the repository
SETTINGS = Settings(
    PARTNERFLOW_DATA_DIR=_DATA,
    DATABASE_URL=f"sqlite:///{_DATA / 'records.db'}",
    PARTNERFLOW_WEBHOOK_SECRET=SECRET,
    PARTNERFLOW_LINK_SECRET="test-link-secret",
    PARTNERFLOW_RATE_LIMIT_PER_MINUTE=0,
    STRIPE_WEBHOOK_SECRET="whsec_fuzz",
    SENDGRID_WEBHOOK_PUBLIC_KEY=PUBLIC_KEY,
    _env_file=None,
)
# The schema is the app's own OpenAPI; the app is built once per module, at import, because
# schemathesis parametrizes at collection (its fixture-based loader does not run on pytest 9).
APP = create_app(SETTINGS, TEMPORAL)  # type: ignore[arg-type]
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
SCHEMA.config.generation.update(
    max_examples=FUZZ_EXAMPLES, deterministic=not FUZZ_RANDOM, database="none"
)
intake = SCHEMA.include(path_regex=INTAKE_PATHS)
forms = SCHEMA.include(method="POST", path="/webhooks/forms/{form}")
# Every other endpoint (pages, feeds, the codec, sign-in), fuzzed without the coverage phase
# that the intake gets (its generated cases would double the collection time).
PAGES_SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
PAGES_SCHEMA.config.generation.update(
    max_examples=FUZZ_EXAMPLES, deterministic=not FUZZ_RANDOM, database="none"
)
PAGES_SCHEMA.config.phases.update(phases=["examples", "fuzzing"])
others = PAGES_SCHEMA.exclude(path_regex=INTAKE_PATHS)


@pytest.fixture(scope="module", autouse=True)
def _records_database() -> Iterator[None]:
    """The records database the form preparation and the pages read."""
    migrate(SETTINGS.resolved_database_url)
    seed_order_example(SETTINGS)  # the order example's partner and deal registration
    yield
    shutil.rmtree(_DATA, ignore_errors=True)


@pytest.fixture
def temporal() -> RecordingTemporal:
    TEMPORAL.calls.clear()
    return TEMPORAL


@intake.parametrize()
@FUZZ_SETTINGS
def test_unsigned_requests_never_reach_temporal(case: Any, temporal: RecordingTemporal) -> None:
    temporal.calls.clear()
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert temporal.calls == [], (
        f"{case.method} {case.formatted_path} answered {response.status_code} and used Temporal: "
        f"{temporal.calls}"
    )


@others.parametrize()
@FUZZ_SETTINGS
def test_no_other_endpoint_fails_or_reaches_temporal_without_a_sign_in(
    case: Any, temporal: RecordingTemporal
) -> None:
    """The pages, feeds, codec and sign-in: no request fails, and none without an operator's
    session (or the codec's token) uses Temporal."""
    temporal.calls.clear()
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert temporal.calls == [], (
        f"{case.method} {case.formatted_path} answered {response.status_code} and used Temporal: "
        f"{temporal.calls}"
    )


# Found by this fuzzing: a non-ASCII token made `hmac.compare_digest(str, str)` raise, so
# `GET /accept/.%C2%80` (likewise /sign, /listing) answered 500; tokens are compared as bytes now.
async def test_non_ascii_link_token_is_refused_not_a_crash() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=APP), base_url="http://test"
    ) as http:
        for path in ["/accept/.%C2%80", "/sign/.%C2%80", "/listing/.%C2%80"]:
            response = await http.get(path)
            assert response.status_code in (403, 404), (path, response.status_code)


def _json_body(case: Any) -> bytes | None:
    """The body as the JSON bytes that will be sent, or None when it is not JSON."""
    if isinstance(case.body, (dict, list, str, int, float, bool)) or case.body is None:
        try:
            return json.dumps(case.body, allow_nan=False).encode()
        except (TypeError, ValueError):
            return None
    return None


@forms.parametrize()
@FUZZ_SETTINGS
def test_signed_forms_start_workflows_only_from_valid_forms(
    case: Any, temporal: RecordingTemporal
) -> None:
    temporal.calls.clear()
    raw = _json_body(case)
    if raw is not None:
        case.body = raw  # sent byte for byte as signed, for the form it is posted to
        case.headers = {
            **(case.headers or {}),
            SIGNATURE_HEADER: sign(
                SECRET, raw, int(time.time()), str(case.path_parameters.get("form"))
            ),
        }
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    effects = [call for call in temporal.calls if call[0] in ("start_workflow", "signal")]
    if not effects:
        return
    form = case.path_parameters.get("form")
    assert form in FORMS, f"unknown form {form!r} started {effects}"
    assert raw is not None, f"a body that is not JSON started {effects}"
    try:
        FORMS[form].model.model_validate(json.loads(raw))
    except ValidationError as exc:
        raise AssertionError(f"invalid {form} form started {effects}: {exc}") from None
    assert response.status_code in (200, 202), response.text
    assert len(effects) == 1


async def test_the_harness_sees_a_start_from_a_signed_valid_form(
    temporal: RecordingTemporal,
) -> None:
    """The positive control: a signed, valid order form does reach the stand-in client."""
    raw = json.dumps(FORMS["order"].fresh_example()).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(SECRET, raw, int(time.time()), "order"),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=APP), base_url="http://test"
    ) as http:
        response = await http.post("/webhooks/forms/order", content=raw, headers=headers)
        assert response.status_code == 202, response.text
        assert [call[0] for call in temporal.calls] == ["start_workflow"]
        temporal.calls.clear()
        headers[SIGNATURE_HEADER] = sign("wrong-secret", raw, int(time.time()), "order")
        assert (
            await http.post("/webhooks/forms/order", content=raw, headers=headers)
        ).status_code == 401
    assert temporal.calls == []
