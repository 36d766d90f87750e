"""Fixtures the workflow test modules share (each module has its own `harness`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.settings import Settings
from tests.workflows.harness import EmbargoList, Harness, workflow_harness


@pytest_asyncio.fixture
async def screened(
    time_skipping_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[tuple[Harness, EmbargoList]]:
    """A harness whose embargo list the test changes while its processes run."""
    embargoes = EmbargoList()
    async with workflow_harness(time_skipping_env, settings, embargoes.activities(settings)) as h:
        yield h, embargoes
