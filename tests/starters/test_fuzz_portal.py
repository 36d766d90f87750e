"""The partner portal's routes fuzzed signed in (schemathesis over the app's own OpenAPI, as
tests/starters/test_fuzz_intake.py does signed out): whatever a signed-in partner sends to any
portal route, the answer is never a server error. Temporal is a stand-in on which no
workflow exists (so the pages take their not-found and no-workflow paths)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities import portal_access
from activities.database import migrate
from activities.partners import PartnerActivities
from models.portal import PortalIdentity
from models.settings import Settings
from starters.web.app import create_app
from starters.web.portal import SESSION_COOKIE
from tests.factories import partner_record
from tests.starters.test_fuzz_intake import FUZZ_EXAMPLES, FUZZ_RANDOM, FUZZ_SETTINGS


class NoWorkflows:
    """A Temporal client on whose server no workflow exists."""

    def get_workflow_handle(self, workflow_id: str, **_: Any) -> Any:
        return _Missing()

    async def start_workflow(self, *_: Any, **__: Any) -> Any:
        raise RPCError("refused by the stand-in", RPCStatusCode.UNAVAILABLE, b"")

    def list_workflows(self, *_: Any, **__: Any) -> AsyncIterator[Any]:
        async def none() -> AsyncIterator[Any]:
            return
            yield

        return none()


class _Missing:
    async def describe(self, **_: Any) -> Any:
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    async def query(self, *_: Any, **__: Any) -> Any:
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    async def execute_update(self, *_: Any, **__: Any) -> Any:
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

    async def signal(self, *_: Any, **__: Any) -> Any:
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")


_ = TypedSearchAttributes  # (the stand-in never describes a workflow)
_DATA = Path(tempfile.mkdtemp(prefix="partnerflow-portal-fuzz-"))
set_hypothesis_home_dir(str(_DATA / "hypothesis"))
SETTINGS = Settings(
    PARTNERFLOW_DATA_DIR=_DATA,
    DATABASE_URL=f"sqlite:///{_DATA / 'records.db'}",
    PARTNERFLOW_WEBHOOK_SECRET="portal-fuzz-secret",
    PARTNERFLOW_LINK_SECRET="portal-fuzz-link-secret",
    PARTNERFLOW_RATE_LIMIT_PER_MINUTE=0,
    _env_file=None,
)
APP = create_app(SETTINGS, NoWorkflows())  # type: ignore[arg-type]
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
SCHEMA.config.generation.update(
    max_examples=FUZZ_EXAMPLES, deterministic=not FUZZ_RANDOM, database="none"
)
SCHEMA.config.phases.update(phases=["examples", "fuzzing"])
portal = SCHEMA.include(path_regex=r"^/portal/")
SESSIONS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _signed_in_partners() -> Iterator[None]:
    """A Mattermost VAR and a Rocket.Chat partner, each with an open portal session."""
    migrate(SETTINGS.resolved_database_url)
    for program, kind in (("mattermost", "value_added_reseller"), ("rocketchat", "hosting")):
        record = partner_record(
            f"fuzz-{program}", program=program, partner_type=kind, at=datetime.now(UTC)
        )
        ActivityEnvironment().run(PartnerActivities(SETTINGS).upsert_partner, record)
        identity = PortalIdentity(program, record.partner_id, record.contact_email)  # type: ignore[arg-type]
        SESSIONS[program] = portal_access.open_session(SETTINGS, identity)
    yield
    shutil.rmtree(_DATA, ignore_errors=True)


@pytest.mark.parametrize("program", ["mattermost", "rocketchat"])
@portal.parametrize()
@FUZZ_SETTINGS
def test_no_portal_route_fails_for_a_signed_in_partner(case: Any, program: str) -> None:
    response = case.call(cookies={SESSION_COOKIE: SESSIONS[program]})
    case.validate_response(response, checks=[not_a_server_error])
