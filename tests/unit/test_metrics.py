"""Metrics in CloudWatch embedded metric format (issue 15): the names the alarms use, one
dimension ``Node``, counts summed per unit of work, every document valid EMF."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from chalicelib.observability import metrics
from chalicelib.trackers.base import RateLimited
from chalicelib.trackers.http import JiraHttp, server_auth
from tests.factories.fake_http import FakeHttp

EMF_KEYS = {"Namespace", "Dimensions", "Metrics"}


@pytest.fixture
def written(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setitem(metrics._state, "stream", out)
    monkeypatch.setitem(metrics._state, "node", "node-m")
    return out


def docs(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def check_emf(document: dict[str, Any]) -> None:
    """What CloudWatch requires of an EMF document, as its specification says."""
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert set(directive) == EMF_KEYS
    assert directive["Namespace"] == "Twinsync"
    assert directive["Dimensions"] == [["Node"]]
    assert document["Node"] == "node-m"
    for metric in directive["Metrics"]:
        assert metric["Unit"] == metrics.UNITS[metric["Name"]]
        values = document[metric["Name"]]
        assert isinstance(values, list) and 0 < len(values) <= 100


def test_the_contract_names_and_units() -> None:
    """The alarms and dashboard in infra/ use these names: a rename must be deliberate."""
    assert metrics.UNITS == {
        "ChangesSynced": "Count",
        "SyncLatency": "Milliseconds",
        "TrackerCalls": "Count",
        "TrackerThrottled": "Count",
        "OpenErrorRecords": "Count",
        "OldestQueueMessageAge": "Seconds",
        "PrivatePeerLag": "Seconds",
        "BulkJobItems": "Count",
    }
    assert (metrics.NAMESPACE, metrics.DIMENSION_NODE) == ("Twinsync", "Node")


def test_a_unit_of_work_writes_one_document_when_it_ends(written) -> None:
    with metrics.collecting():
        metrics.add(metrics.TRACKER_CALLS)
        metrics.add(metrics.TRACKER_CALLS)
        metrics.add(metrics.SYNC_LATENCY, 120)
        metrics.add(metrics.SYNC_LATENCY, 80)
        with metrics.collecting():  # nested: part of the outer unit
            metrics.add(metrics.TRACKER_CALLS)
        assert written.getvalue() == ""
    [document] = docs(written)
    check_emf(document)
    assert document["TrackerCalls"] == [3.0]
    assert document["SyncLatency"] == [120.0, 80.0]


def test_a_failed_unit_still_writes_its_metrics(written) -> None:
    with pytest.raises(RuntimeError), metrics.collecting():
        metrics.add(metrics.TRACKER_THROTTLED)
        raise RuntimeError("boom")
    assert docs(written)[0]["TrackerThrottled"] == [1.0]


def test_outside_a_unit_a_metric_is_written_at_once(written) -> None:
    metrics.add(metrics.OPEN_ERROR_RECORDS, 3)
    [document] = docs(written)
    check_emf(document)
    assert document["OpenErrorRecords"] == [3.0]


def test_more_than_100_values_make_several_documents(written) -> None:
    with metrics.collecting():
        for ms in range(250):
            metrics.add(metrics.SYNC_LATENCY, ms)
        metrics.add(metrics.CHANGES_SYNCED, 250)
    found = docs(written)
    assert len(found) == 3
    for document in found:
        check_emf(document)
    assert [v for d in found for v in d["SyncLatency"]] == [float(ms) for ms in range(250)]
    assert sum(d.get("ChangesSynced", [0])[0] for d in found) == 250


def test_an_unknown_metric_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.add("ChangesSyncd")


def test_tracker_calls_and_429s_are_counted(written) -> None:
    http = FakeHttp()
    tracker = JiraHttp("https://jira.test", server_auth("pat"), pool=http.pool())
    with http, metrics.collecting():
        http.get("https://jira.test/rest/api/2/myself", json={"name": "bot"})
        http.get("https://jira.test/rest/api/2/issue/A-1", status=429, headers={"Retry-After": "3"})
        tracker.json("GET", "/rest/api/2/myself")
        with pytest.raises(RateLimited):
            tracker.json("GET", "/rest/api/2/issue/A-1")
    [document] = docs(written)
    check_emf(document)
    assert document["TrackerCalls"] == [2.0]
    assert document["TrackerThrottled"] == [1.0]


def test_outside_a_node_nothing_is_written(monkeypatch) -> None:
    """A process that only drives trackers (a benchmark, a CLI) has no node: no EMF lines."""
    out = io.StringIO()
    monkeypatch.setitem(metrics._state, "stream", out)
    monkeypatch.setitem(metrics._state, "node", None)
    metrics.add(metrics.TRACKER_CALLS)
    with metrics.collecting():
        metrics.add(metrics.CHANGES_SYNCED)
    assert out.getvalue() == ""
