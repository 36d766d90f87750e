"""The payload codec: AES-GCM round trip, plaintext passthrough, tampering, keys and rotation."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from models.contracts import OrderFulfillmentInput
from models.settings import Settings
from tests.factories import order_input
from workers.codec import (
    ENCODING,
    KEY_ID,
    REFUSED,
    EncryptionCodec,
    UnknownKeyError,
    data_converter,
    key_id,
)


def _key() -> bytes:
    return secrets.token_bytes(32)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings(PARTNERFLOW_DATA_DIR=tmp_path, _env_file=None, **env)


async def test_round_trip_hides_personal_data_and_uses_a_fresh_nonce() -> None:
    order = order_input()
    converter = data_converter_for(_key())
    [first] = await converter.encode([order])
    [second] = await converter.encode([order])
    assert first.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert first.metadata[KEY_ID].decode().startswith("pf-")
    for secret in (b"Anna Schmidt", b"anna.schmidt@", b"jonas.weber@", b"Uhlenkrog"):
        assert secret not in first.SerializeToString()
    assert first.data != second.data  # random nonce
    [back] = await converter.decode([first], [OrderFulfillmentInput])
    assert back == order


async def test_plaintext_payloads_are_refused_unless_accepted_for_old_histories() -> None:
    [plain] = await pydantic_data_converter.encode([{"name": "Anna Schmidt"}])
    assert await EncryptionCodec([_key()]).decode([plain]) == [REFUSED]
    [refusal] = await data_converter_for(_key()).decode([plain])
    assert refusal.startswith("refused: this payload was not encrypted") and "Anna" not in refusal
    # Migrating to encryption: histories written before the key was set replay as they are.
    assert await EncryptionCodec([_key()], accept_plaintext=True).decode([plain]) == [plain]
    accepting = data_converter_for(_key(), PARTNERFLOW_ACCEPT_PLAINTEXT_PAYLOADS="true")
    assert await accepting.decode([plain]) == [{"name": "Anna Schmidt"}]


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec([_key()])
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    tampered = Payload(metadata=dict(sealed.metadata), data=bytes(flipped))
    with pytest.raises(InvalidTag):
        await codec.decode([tampered])


async def test_a_payload_of_another_key_names_its_key_id() -> None:
    old, new = _key(), _key()
    [sealed] = await EncryptionCodec([old]).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b"1")]
    )
    with pytest.raises(UnknownKeyError, match=key_id(old)):
        await EncryptionCodec([new]).decode([sealed])
    # Rotation: the new key encrypts, the old one still decrypts what it wrote.
    rotated = EncryptionCodec([new, old])
    assert rotated.key_id == key_id(new)
    [plain] = await rotated.decode([sealed])
    assert plain.data == b"1"
    [resealed] = await rotated.encode([plain])
    assert resealed.metadata[KEY_ID] == key_id(new).encode()


def test_without_a_key_the_plain_pydantic_converter_is_used(tmp_path: Path) -> None:
    assert data_converter(_settings(tmp_path)) is pydantic_data_converter


def test_failures_are_encrypted_too(tmp_path: Path) -> None:
    converter = data_converter(_settings(tmp_path, PARTNERFLOW_PAYLOAD_KEY=_b64(_key())))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    assert converter.payload_converter is not None


def test_key_resolution_env_then_dev_key_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.resolved_payload_key() is None
    assert settings.ensure_dev_payload_key() is True
    assert settings.dev_payload_key_path.stat().st_mode & 0o077 == 0
    dev = settings.resolved_payload_key()
    assert dev is not None and len(dev) == 32
    assert settings.ensure_dev_payload_key() is False  # kept: every command agrees
    assert _settings(tmp_path).resolved_payload_key() == dev
    configured, old = _key(), _key()
    env = _settings(tmp_path, PARTNERFLOW_PAYLOAD_KEY=f"{_b64(configured)}, {_b64(old)}")
    assert env.resolved_payload_keys() == [configured, old]
    assert env.ensure_dev_payload_key() is False


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_is_a_clear_error_without_the_value(tmp_path: Path, value: str) -> None:
    settings = _settings(tmp_path, PARTNERFLOW_PAYLOAD_KEY=value)
    with pytest.raises(ValueError, match="PARTNERFLOW_PAYLOAD_KEY") as error:
        settings.resolved_payload_key()
    assert value not in str(error.value)


def data_converter_for(key: bytes, **env: str) -> DataConverter:
    settings = Settings(_env_file=None, PARTNERFLOW_DATA_DIR=Path("/nonexistent"), **env)
    return data_converter(settings.model_copy(update={"payload_key": SecretStr(_b64(key))}))
