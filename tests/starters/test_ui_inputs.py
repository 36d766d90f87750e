"""Every process can be started from the Temporal UI's *Start Workflow* form.

The UI sends the input as one `json/plain` payload, exactly what a client with Temporal's
DEFAULT data converter sends for a dict. For each workflow type of the worker,
`docs/ui-inputs/<WorkflowType>.json` is the input an operator pastes; these tests check that
each file is the published form example mapped to the workflow input (so the docs cannot
drift from the forms), and that starting it with the default converter on the dev server,
against a real worker with the pydantic converter, reaches a stage without any failure.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import pytest_asyncio
from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.partners import PartnerActivities
from models.contracts import PartnerRecord
from models.forms import FORMS
from models.settings import Settings
from starters.form_preparation import PREPARATIONS
from tests.conftest import _test_settings
from tests.eventually import GiveUp, eventually
from workers.main import WORKFLOWS, build_worker
from workflows.human_tasks import HumanTask

UI_INPUTS = Path(__file__).resolve().parents[2] / "docs" / "ui-inputs"
FAILED_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
# Started by a Temporal Schedule, not a process: it signals the partnership and completes.
NO_STATUS = {"RocketChatReviewTrigger"}
# The first human step each process reaches from its UI input (docs/temporal-ui.md).
FIRST_TASK = {
    "OrderFulfillment": "accept_terms",
    "VarApplication": "review_application",
    "SystemIntegratorApplication": "record_discussion",
    "DirectoryListing": "submit_listing",
    "EvaluationLicense": "review_evaluation_license",
    "DealRegistration": "review_deal",
    "AuthorizedResale": "reach_out",
    "RocketChatOnboarding": "review_prerequisites",
    "RocketChatPartnership": "record_fee_payment",
    "RocketChatRevenueShare": "record_payment",
    "SubscriptionRenewal": "renew_subscription",
}
# Entities at rest from their UI input: a stage, no task (`offboard` is asked any time).
AT_REST = {"Partner"}


def workflow_type(cls: type) -> str:
    definition = workflow._Definition.must_from_class(cls)
    assert definition.name is not None
    return definition.name


WORKFLOW_TYPES = {workflow_type(cls): cls for cls in WORKFLOWS}


def input_type(cls: type) -> Any:
    """The type of the workflow's single `run` argument (what the pydantic converter builds)."""
    hints = get_type_hints(cls.run)  # type: ignore[attr-defined]
    hints.pop("return", None)
    (only,) = hints.values()
    return only


def ui_input(name: str) -> Any:
    path = UI_INPUTS / f"{name}.json"
    assert path.exists(), f"{path} missing: every workflow type needs its UI input"
    return json.loads(path.read_text())


def form_example_input(name: str) -> dict[str, Any] | None:
    """The input a form's published example starts `name` with (forms that start it without
    records, i.e. no `prepare` that allocates or looks up data)."""
    for spec in FORMS.values():
        if spec.workflow_type == name and spec.signal is None and name != "DealRegistration":
            form = spec.model.model_validate(spec.examples()[0])
            return spec.to_workflow_input(form).model_dump(mode="json", exclude_defaults=True)
    return None


def seed_active_var(settings: Settings, partner_id: str = "nordlicht-it") -> None:
    """The example partner as an active Mattermost VAR: deal registrations and evaluation
    licenses are for active partners only."""
    record = PartnerRecord(
        partner_id=partner_id,
        program="mattermost",
        partner_type="value_added_reseller",
        company="Nordlicht IT-Systemhaus GmbH",
        country="DE",
        contact_name="Lena Hoffmann",
        contact_email="lena.hoffmann@example.com",
        status="active",
        discount_percent=20,
        attributes={"tier": "gold"},
        at=datetime.now(UTC),
    )
    ActivityEnvironment().run(PartnerActivities(settings).upsert_partner, record)


# --- the files -------------------------------------------------------------------------------


def test_every_workflow_type_has_a_ui_input_of_its_input_type() -> None:
    files = {path.stem for path in UI_INPUTS.glob("*.json")}
    assert files == set(WORKFLOW_TYPES), (
        "docs/ui-inputs must hold exactly one file per workflow type"
    )
    for name, cls in WORKFLOW_TYPES.items():
        TypeAdapter(input_type(cls)).validate_python(ui_input(name))


@pytest.mark.parametrize(
    "name", sorted(n for n in WORKFLOW_TYPES if form_example_input(n) is not None)
)
def test_ui_input_is_the_forms_published_example(name: str) -> None:
    assert ui_input(name) == form_example_input(name), (
        f"docs/ui-inputs/{name}.json differs from its form's published example mapped to the "
        "workflow input: update the file"
    )


def test_deal_registration_ui_input_is_what_the_form_intake_builds(settings: Settings) -> None:
    seed_active_var(settings)
    spec = FORMS["deal-registration"]
    prepare = PREPARATIONS["deal-registration"]
    built = prepare(spec.model.model_validate(spec.examples()[0]), settings)
    expected = built.model_dump(mode="json", exclude_defaults=True)
    documented = ui_input("DealRegistration")
    assert {**documented, "deal_number": None} == {**expected, "deal_number": None}
    assert documented["deal_number"].startswith("DR-")


# --- starting them as the UI does -------------------------------------------------------------


@pytest.fixture(scope="module")
def ui_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("ui-inputs") / "data"
    settings = _test_settings(data, f"sqlite:///{data / 'records.db'}")
    seed_active_var(settings)
    return settings


@pytest_asyncio.fixture(scope="module")
async def ui_worker(local_env: WorkflowEnvironment, ui_settings: Settings) -> AsyncIterator[str]:
    task_queue = f"ui-inputs-{uuid.uuid4().hex[:8]}"
    async with build_worker(local_env.client, ui_settings, task_queue=task_queue):
        yield task_queue


@pytest.fixture
def plain_client(local_env: WorkflowEnvironment) -> Client:
    """What the Temporal UI is: a client with the DEFAULT converter (dicts as json/plain)."""
    client = Client(
        local_env.client.service_client,
        namespace=local_env.client.namespace,
        data_converter=DataConverter.default,
    )
    assert client.data_converter is DataConverter.default
    return client


def rebased(name: str, data: Any) -> Any:
    """The partnership's dates count from the signature: start the documented state as if it
    was signed yesterday, so the test does not depend on today's date. A subscription term
    is started 60 days before its expiry (its renewal task open, the reminders due)."""
    if name == "SubscriptionRenewal":
        expires = datetime.now(UTC) + timedelta(days=60)
        return {
            **data,
            "starts_at": (expires - timedelta(days=365)).isoformat(),
            "expires_at": expires.isoformat(),
        }
    if name != "RocketChatPartnership":
        return data
    signed = datetime.now(UTC) - timedelta(days=1)
    return {
        **data,
        "signed_at": signed.isoformat(),
        "term_end": (signed + timedelta(days=365)).isoformat(),
        "fee_invoices": [
            {**f, "due_at": (signed + timedelta(days=30)).isoformat()} for f in data["fee_invoices"]
        ],
    }


async def failures(handle: WorkflowHandle) -> list[str]:
    found = []
    async for event in handle.fetch_history_events():
        if event.event_type in FAILED_EVENTS:
            attrs = event.workflow_task_failed_event_attributes
            found.append(
                f"{EventType.Name(event.event_type)}: {attrs.failure.message if attrs else ''}"
            )
    return found


async def first_task(
    handle: WorkflowHandle, task: str | None, timeout: float = 20.0
) -> dict[str, Any]:
    """The `status` query once `task` is pending (None: once it has a stage); fails fast on a
    failed workflow task."""

    async def reached() -> dict[str, Any] | None:
        if bad := await failures(handle):
            raise GiveUp(f"{handle.id} failed: {bad}")
        # Fails until the first workflow task has completed: retried.
        status = await handle.query("status", rpc_timeout=timedelta(seconds=2))
        pending = [t["task"] for t in status["pending_tasks"]]
        return status if status.get("stage") and (task is None or task in pending) else None

    return await eventually(reached, timeout=timeout, interval=0.1, what=f"{handle.id} at {task}")


def test_every_process_has_a_first_task() -> None:
    assert set(FIRST_TASK) | NO_STATUS | AT_REST == set(WORKFLOW_TYPES)


@pytest.mark.parametrize("name", sorted(WORKFLOW_TYPES))
async def test_ui_input_starts_the_workflow(
    name: str, plain_client: Client, ui_worker: str
) -> None:
    data = rebased(name, ui_input(name))
    workflow_id = f"ui-{name}-{uuid.uuid4().hex[:8]}"
    handle = await plain_client.start_workflow(name, data, id=workflow_id, task_queue=ui_worker)
    try:
        if name in NO_STATUS:
            result = await asyncio.wait_for(handle.result(), 20)
            assert result == "no running partnership rc-partnership-porto-chat"
            assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
            assert await failures(handle) == []
            return
        status = await first_task(handle, FIRST_TASK.get(name))
        assert status["workflow_type"] == name and status["stage"]
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING, (
            f"{name} ended {description.status}: {status}"
        )
        assert await failures(handle) == []
        assert not [h for h in status["history"] if h["event"] == "refused"], status["history"]
        if name == "OrderFulfillment":  # started without search attributes, it sets its own
            from workflows.search_attributes import PARTNER_ID, PROGRAM

            attributes = description.typed_search_attributes
            assert (attributes.get(PROGRAM), attributes.get(PARTNER_ID)) == (
                "mattermost",
                data["reseller"]["partner_id"],
            )
    finally:
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test_ui_inputs: done")


# --- docs/temporal-ui.md ------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "temporal-ui.md"


def saved_queries() -> list[str]:
    """Every line of the doc's fenced ```sql blocks: the saved queries per role."""
    blocks = re.findall(r"^```sql\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


async def test_every_saved_query_in_the_doc_parses_on_the_dev_server(
    local_env: WorkflowEnvironment,
) -> None:
    queries = saved_queries()
    assert len(queries) >= 20, queries
    bad = {}
    for query in queries:
        try:
            await local_env.client.count_workflows(query)
        except Exception as exc:
            bad[query] = str(exc)
    assert not bad, f"queries in docs/temporal-ui.md the dev server refuses: {bad}"


async def test_the_query_language_limits_the_doc_names(local_env: WorkflowEnvironment) -> None:
    """The doc says these do NOT work on the dev server: keep that true (or update the doc)."""
    for query in (
        'Stage ENDS_WITH ":escalated"',
        'Stage LIKE "%escalated"',
        'Assignee = "finance" ORDER BY TaskDueAt',
        'PendingTask STARTS_WITH "review"',
        'TaskDueAt < "now"',
    ):
        with pytest.raises(RPCError):
            await local_env.client.count_workflows(query)


def handler_models() -> dict[str, set[type]]:
    """Signal name → the input models its human tasks validate against."""
    models: dict[str, set[type]] = {}
    for cls in WORKFLOWS:
        module = sys.modules[cls.__module__]
        shared = sys.modules["workflows.human_tasks"]
        for value in [*vars(module).values(), *vars(shared).values()]:
            if isinstance(value, HumanTask):
                models.setdefault(value.handler, set()).add(value.model)
    return models


def test_signal_examples_in_the_doc_are_valid_inputs() -> None:
    models = handler_models()
    checked = 0
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| `(\w+)`[^|]*\|[^|]*\| `(\{.*?\})`", line)
        if not match or match.group(1) not in models:
            continue
        signal, example = match.group(1), json.loads(match.group(2))
        errors = []
        for model in models[signal]:
            try:
                model.model_validate(example)
                break
            except ValidationError as exc:
                errors.append(str(exc))
        else:
            raise AssertionError(
                f"docs/temporal-ui.md: the {signal} example is not valid: {errors}"
            )
        checked += 1
    assert checked >= 25, checked
