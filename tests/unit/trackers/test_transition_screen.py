"""The values the Jira adapters send for a transition's required screen fields."""

from __future__ import annotations

from chalicelib.trackers.jira_common import transition_screen_values

RESOLUTIONS = [
    {"id": "10001", "name": "Won't Do"},
    {"id": "10000", "name": "Done"},
]


def test_a_required_resolution_is_done_when_allowed() -> None:
    fields = {"resolution": {"required": True, "allowedValues": RESOLUTIONS}}
    assert transition_screen_values(fields) == {"resolution": {"id": "10000"}}


def test_else_the_first_allowed_resolution() -> None:
    fields = {"resolution": {"required": True, "allowedValues": RESOLUTIONS[:1]}}
    assert transition_screen_values(fields) == {"resolution": {"id": "10001"}}


def test_optional_or_unknown_fields_are_left_out() -> None:
    assert transition_screen_values({"resolution": {"required": False}}) == {}
    assert transition_screen_values({"customfield_1": {"required": True}}) == {}
    assert transition_screen_values(None) == {}
