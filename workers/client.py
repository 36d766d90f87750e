"""The Temporal client every process uses: pydantic data converter (encrypted when a payload
key is set, see `workers/codec.py`), TLS or API key."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from models.settings import Settings
from workers.codec import data_converter


async def connect(settings: Settings) -> Client:
    """Connect to the dev server, a self-hosted cluster (mTLS) or Temporal Cloud (API key)."""
    tls: bool | TLSConfig = settings.temporal_tls
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls or bool(api_key),
        api_key=api_key,
    )
