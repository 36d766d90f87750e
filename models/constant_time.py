"""Comparing secrets (signatures, tokens, fingerprints) from outside in constant time.

`hmac.compare_digest` raises `TypeError` on a `str` that is not ASCII (a planted cookie, an
odd header): comparing the UTF-8 bytes instead answers False for any input."""

from __future__ import annotations

import hmac


def same_secret(given: str, expected: str) -> bool:
    """Does `given` equal `expected`? Constant time in the length of `expected`."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
