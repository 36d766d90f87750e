"""The custom search attributes exist on the dev server, and registering is idempotent."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from workers.search_attributes import register_search_attributes
from workflows.search_attributes import ALL_KEYS


async def test_registration_is_idempotent(local_env: WorkflowEnvironment) -> None:
    assert await register_search_attributes(local_env.client, "default") == []
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    listed = await local_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    assert {key.name for key in ALL_KEYS} <= set(listed.custom_attributes)
