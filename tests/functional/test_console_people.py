"""The console's People tab of a connection: the user map, who takes an unmapped person and
what a child whose parent is not synced does (issue 18), saved through the admin API.
Chalice's test client, no browser."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.console.people_views import MapTextError, map_lines, parse_map
from tests.factories.cluster import connect_a_to_b, three_nodes
from tests.functional.test_console import Visitor, header, text, unlabelled
from tests.functional.test_console_settings import _alert, _notice


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def _connection(cluster: Any, cid: str) -> dict[str, Any]:
    return cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}").body


def _visitor(cluster: Any) -> Visitor:
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    return visitor


def test_the_people_tab_shows_the_defaults_and_labels_every_input(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _visitor(cluster)
    overview = text(visitor.get(f"/console/connections/{cid}"))
    assert f'href="/console/connections/{cid}/people">People</a>' in overview
    page = visitor.get(f"/console/connections/{cid}/people")
    html = text(page)
    assert page.status_code == 200
    assert 'aria-current="page">People</a>' in html
    assert 'id="fallback-unassigned" name="fallback" value="unassigned" checked' in html
    assert 'value="parent_first" checked' in html
    assert not unlabelled(html)


def test_an_admin_maps_people_picks_a_fallback_user_and_waits_for_parents(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _visitor(cluster)
    csrf = visitor.csrf(f"/console/connections/{cid}/people")
    saved = visitor.post(
        f"/console/connections/{cid}/people",
        {
            "csrf_token": csrf,
            "user_map": "# Cloud = Server\n5b10ac8d82e05b22cc7d4ef5 = jsmith\n\n  acc-2=mjones  \n",
            "fallback": "user",
            "fallback_user": "helpdesk",
            "hierarchy": "wait",
        },
    )
    assert saved.status_code == 303, text(saved)
    assert header(saved, "Location") == f"/console/connections/{cid}/people?done=saved"
    shown = text(visitor.get(header(saved, "Location")))
    assert "settings were saved" in _notice(shown)
    body = _connection(cluster, cid)
    assert body["user_map"] == [
        {"remote": "5b10ac8d82e05b22cc7d4ef5", "local": "jsmith"},
        {"remote": "acc-2", "local": "mjones"},
    ]
    assert body["user_fallback"] == {"user": "helpdesk"}
    assert body["hierarchy"] == "wait"
    # what is saved is what the tab shows next time
    assert "5b10ac8d82e05b22cc7d4ef5 = jsmith\nacc-2 = mjones" in shown
    assert 'value="helpdesk"' in shown and 'value="wait" checked' in shown


def test_a_line_that_is_not_a_pair_is_a_sentence_and_nothing_changes(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _visitor(cluster)
    before = _connection(cluster, cid)
    csrf = visitor.csrf(f"/console/connections/{cid}/people")
    refused = visitor.post(
        f"/console/connections/{cid}/people",
        {"csrf_token": csrf, "user_map": "a = b\njust-one-name\n", "fallback": "unassigned"},
    )
    assert refused.status_code == 400
    html = text(refused)
    assert "Line 2 of the user map" in _alert(html)
    assert "just-one-name" in html  # what was typed is kept
    no_user = visitor.post(
        f"/console/connections/{cid}/people",
        {"csrf_token": csrf, "user_map": "", "fallback": "user", "fallback_user": ""},
    )
    assert no_user.status_code == 400 and "choose Unassigned" in _alert(text(no_user))
    after = _connection(cluster, cid)
    assert after["updated_at"] == before["updated_at"]


def test_what_the_api_refuses_is_shown_as_its_sentence(cluster):
    cid = connect_a_to_b(cluster)
    visitor = _visitor(cluster)
    csrf = visitor.csrf(f"/console/connections/{cid}/people")
    refused = visitor.post(
        f"/console/connections/{cid}/people",
        {"csrf_token": csrf, "user_map": "a = b\na = c", "fallback": "unassigned"},
    )
    assert refused.status_code == 400
    assert _alert(text(refused))  # the API's own words on the repeated "a"
    assert not _connection(cluster, cid).get("user_map")


def test_the_map_text_round_trips():
    pairs = [{"remote": "x y", "local": "z"}, {"remote": "acc", "local": "user.name"}]
    assert parse_map(map_lines(pairs)) == pairs
    assert parse_map("# comment only\n\n") == []
    with pytest.raises(MapTextError, match="Line 1"):
        parse_map("= local")
