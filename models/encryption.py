"""What a workflow receives in place of a payload that reached Temporal unencrypted while a
payload key is configured (see `workers/codec.py`): this text, as a JSON string. Handlers
refuse it with this message; nothing of the original payload reaches the workflow."""

from __future__ import annotations

from typing import Any

REFUSED_PAYLOAD = (
    "refused: this payload was not encrypted with the payload key (it was sent around the "
    "codec); send it through the codec: the Temporal UI with its codec endpoint, "
    "partnerflow act, or temporal --codec-endpoint"
)


def is_refused_payload(value: Any) -> bool:
    """Is this the refusal the codec put in place of an unencrypted payload?"""
    return isinstance(value, str) and value == REFUSED_PAYLOAD
