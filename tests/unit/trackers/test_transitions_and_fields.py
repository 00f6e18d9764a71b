"""Status by workflow transition and custom fields by name, in both adapters (at the transport)."""

from __future__ import annotations

import pytest

from chalicelib.trackers.base import InvalidRequest, IssueFields, NotFound, PermissionDenied
from tests.unit.trackers import jira_json as J
from tests.unit.trackers.conftest import sent_json


@pytest.fixture(params=["cloud", "server"])
def jira(request, http):
    """Each adapter with its REST prefix."""
    adapter = request.getfixturevalue(request.param)
    base = J.CLOUD if request.param == "cloud" else J.SERVER
    return adapter, f"{base}{adapter.api}"


def status(name: str, sid: str) -> dict:
    return {"id": sid, "name": name, "statusCategory": {"id": 4, "key": "indeterminate"}}


TRANSITIONS = {
    "expand": "transitions",
    "transitions": [
        {"id": "11", "name": "Start Progress", "to": status("In Progress", "3")},
        {"id": "51", "name": "Resolve", "to": status("Done", "10001")},
    ],
}


def test_transition_takes_the_transition_whose_target_status_matches(http, jira):
    adapter, api = jira
    http.get(f"{api}/issue/ABC-1/transitions", json=TRANSITIONS)
    http.post(f"{api}/issue/ABC-1/transitions", status=204)
    assert adapter.transition_issue("ABC-1", "done") is True  # by status, not transition name
    assert sent_json(http.calls[1]) == {"transition": {"id": "51"}}
    assert len(http.calls) == 2


def test_no_transition_to_the_status_is_false_and_writes_nothing(http, jira):
    adapter, api = jira
    http.get(f"{api}/issue/ABC-1/transitions", json=TRANSITIONS)
    http.get(
        f"{api}/issue/ABC-1", json={"key": "ABC-1", "fields": {"status": status("To Do", "1")}}
    )
    assert adapter.transition_issue("ABC-1", "Closed") is False
    assert [c.request.method for c in http.calls] == ["GET", "GET"]


def test_an_issue_already_in_the_status_needs_no_transition(http, jira):
    adapter, api = jira
    http.get(f"{api}/issue/ABC-1/transitions", json={"transitions": []})
    http.get(f"{api}/issue/ABC-1", json={"key": "ABC-1", "fields": {"status": status("Done", "3")}})
    assert adapter.transition_issue("ABC-1", "Done") is True


def test_transition_errors_are_typed(http, jira):
    adapter, api = jira
    http.get(f"{api}/issue/ABC-9/transitions", status=404, json={"errorMessages": ["Nope"]})
    with pytest.raises(NotFound):
        adapter.transition_issue("ABC-9", "Done")
    http.get(f"{api}/issue/ABC-1/transitions", json=TRANSITIONS)
    http.post(
        f"{api}/issue/ABC-1/transitions",
        status=400,
        json={"errorMessages": ["Transition id '51' is not valid for this issue."], "errors": {}},
    )
    with pytest.raises(InvalidRequest, match="not valid"):
        adapter.transition_issue("ABC-1", "Done")
    http.get(f"{api}/issue/ABC-2/transitions", status=403, json={"errorMessages": ["No"]})
    with pytest.raises(PermissionDenied):
        adapter.transition_issue("ABC-2", "Done")


FIELDS = [
    {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string"}},
    {"id": "duedate", "name": "Due date", "custom": False, "schema": {"type": "date"}},
    {"id": "customfield_10050", "name": "Customer", "custom": True, "schema": {"type": "string"}},
    {"id": "customfield_10060", "name": "Summary", "custom": True, "schema": {"type": "string"}},
]


def test_custom_fields_by_name_become_ids_and_the_list_is_read_once(http, jira):
    adapter, api = jira
    http.get(f"{api}/field", json=FIELDS)
    http.put(f"{api}/issue/ABC-1", status=204)
    http.put(f"{api}/issue/ABC-1", status=204)
    adapter.update_issue(
        "ABC-1", IssueFields(custom={"customer": "ACME", "Due date": "2026-01-02"})
    )
    adapter.update_issue("ABC-1", IssueFields(custom={"Summary": "x", "customfield_10072": 1}))
    assert sent_json(http.calls[1]) == {
        "fields": {"customfield_10050": "ACME", "duedate": "2026-01-02"}
    }
    # a custom field wins over a system field of the same name; ids go as they are
    assert sent_json(http.calls[2]) == {
        "fields": {"customfield_10060": "x", "customfield_10072": 1}
    }
    assert [c.request.url.rsplit("/", 1)[-1] for c in http.calls].count("field") == 1


def test_an_unknown_field_name_is_refused_by_name_after_one_fresh_look(http, jira):
    adapter, api = jira
    http.get(f"{api}/field", json=FIELDS)
    http.get(f"{api}/field", json=FIELDS)
    with pytest.raises(InvalidRequest, match="'Region'") as refused:
        adapter.create_issue("ABC", IssueFields(summary="x", custom={"Region": "EU"}))
    assert refused.value.field_errors == {"Region": "no such field"}
    assert all(c.request.method == "GET" for c in http.calls)  # nothing was written


def test_a_field_defined_since_the_list_was_read_is_found(http, jira):
    adapter, api = jira
    http.get(f"{api}/field", json=FIELDS[:1])
    http.get(f"{api}/field", json=FIELDS)
    http.put(f"{api}/issue/ABC-1", status=204)
    adapter.field_ids()
    adapter.update_issue("ABC-1", IssueFields(custom={"Customer": "ACME"}))
    assert sent_json(http.calls[2]) == {"fields": {"customfield_10050": "ACME"}}


def test_get_issue_offers_custom_fields_by_name_too(http, jira):
    adapter, api = jira
    data = J.issue(server=adapter.kind == "jira_server")
    data["fields"]["customfield_10050"] = "ACME"
    data["names"] = {"customfield_10050": "Customer", "customfield_10072": "Points"}
    http.get(f"{api}/issue/ABC-12", json=data)
    issue = adapter.get_issue("ABC-12")
    assert issue.fields["Customer"] == issue.fields["customfield_10050"] == "ACME"
    assert http.calls[0].request.url.endswith("?expand=names%2Cchangelog")


def test_unknown_issue_get_is_still_typed(http, jira):
    adapter, api = jira
    http.get(f"{api}/issue/ABC-99", status=404, json={"errorMessages": ["gone"]})
    with pytest.raises(NotFound):
        adapter.get_issue("ABC-99")
