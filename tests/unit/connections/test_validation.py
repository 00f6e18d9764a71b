"""Connection information checks (pure)."""

from __future__ import annotations

import pytest

from chalicelib.connections import validation
from chalicelib.errors import BadRequest

BODY = {
    "destination_url": " https://b.example.com/ ",
    "mode": "script",
    "local_short_name": "Acme",
    "remote_short_name": "Initech_2",
    "name": " Acme to Initech ",
    "description": None,
    "incoming_project": "ALPHA",
}


def test_a_valid_body_becomes_a_frozen_request():
    req = validation.initiate_request(BODY)
    assert req.destination_url == "https://b.example.com/"
    assert req.name == "Acme to Initech"
    assert req.description == ""
    assert req.admin_access is False
    assert req.destination_incoming_project is None
    with pytest.raises(AttributeError):
        req.name = "x"  # type: ignore[misc]


def test_blank_url_means_no_url():
    assert validation.initiate_request({**BODY, "destination_url": "  "}).destination_url is None


@pytest.mark.parametrize(
    "value", ["", "a" * 21, "with space", "dot.ted", "ümlaut", "semi;colon", 7, None]
)
def test_short_names_are_1_to_20_letters_digits_dash_underscore(value):
    with pytest.raises(BadRequest) as caught:
        validation.initiate_request({**BODY, "local_short_name": value})
    assert caught.value.field == "local_short_name"


@pytest.mark.parametrize("value", ["a", "A-b_9", "x" * 20])
def test_allowed_short_names(value):
    assert validation.initiate_request({**BODY, "remote_short_name": value}).remote_short_name


def test_names_refuse_control_characters():
    with pytest.raises(BadRequest):
        validation.initiate_request({**BODY, "name": "bad\nname"})


def test_accept_request_needs_a_code_and_a_project():
    with pytest.raises(BadRequest) as caught:
        validation.accept_request({"incoming_project": "X"})
    assert caught.value.code == "missing_field"
    with pytest.raises(BadRequest) as caught:
        validation.accept_request({"invitation_code": "TS1.x.y"})
    assert caught.value.field == "incoming_project"
    with pytest.raises(BadRequest) as caught:
        validation.accept_request({"invitation_code": "c", "incoming_project": "X", "n": 1})
    assert caught.value.code == "unknown_field"


def test_patch_keeps_only_given_fields():
    assert validation.patch_request({"description": "new"}) == {"description": "new"}
    assert validation.patch_request({"incoming_guard_jql": "  "}) == {"incoming_guard_jql": None}
    with pytest.raises(BadRequest):
        validation.patch_request({"outgoing_script": "x" * 70_000})
    with pytest.raises(BadRequest):
        validation.patch_request({"mappings": {"a": 1}})
