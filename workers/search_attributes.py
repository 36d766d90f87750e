"""Register the custom search attributes on a namespace (idempotent)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType

from workflows.search_attributes import ALL_KEYS


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add every missing attribute; returns the names that were added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.ValueType(SearchAttributeIndexedValueType(key.indexed_value_type).value)
        for key in ALL_KEYS
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
