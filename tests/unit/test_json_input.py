"""json_input: the one reader of outside JSON (issue 13, items 4 and 6)."""

from __future__ import annotations

import base64

import pytest

from chalicelib import json_input
from chalicelib.connections import invitation
from chalicelib.errors import BadRequest


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_depth_up_to_the_limit_parses_and_one_more_is_too_deep():
    assert json_input.loads(nested(json_input.MAX_DEPTH)) is not None
    for depth in (json_input.MAX_DEPTH + 1, 950, 100_000):
        with pytest.raises(json_input.UnsafeJson) as refused:
            json_input.loads(nested(depth))
        assert refused.value.code == "too_deep"


@pytest.mark.parametrize("text", ["NaN", "-Infinity", "[1e400]", '{"a": Infinity}', "1" * 5000])
def test_numbers_that_are_not_json_or_not_finite_are_invalid_json(text):
    with pytest.raises(json_input.UnsafeJson) as refused:
        json_input.loads(text)
    assert refused.value.code == "invalid_json"


@pytest.mark.parametrize("text", ['"\\ud800"', '{"\\udfff": 1}', '[["a\\ud800b"]]'])
def test_a_lone_surrogate_in_a_string_or_key_is_invalid_text(text):
    with pytest.raises(json_input.UnsafeJson) as refused:
        json_input.loads(text)
    assert refused.value.code == "invalid_text"


def test_a_surrogate_pair_is_a_character():
    assert json_input.loads('"\\ud83d\\ude00"') == "\U0001f600"


def test_an_invitation_code_nested_1200_deep_is_refused_as_unreadable():
    payload = base64.urlsafe_b64encode(nested(1200).encode()).rstrip(b"=").decode()
    code = f"{invitation.PREFIX}{payload}.{invitation.checksum(payload)}"
    with pytest.raises(BadRequest) as refused:
        invitation.decode(code)
    assert refused.value.code == "invalid_invitation_code"
