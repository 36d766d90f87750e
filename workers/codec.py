"""Payload encryption: personal data never reaches Temporal in plaintext.

With a payload key (`PARTNERFLOW_PAYLOAD_KEY`, or the dev key `partnerflow run` creates),
every payload — workflow and activity inputs and results, signals, queries, memos,
summaries, failure messages — is AES-256-GCM encrypted before it leaves the process. The
codec server (`starters/web/codec.py`) decrypts for the Temporal UI. Modelled on
temporalio/samples-python `encryption/codec.py`, so Go and TypeScript tools can read it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from models.encryption import REFUSED_PAYLOAD
from models.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class UnknownKeyError(ValueError):
    """The payload was encrypted with a key this process does not have."""


def key_id(key: bytes) -> str:
    """A key's public name, stored beside each payload: a short hash, never the key."""
    return "pf-" + hashlib.sha256(b"partnerflow payload key id\0" + key).hexdigest()[:16]


# What a handler receives in place of a payload that arrived unencrypted: a JSON string, so
# the handler refuses it and says why (a signal is recorded as rejected, an update is
# rejected with the message; a typed input fails to convert), and nothing of the payload
# reaches the workflow. A failing decode would instead fail the whole workflow task, again
# and again: one forged signal would stall the workflow.
REFUSED = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(REFUSED_PAYLOAD).encode())


class EncryptionCodec(PayloadCodec):
    """AES-GCM with a random 12-byte nonce; the first key encrypts, every key decrypts.

    A payload that is not encrypted is refused (decoded as `REFUSED`), unless
    `accept_plaintext` is set: then it passes through unchanged, so histories written before
    encryption was turned on still replay and display (`PARTNERFLOW_ACCEPT_PLAINTEXT_PAYLOADS`).
    """

    def __init__(self, keys: Sequence[bytes], *, accept_plaintext: bool = False) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        super().__init__()
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.key_id = key_id(keys[0])
        self.accept_plaintext = accept_plaintext

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self.key_id]
        result = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            metadata = {"encoding": ENCODING, KEY_ID: self.key_id.encode()}
            result.append(Payload(metadata=metadata, data=data))
        return result

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        result = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                result.append(payload if self.accept_plaintext else REFUSED)
                continue
            found = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
            cipher = self._ciphers.get(found)
            if cipher is None:
                raise UnknownKeyError(
                    f"payload encrypted with key id {found!r}, which is not configured "
                    f"(known: {', '.join(sorted(self._ciphers))}); add that key to "
                    "PARTNERFLOW_PAYLOAD_KEY after the current one"
                )
            nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            result.append(Payload.FromString(cipher.decrypt(nonce, sealed, None)))
        return result


def data_converter(settings: Settings) -> DataConverter:
    """The app's data converter: pydantic JSON, encrypted when a payload key is set.

    Failure messages and stack traces are moved into encrypted attributes too
    (`DefaultFailureConverterWithEncodedAttributes`)."""
    keys = settings.resolved_payload_keys()
    if not keys:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys, accept_plaintext=settings.accept_plaintext_payloads),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
