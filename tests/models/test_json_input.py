"""Bounded JSON parsing of outside input: depth, constants, bytes that are not UTF-8."""

from __future__ import annotations

import pytest

from models.constant_time import same_secret
from models.json_input import MAX_DEPTH, JSONInputError, depth, parse_json


def test_ordinary_json_parses() -> None:
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert depth({"a": [1, {"b": None}]}) == 3 and depth(5) == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
        (b"[" * 200_000 + b"]" * 200_000, f"more than {MAX_DEPTH} levels"),  # past recursion
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"\xff\xfe{", ""),
        (b'{"a": ', "Expecting value"),
    ],
)
def test_unacceptable_json_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(JSONInputError, match=reason or None):
        parse_json(raw)


def test_exactly_the_maximum_depth_is_accepted() -> None:
    assert depth(parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH)) == MAX_DEPTH


@pytest.mark.parametrize("given", ["é" * 64, "\udcff", "", "a" * 64])
def test_secrets_compare_any_string_without_raising(given: str) -> None:
    assert same_secret(given, "a" * 64) is (given == "a" * 64)
