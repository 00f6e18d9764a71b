"""The console's Connect issues and Stop syncing (Chalice's test client, three nodes in one
process; the browser walk is ``tests/stack/test_console_twins.py``): each form through the
admin API, its CSRF refusal changing nothing, refusals as sentences, the confirmation step
of Stop syncing, and the twins list without the stopped twins."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories.cluster import connect_a_to_b, three_nodes
from tests.functional.test_console import Visitor, header, hidden, text, unlabelled
from tests.functional.test_refusals import connect, move_queues


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


@pytest.fixture
def ab(cluster):
    """Node A's console, signed in, and A's connection with the public node B."""
    cid = connect_a_to_b(cluster)
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    return visitor, cid


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found, f"no {name} section in {html[:2000]}"
    return found.group(0)


def api_twin(cluster: Any, node: str, cid: str, key: str) -> Any:
    return cluster.admin(node, "GET", f"/api/v1/connections/{cid}/twins/{key}")


def connect_form(visitor: Visitor, cid: str, local_key: str, remote_key: str, **extra: str) -> Any:
    csrf = hidden(visitor.get(f"/console/connections/{cid}"), "csrf_token")
    form = {"csrf_token": csrf, "local_key": local_key, "remote_key": remote_key, **extra}
    return visitor.post(f"/console/connections/{cid}/connect", form)


def twin_rows(html: str) -> list[str]:
    return re.findall(r'data-twin-row="([^"]+)"', section(html, "twins"))


# --- Connect issues -------------------------------------------------------------------------


def test_the_overview_has_a_labelled_connect_issues_form(ab):
    visitor, cid = ab
    page = text(visitor.get(f"/console/connections/{cid}"))
    form = section(page, "connect")
    assert "Connect issues" in form and 'name="csrf_token"' in form
    assert '<label for="local_key">Local issue</label>' in form
    assert '<label for="remote_key">Remote issue</label>' in form
    assert f'action="/console/connections/{cid}/connect"' in form
    assert not unlabelled(page)


def test_connect_issues_links_two_existing_issues_and_shows_the_twin(cluster, ab):
    """The other end does not answer at the moment: the request waits, the page follows it."""
    visitor, cid = ab
    mine = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire (A)").key
    theirs = cluster["node-b"].tracker.add_issue("TEST", "Printer on fire (B)").key
    cluster["node-b"].down = True
    done = connect_form(visitor, cid, f" {mine} ", theirs)
    cluster["node-b"].down = False
    assert done.status_code == 303, text(done)[:2000]
    assert header(done, "Location") == f"/console/connections/{cid}?connected={mine}#connect"
    assert api_twin(cluster, "node-a", cid, mine).body["remote"]["key"] == theirs

    page = text(visitor.get(f"/console/connections/{cid}?connected={mine}"))
    shown = section(page, "connect")
    assert f"The connect request for {mine} and {theirs} was sent." in shown
    assert 'id="connected-twin"' in shown and "data-twin-status>queued<" in shown
    # htmx refreshes it in the same place until the other end answered
    poll = re.search(r'hx-get="([^"]+)"', shown).group(1).replace("&amp;", "&")
    assert poll == f"/console/connections/{cid}/twins/{mine}?slot=connected-twin"

    move_queues(cluster, "node-a", "node-b")
    fragment = text(visitor.get(poll))
    assert 'id="connected-twin"' in fragment and "data-twin-status>synced<" in fragment
    assert "hx-get" not in fragment
    assert f"{mine} is connected with {theirs}." in text(
        visitor.get(f"/console/connections/{cid}?connected={mine}")
    )
    assert mine in twin_rows(page)
    assert len(cluster["node-b"].tracker.issues) == 1  # nothing created


def test_connect_issues_with_the_other_end_answering_is_done_in_the_form(cluster, ab):
    """The other end applies the connect request in the push and its answer comes back in
    the same way (issue 19): the page shows the pair connected at once."""
    visitor, cid = ab
    mine = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire (A)").key
    theirs = cluster["node-b"].tracker.add_issue("TEST", "Printer on fire (B)").key
    done = connect_form(visitor, cid, mine, theirs)
    assert done.status_code == 303, text(done)[:2000]
    shown = section(text(visitor.get(header(done, "Location"))), "connect")
    assert f"{mine} is connected with {theirs}." in shown
    assert "data-twin-status>synced<" in shown and "hx-get" not in shown
    assert len(cluster["node-b"].tracker.issues) == 1  # nothing created


@pytest.mark.parametrize(
    ("local", "remote", "status", "words"),
    [
        ("SUP-404", "TEST-1", 404, "No issue with that local issue key was found"),
        ("{mine}", "TEST-404", 404, "The other instance has no issue with that remote issue key"),
        ("{mine}", "not a key", 400, "Enter the remote issue\u2019s key, such as ABC-12."),
    ],
)
def test_a_refused_connect_is_a_sentence_in_its_section_and_keeps_the_form(
    cluster, ab, local, remote, status, words
):
    visitor, cid = ab
    mine = cluster["node-a"].tracker.add_issue("SUP", "lonely").key
    cluster["node-b"].tracker.add_issue("TEST", "theirs")
    local = local.format(mine=mine)
    refused = connect_form(visitor, cid, local, remote)
    assert refused.status_code == status, text(refused)[:2000]
    shown = section(text(refused), "connect")
    error = re.search(r"<p class=\"error\" role=\"alert\"[^>]*>(.*?)</p>", shown, re.S)
    assert error and words in error.group(1).replace("&#34;", '"'), shown
    assert f'value="{local}"' in shown and f'value="{remote}"' in shown
    assert 'aria-invalid="true"' in shown
    assert api_twin(cluster, "node-a", cid, mine).status == 404  # nothing recorded


def test_connecting_an_issue_already_synced_names_both_issues(cluster, ab):
    visitor, cid = ab
    mine = cluster["node-a"].tracker.add_issue("SUP", "ours").key
    theirs = cluster["node-b"].tracker.add_issue("TEST", "theirs").key
    assert connect_form(visitor, cid, mine, theirs).status_code == 303
    move_queues(cluster, "node-a", "node-b")
    other = cluster["node-a"].tracker.add_issue("SUP", "another").key

    refused = connect_form(visitor, cid, other, theirs)
    assert refused.status_code == 409
    shown = section(text(refused), "connect")
    assert f"{theirs} is already the twin of {mine}. Stop syncing it first" in shown

    # only the other end knows: its first sync of that issue is under way
    busy = cluster["node-b"].tracker.add_issue("TEST", "busy").key
    synced = cluster.admin("node-b", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": busy})
    assert synced.status == 202, synced.body
    refused = connect_form(visitor, cid, other, busy)
    assert refused.status_code == 409
    assert f"{busy} is already synced in the other instance." in text(refused)
    assert "choose another remote issue" in text(refused)


def test_connect_issues_without_the_csrf_value_changes_nothing(cluster, ab):
    visitor, cid = ab
    mine = cluster["node-a"].tracker.add_issue("SUP", "ours").key
    theirs = cluster["node-b"].tracker.add_issue("TEST", "theirs").key
    form = {"local_key": mine, "remote_key": theirs}
    path = f"/console/connections/{cid}/connect"
    assert visitor.post(path, form).status_code == 403
    assert visitor.post(path, {**form, "csrf_token": "x" * 43}).status_code == 403
    assert Visitor(cluster, "node-a").post(path, {**form, "csrf_token": "x"}).status_code == 401
    assert api_twin(cluster, "node-a", cid, mine).status == 404
    assert cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/twins").body == []


def test_a_private_node_is_told_at_once_in_the_console(cluster):
    """Node P is private: its console asks the public node A at once, like the API."""
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    visitor = Visitor(cluster, "node-p")
    visitor.sign_in()
    mine = cluster["node-p"].tracker.add_issue("PRIV", "private").key
    refused = connect_form(visitor, cid, mine, "SUP-404")
    assert refused.status_code == 404
    assert "The other instance has no issue with that remote issue key" in text(refused)
    theirs = cluster["node-a"].tracker.add_issue("SUP", "public").key
    assert connect_form(visitor, cid, mine, theirs).status_code == 303
    assert api_twin(cluster, "node-p", cid, mine).body["remote"]["key"] == theirs


# --- Stop syncing ---------------------------------------------------------------------------


def synced_pair(cluster: Any, visitor: Visitor, cid: str, summary: str) -> tuple[str, str]:
    mine = cluster["node-a"].tracker.add_issue("SUP", f"{summary} (A)").key
    theirs = cluster["node-b"].tracker.add_issue("TEST", f"{summary} (B)").key
    assert connect_form(visitor, cid, mine, theirs).status_code == 303
    move_queues(cluster, "node-a", "node-b")
    assert api_twin(cluster, "node-a", cid, mine).body["status"] == "synced"
    return mine, theirs


def test_stop_syncing_asks_for_confirmation_then_stops_both_ends(cluster, ab):
    visitor, cid = ab
    mine, theirs = synced_pair(cluster, visitor, cid, "Printer on fire")
    keep, _ = synced_pair(cluster, visitor, cid, "Printer fine")
    page = text(visitor.get(f"/console/connections/{cid}"))
    assert twin_rows(page) == [keep, mine]
    link = re.search(rf'href="([^"]+)" data-stop="{mine}"', section(page, "twins")).group(1)
    assert link == f"/console/connections/{cid}/twins/{mine}/stop"

    # the link only asks: nothing changes until the confirmation's POST
    confirm = visitor.get(link)
    assert confirm.status_code == 200
    html = text(confirm)
    assert f"Stop syncing {mine}?" in html and theirs in html
    assert "Both issues stay as they are" in html
    assert f'action="/console/connections/{cid}/twins/{mine}/stop"' in html
    assert re.search(r'<a class="button" href="[^"]+#twins">Cancel</a>', html)
    assert "<script" not in html.split("</head>")[1] and "onclick" not in html
    assert not unlabelled(html)
    assert api_twin(cluster, "node-a", cid, mine).body["status"] == "synced"

    stopped = visitor.post(link, {"csrf_token": hidden(confirm, "csrf_token")})
    assert stopped.status_code == 303, text(stopped)[:2000]
    assert header(stopped, "Location") == f"/console/connections/{cid}?stopped={mine}#twins"
    move_queues(cluster, "node-a", "node-b")
    assert api_twin(cluster, "node-a", cid, mine).body["status"] == "stopped"
    assert api_twin(cluster, "node-b", cid, theirs).body["status"] == "stopped"
    assert mine in cluster["node-a"].tracker.issues and theirs in cluster["node-b"].tracker.issues

    after = text(visitor.get(f"/console/connections/{cid}?stopped={mine}"))
    assert f"Syncing stopped: {mine} and {theirs} stay as they are" in after
    assert twin_rows(after) == [keep]  # it left the twins list
    stopped_list = text(visitor.get(f"/console/connections/{cid}?twins=stopped"))
    assert "Stopped twins" in stopped_list and twin_rows(stopped_list) == [mine]
    assert f'data-stop="{mine}"' not in stopped_list


def test_stop_syncing_from_the_history_page_goes_back_there_on_cancel(cluster, ab):
    visitor, cid = ab
    mine, _ = synced_pair(cluster, visitor, cid, "Printer on fire")
    history = text(visitor.get(f"/console/connections/{cid}/twins/{mine}/history"))
    link = re.search(rf'href="([^"]+)" data-stop="{mine}">Stop syncing<', history)
    assert link, history[-2000:]
    confirm = visitor.get(link.group(1).replace("&amp;", "&"))
    html = text(confirm)
    assert f'href="/console/connections/{cid}/twins/{mine}/history">Cancel</a>' in html
    assert 'name="back" value="history"' in html
    stopped = visitor.post(
        f"/console/connections/{cid}/twins/{mine}/stop",
        {"csrf_token": hidden(confirm, "csrf_token"), "back": "history"},
    )
    assert stopped.status_code == 303
    history = text(visitor.get(f"/console/connections/{cid}/twins/{mine}/history"))
    assert "data-stop=" not in history and ">stopped<" in history


def test_stop_syncing_without_the_csrf_value_changes_nothing(cluster, ab):
    visitor, cid = ab
    mine, theirs = synced_pair(cluster, visitor, cid, "Printer on fire")
    path = f"/console/connections/{cid}/twins/{mine}/stop"
    assert visitor.post(path, {}).status_code == 403
    assert visitor.post(path, {"csrf_token": "x" * 43}).status_code == 403
    assert Visitor(cluster, "node-a").post(path, {"csrf_token": "x"}).status_code == 401
    move_queues(cluster, "node-a", "node-b")
    assert api_twin(cluster, "node-a", cid, mine).body["status"] == "synced"
    assert api_twin(cluster, "node-b", cid, theirs).body["status"] == "synced"


def test_stop_syncing_an_unknown_twin_is_a_sentence(ab):
    visitor, cid = ab
    page = visitor.get(f"/console/connections/{cid}/twins/NOPE-1/stop")
    assert page.status_code == 404
    assert "That issue is not synced by this connection." in text(page)
    csrf = visitor.csrf(f"/console/connections/{cid}")
    refused = visitor.post(f"/console/connections/{cid}/twins/NOPE-1/stop", {"csrf_token": csrf})
    assert refused.status_code == 404
    assert "That issue is not synced by this connection." in text(refused)
