"""A connection's Rules tab over Chalice's test client (no browser): the Script editor
(compile errors with the line marked and the text kept, conflict rules, versions), the
test run, Basic → Script, and the Visual mapping editor; CSRF refusals change nothing and
refusals are sentences. The browser walk is ``tests/stack/test_console_rules.py``."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from chalicelib.rules.script.runner import ChildProcessRunner, ScriptLimits, use_runner
from tests.factories.cluster import B_URL, three_nodes
from tests.functional.test_console import Visitor, header, hidden, text, unlabelled


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


@pytest.fixture(autouse=True)
def sandbox():
    runner = ChildProcessRunner(ScriptLimits(cpu_seconds=1, wall_seconds=2.0), warm=1)
    previous = use_runner(runner)
    yield runner
    use_runner(previous)
    runner.close()


def connect(cluster: Any, mode: str) -> str:
    """Node A initiates a ``mode`` connection to B (incoming SUP); B accepts into TEST."""
    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        {
            "destination_url": B_URL,
            "mode": mode,
            "local_short_name": "Acme",
            "remote_short_name": "Globex",
            "name": f"rules-{mode}-{uuid.uuid4().hex[:6]}",
            "incoming_project": "SUP",
        },
    )
    assert created.status == 201, created.body
    accepted = cluster.admin(
        "node-b",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": "TEST"},
    )
    assert accepted.status == 201, accepted.body
    return str(created.body["connection"]["id"])


def signed_in(cluster: Any, mode: str) -> tuple[Visitor, str]:
    cid = connect(cluster, mode)
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    return visitor, cid


def stored(cluster: Any, cid: str, node: str = "node-a") -> dict[str, Any]:
    answer = cluster.admin(node, "GET", f"/api/v1/connections/{cid}")
    assert answer.status == 200, answer.body
    return dict(answer.body)


def textarea(html: str, name: str) -> str:
    """A textarea's text as the browser shows it (the newline after the tag is dropped)."""
    import html as entities

    found = re.search(rf'<textarea id="{name}"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert found, f"no textarea {name}"
    return entities.unescape(found.group(1))


def history(cluster: Any, cid: str) -> dict[str, Any]:
    return dict(cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/rules/history").body)


# --- Script mode: the editor ----------------------------------------------------------------


def test_the_rules_tab_of_a_script_connection_shows_both_scripts_labelled(cluster):
    visitor, cid = signed_in(cluster, "script")
    overview = text(visitor.get(f"/console/connections/{cid}"))
    assert f'href="/console/connections/{cid}/rules">Rules</a>' in overview
    page = visitor.get(f"/console/connections/{cid}/rules")
    assert page.status_code == 200
    html = text(page)
    assert 'aria-current="page">Rules</a>' in html
    conn = stored(cluster, cid)
    assert textarea(html, "outgoing_script") == conn["outgoing_script"]
    assert textarea(html, "incoming_script") == conn["incoming_script"]
    assert '<label for="outgoing_script">Outgoing script</label>' in html
    assert '<label for="incoming_script">Incoming script</label>' in html
    assert 'class="gutter" aria-hidden="true"><span>1</span>' in html
    assert "Conflicts: which value wins" in html and "Test run" in html
    assert not unlabelled(html)


def test_a_script_that_does_not_compile_is_refused_with_its_line_marked_and_the_text_kept(
    cluster,
):
    visitor, cid = signed_in(cluster, "script")
    before = stored(cluster, cid)
    csrf = visitor.csrf(f"/console/connections/{cid}/rules")
    broken = "if changed('summary'):\r\n    issue.summary = replica.summary\r\nif x\r\n"
    refused = visitor.post(
        f"/console/connections/{cid}/rules/scripts",
        {
            "csrf_token": csrf,
            "outgoing_script": before["outgoing_script"],
            "incoming_script": broken,
        },
    )
    assert refused.status_code == 400
    html = text(refused)
    assert "The incoming script was not saved: there is a problem on line 3:" in html
    assert "Your text is kept below; the previous version stays active." in html
    assert 'data-bad-line="3"' in html and "<code>if x</code>" in html
    assert 'id="incoming_script-error"' in html
    assert 'aria-describedby="incoming_script-help incoming_script-error"' in html
    assert 'aria-invalid="true"' in html
    assert textarea(html, "incoming_script") == broken.replace("\r\n", "\n")
    assert textarea(html, "outgoing_script") == before["outgoing_script"]  # not marked
    assert 'data-editor="outgoing_script">' in html
    assert stored(cluster, cid)["incoming_script"] == before["incoming_script"]

    fixed = broken.replace("if x", "issue.labels = ['from-globex']")
    saved = visitor.post(
        f"/console/connections/{cid}/rules/scripts",
        {
            "csrf_token": csrf,
            "outgoing_script": before["outgoing_script"],
            "incoming_script": fixed,
        },
    )
    assert saved.status_code == 303
    assert header(saved, "Location") == f"/console/connections/{cid}/rules?done=saved"
    assert stored(cluster, cid)["incoming_script"] == fixed.replace("\r\n", "\n")  # no CR
    assert stored(cluster, cid)["outgoing_script"] == before["outgoing_script"]
    after = text(visitor.get(f"/console/connections/{cid}/rules?done=saved"))
    assert "The rules were saved." in after

    versions = text(visitor.get(f"/console/connections/{cid}/rules/versions"))
    assert 'data-version="incoming_script-1"' in versions
    assert 'data-version="incoming_script-2"' in versions
    assert "the starting scripts (what Basic does)" in versions
    row = re.search(r'data-version="incoming_script-2">(.*?)</tr>', versions, re.S).group(1)
    assert "<td>admin</td>" in row and re.search(r"\+\d+ \u2212\d+ lines", row)
    assert "+issue.labels = [&#39;from-globex&#39;]" in row  # the diff, and the text
    assert [h["by"] for h in history(cluster, cid)["scripts"]] == ["default", "admin"]


def test_saving_what_is_stored_changes_nothing(cluster):
    visitor, cid = signed_in(cluster, "script")
    before = stored(cluster, cid)
    same = visitor.post(
        f"/console/connections/{cid}/rules/scripts",
        {
            "csrf_token": visitor.csrf(f"/console/connections/{cid}/rules"),
            "outgoing_script": before["outgoing_script"].replace("\n", "\r\n"),
            "incoming_script": before["incoming_script"],
        },
    )
    assert header(same, "Location") == f"/console/connections/{cid}/rules?done=unchanged"
    assert history(cluster, cid)["scripts"] == []
    assert stored(cluster, cid)["updated_at"] == before["updated_at"]


def test_conflict_rules_are_edited_with_the_scripts(cluster):
    visitor, cid = signed_in(cluster, "script")
    before = stored(cluster, cid)
    form = {
        "csrf_token": visitor.csrf(f"/console/connections/{cid}/rules"),
        "outgoing_script": before["outgoing_script"],
        "incoming_script": before["incoming_script"],
        "conflict_summary": "keep",
        "conflict_status": "keep",
        "conflict_type": "later",
    }
    saved = visitor.post(f"/console/connections/{cid}/rules/scripts", form)
    assert saved.status_code == 303
    assert stored(cluster, cid)["conflict_rules"] == {"summary": "keep", "status": "keep"}
    html = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert re.search(r'id="conflict_summary".*?value="keep" selected', html, re.S)
    back = visitor.post(
        f"/console/connections/{cid}/rules/scripts",
        {**form, "conflict_summary": "later", "conflict_status": "later"},
    )
    assert back.status_code == 303
    assert stored(cluster, cid)["conflict_rules"] == {}


def test_posts_without_the_csrf_token_change_nothing(cluster):
    visitor, cid = signed_in(cluster, "script")
    basic = connect(cluster, "basic")
    visual = connect(cluster, "visual")
    before = {c: stored(cluster, c) for c in (cid, basic, visual)}
    attempts = [
        (f"/console/connections/{cid}/rules/scripts", {"incoming_script": "skip('no')"}),
        (f"/console/connections/{basic}/rules/upgrade", {}),
        (
            f"/console/connections/{visual}/rules/mappings/local/outgoing",
            {"enabled": "on", "sync": "disabled", "f0_field": "summary"},
        ),
    ]
    for path, form in attempts:
        for token in (None, "forged"):
            sent = form if token is None else {**form, "csrf_token": token}
            refused = visitor.post(path, sent)
            assert refused.status_code == 403, path
            assert "This form did not come from this console" in text(refused)
    assert {c: stored(cluster, c) for c in before} == before
    assert history(cluster, cid) == {"scripts": [], "mappings": []}


# --- Test run ---------------------------------------------------------------------------------


def test_a_test_run_shows_the_replica_and_the_planned_changes_and_writes_nothing(cluster):
    visitor, cid = signed_in(cluster, "script")
    path = f"/api/v1/connections/{cid}"
    script = (
        "replica.summary = issue.summary\n"
        "replica.type = {'Bug': 'Problem'}.get(issue.type.name, 'Task')\n"
        "log('type', replica.type)\n"
    )
    assert cluster.admin("node-a", "PATCH", path, {"outgoing_script": script}).status == 200
    issue = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire")
    tracker = cluster["node-a"].tracker
    issues_before = dict(tracker.issues)
    csrf = visitor.csrf(f"/console/connections/{cid}/rules")

    ran = visitor.post(
        f"/console/connections/{cid}/rules/test-run",
        {"csrf_token": csrf, "issue_key": issue.key, "replica": ""},
    )
    assert ran.status_code == 200
    html = text(ran)
    replica = re.search(r"<table class=\"compact\" data-replica>(.*?)</table>", html, re.S).group(1)
    assert "Printer on fire" in replica and ">Task<" in replica  # not a Bug: 'Task'
    assert "SUP-1 (version 1)" in replica
    changes = re.search(r"<ul data-planned-changes>(.*?)</ul>", html, re.S).group(1)
    assert "<li>Summary</li>" in changes and "<li>Issue type</li>" in changes
    assert "type Task" in html  # the log
    assert "&#34;summary&#34;: &#34;Printer on fire&#34;" in html  # the whole replica, JSON
    assert f'value="{issue.key}"' in html

    remote = '{"key": "TEST-9", "summary": "From Globex", "type": {"name": "Story"}}'
    with_replica = visitor.post(
        f"/console/connections/{cid}/rules/test-run",
        {"csrf_token": csrf, "issue_key": issue.key, "replica": remote},
    )
    assert with_replica.status_code == 200
    html = text(with_replica)
    assert "(a new issue would be created)" in html
    plan = re.search(r"<pre data-plan>(.*?)</pre>", html, re.S).group(1)
    assert "From Globex" in plan and "Story" in plan
    assert tracker.issues == issues_before
    assert cluster.admin("node-a", "GET", f"{path}/twins/{issue.key}").status == 404


def test_test_run_refusals_are_sentences_and_a_failing_line_is_marked(cluster):
    visitor, cid = signed_in(cluster, "script")
    csrf = visitor.csrf(f"/console/connections/{cid}/rules")
    run = f"/console/connections/{cid}/rules/test-run"
    missing = visitor.post(run, {"csrf_token": csrf, "issue_key": "SUP-404", "replica": ""})
    assert missing.status_code == 404
    assert "No issue with that key was found in this node&#39;s tracker." in text(missing)

    issue = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire")
    not_json = visitor.post(run, {"csrf_token": csrf, "issue_key": issue.key, "replica": "{oops"})
    assert not_json.status_code == 400
    assert "The replica is not valid JSON" in text(not_json)
    assert textarea(text(not_json), "test_replica") == "{oops"

    script = "replica.summary = issue.summary\nx = issue.nothing.name\n"
    path = f"/api/v1/connections/{cid}"
    assert cluster.admin("node-a", "PATCH", path, {"outgoing_script": script}).status == 200
    failed = visitor.post(run, {"csrf_token": csrf, "issue_key": issue.key, "replica": ""})
    assert failed.status_code == 422
    html = text(failed)
    assert "The outgoing script failed on line 2:" in html
    assert 'id="outgoing_script-error"' in html and 'data-bad-line="2"' in html


# --- Basic → Script -----------------------------------------------------------------------


def test_a_basic_connection_upgrades_to_script_after_a_confirmation(cluster):
    visitor, cid = signed_in(cluster, "basic")
    rules = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert (
        "Basic rules cannot be edited." in rules and '<textarea id="outgoing_script"' not in rules
    )
    assert f'href="/console/connections/{cid}/rules/upgrade">Upgrade to Script</a>' in rules

    confirm = visitor.get(f"/console/connections/{cid}/rules/upgrade")
    assert confirm.status_code == 200
    assert "Basic rules become two scripts" in text(confirm)
    assert "Yes, upgrade to Script" in text(confirm)
    assert stored(cluster, cid)["mode"] == "basic"  # asking changes nothing

    upgraded = visitor.post(
        f"/console/connections/{cid}/rules/upgrade",
        {"csrf_token": hidden(confirm, "csrf_token")},
    )
    assert upgraded.status_code == 303
    assert header(upgraded, "Location") == f"/console/connections/{cid}/rules?done=upgraded"
    conn = stored(cluster, cid)
    assert conn["mode"] == "script"
    after = text(visitor.get(header(upgraded, "Location")))
    assert "The connection is in Script mode now" in after
    assert textarea(after, "incoming_script") == conn["incoming_script"]

    again = visitor.post(
        f"/console/connections/{cid}/rules/upgrade",
        {"csrf_token": hidden(confirm, "csrf_token")},
    )
    assert again.status_code == 409
    assert "Only a Basic connection can be upgraded, and only to Script." in text(again)


def test_an_unknown_connection_is_a_sentence(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    for path in ("/rules", "/rules/versions", "/rules/upgrade", "/rules/mappings/local/outgoing"):
        page = visitor.get(f"/console/connections/nope{path}")
        assert page.status_code == 404, path
        assert "This connection does not exist (any more)." in text(page)


# --- Visual mode: the mapping editor ------------------------------------------------------


def block_form(visitor: Visitor, cid: str, side: str, direction: str) -> dict[str, str]:
    """What the block editor's form posts as shown (no box ticked, nothing added)."""
    import html as entities

    page = text(visitor.get(f"/console/connections/{cid}/rules/mappings/{side}/{direction}"))
    form: dict[str, str] = {"csrf_token": re.search(r'name="csrf_token" value="([^"]*)"', page)[1]}
    for name, value in re.findall(
        r'<input type="(?:hidden|text)"[^>]*?name="([^"]+)" value="([^"]*)"', page
    ):
        form[name] = entities.unescape(value)
    for name in re.findall(r'<textarea id="[^"]+" name="([^"]+)"', page):
        form[name] = textarea(page, name)
    for name, options in re.findall(
        r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', page, re.S
    ):
        chosen = re.search(r'value="([^"]*)" selected', options) or re.search(
            r'value="([^"]*)"', options
        )
        form[name] = chosen[1]
    for name in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)"[^>]* checked', page):
        form[name] = "on"
    return form


def test_the_visual_mapping_editor_round_trip(cluster):
    visitor, cid = signed_in(cluster, "visual")
    rules = text(visitor.get(f"/console/connections/{cid}/rules"))
    for block in ("local-outgoing", "local-incoming", "remote-outgoing", "remote-incoming"):
        assert f'data-block="{block}"' in rules
    assert "This side (Acme): outgoing" in rules and "The other side (Globex): incoming" in rules
    assert rules.count("No mappings: Basic's fields") == 4

    editor = visitor.get(f"/console/connections/{cid}/rules/mappings/local/outgoing")
    assert editor.status_code == 200 and not unlabelled(text(editor))
    form = block_form(visitor, cid, "local", "outgoing")
    assert "enabled" not in form  # no block yet: Basic's fields to start from
    assert [form[f"f{i}_field"] for i in range(5)] == [
        "summary",
        "description",
        "issue_type",
        "comments",
        "attachments",
    ]
    form.update(
        {
            "enabled": "on",
            "sync": "manual",
            "scope_issue_types": "Bug, Task",
            "f1_remove": "on",  # description
            "f2_values": "Bug = Problem\r\nEpic =",
            "f2_other": "default",
            "f2_default": "Task",
            "f3_only_public": "on",
            "f4_max_size": "10000000",
            "new_field": "labels",
            "new_values": "urgent = p1",
        }
    )
    saved = visitor.post(f"/console/connections/{cid}/rules/mappings/local/outgoing", form)
    assert saved.status_code == 303, text(saved)[:3000]
    assert header(saved, "Location") == f"/console/connections/{cid}/rules?done=mappings#mappings"
    (block,) = stored(cluster, cid)["mappings"]
    assert (block["side"], block["direction"], block["sync"]) == ("local", "outgoing", "manual")
    assert block["scope"] == {"issue_types": ["Bug", "Task"]}
    assert block["fields"] == [
        {"field": "summary"},
        {"field": "issue_type", "values": {"Bug": "Problem", "Epic": None}, "default": "Task"},
        {"field": "comments", "only_public": True},
        {"field": "attachments", "max_size": 10000000},
        {"field": "labels", "values": {"urgent": "p1"}},
    ]
    (theirs,) = stored(cluster, cid, "node-b")["mappings"]
    assert (theirs["side"], theirs["direction"]) == ("remote", "outgoing")

    shown = text(visitor.get(f"/console/connections/{cid}/rules?done=mappings"))
    assert "The mappings were saved on both sides." in shown
    assert "Bug \u2192 Problem, Epic \u2192 (dropped); other values \u2192 Task" in shown
    again = block_form(visitor, cid, "local", "outgoing")
    assert again["f1_values"] == "Bug = Problem\nEpic =" and again["f1_default"] == "Task"
    assert again["enabled"] == "on" and again["sync"] == "manual"

    again.update({"f3_remove": "on", "enabled": "on"})  # remove attachments, nothing else
    assert (
        visitor.post(f"/console/connections/{cid}/rules/mappings/local/outgoing", again).status_code
        == 303
    )
    (block,) = stored(cluster, cid)["mappings"]
    assert [f["field"] for f in block["fields"]] == ["summary", "issue_type", "comments", "labels"]
    assert block["fields"][1]["values"] == {"Bug": "Problem", "Epic": None}

    versions = text(visitor.get(f"/console/connections/{cid}/rules/versions"))
    assert 'data-mapping-version="1"' in versions and 'data-mapping-version="2"' in versions

    off = block_form(visitor, cid, "local", "outgoing")
    off.pop("enabled")
    assert (
        visitor.post(f"/console/connections/{cid}/rules/mappings/local/outgoing", off).status_code
        == 303
    )
    assert stored(cluster, cid)["mappings"] == []


def test_mapping_refusals_are_sentences_and_keep_what_was_typed(cluster):
    visitor, cid = signed_in(cluster, "visual")
    form = block_form(visitor, cid, "local", "incoming")
    form.update({"enabled": "on", "f2_values": "Bug Problem"})
    refused = visitor.post(f"/console/connections/{cid}/rules/mappings/local/incoming", form)
    assert refused.status_code == 400
    html = text(refused)
    assert "Check the value map of \u201cIssue type\u201d" in html
    assert textarea(html, "f2_values") == "Bug Problem"
    assert stored(cluster, cid)["mappings"] == []

    form.update({"f2_values": "", "f2_other": "default", "f2_default": ""})
    refused = visitor.post(f"/console/connections/{cid}/rules/mappings/local/incoming", form)
    assert refused.status_code == 400
    assert "write the default value" in text(refused)

    # both sides keep the summary on a conflict: the API refuses, said in words
    form.update({"f2_other": "keep", "f0_on_conflict": "keep"})
    assert (
        visitor.post(f"/console/connections/{cid}/rules/mappings/local/incoming", form).status_code
        == 303
    )
    theirs = block_form(visitor, cid, "remote", "incoming")
    theirs.update({"enabled": "on", "f0_on_conflict": "keep"})
    refused = visitor.post(f"/console/connections/{cid}/rules/mappings/remote/incoming", theirs)
    assert refused.status_code == 400
    assert "The mappings were not saved: both sides keep summary on a conflict" in text(refused)
    assert len(stored(cluster, cid)["mappings"]) == 1

    form = block_form(visitor, cid, "local", "outgoing")
    form.update({"enabled": "on", "new_field": "custom", "new_local": "Customer"})
    refused = visitor.post(f"/console/connections/{cid}/rules/mappings/local/outgoing", form)
    assert refused.status_code == 400
    assert "(This side (Acme): outgoing, Custom field)" in text(refused)
    assert 'id="new_local" name="new_local" value="Customer"' in text(refused)

    cluster["node-b"].down = True
    form = block_form(visitor, cid, "local", "outgoing")
    form.update({"enabled": "on"})
    down = visitor.post(f"/console/connections/{cid}/rules/mappings/local/outgoing", form)
    cluster["node-b"].down = False
    assert down.status_code == 502
    assert "The other instance could not be reached. Try again later." in text(down)
    assert len(stored(cluster, cid)["mappings"]) == 1

    nowhere = visitor.get(f"/console/connections/{cid}/rules/mappings/both/outgoing")
    assert nowhere.status_code == 404 and "There is no such block of mappings." in text(nowhere)


def test_every_input_of_the_rules_screens_has_a_label(cluster):
    visitor, script = signed_in(cluster, "script")
    basic, visual = connect(cluster, "basic"), connect(cluster, "visual")
    paths = [
        f"/console/connections/{script}/rules",
        f"/console/connections/{script}/rules/versions",
        f"/console/connections/{basic}/rules",
        f"/console/connections/{basic}/rules/upgrade",
        f"/console/connections/{visual}/rules",
    ] + [
        f"/console/connections/{visual}/rules/mappings/{side}/{direction}"
        for side in ("local", "remote")
        for direction in ("outgoing", "incoming")
    ]
    for path in paths:
        page = visitor.get(path)
        assert page.status_code == 200, (path, text(page)[:500])
        assert not unlabelled(text(page)), path
        assert 'aria-current="page">Rules</a>' in text(page), path


def test_scripts_sent_to_a_basic_connection_are_refused_with_a_sentence(cluster):
    visitor, cid = signed_in(cluster, "basic")
    refused = visitor.post(
        f"/console/connections/{cid}/rules/scripts",
        {
            "csrf_token": visitor.csrf(f"/console/connections/{cid}/rules"),
            "outgoing_script": "replica.summary = 'x'",
        },
    )
    assert refused.status_code == 409
    assert "Basic rules cannot be edited. Upgrade the connection to Script" in text(refused)
    assert stored(cluster, cid)["mode"] == "basic" and "outgoing_script" not in stored(cluster, cid)


# --- the incoming guard and internal comments ------------------------------------------------


def rules_post(visitor: Visitor, cid: str, what: str, form: dict[str, str]) -> Any:
    csrf = visitor.csrf(f"/console/connections/{cid}/rules")
    return visitor.post(f"/console/connections/{cid}/rules/{what}", {"csrf_token": csrf, **form})


@pytest.mark.parametrize("mode", ["script", "visual"])
def test_the_incoming_guard_round_trip(cluster, mode):
    visitor, cid = signed_in(cluster, mode)
    assert stored(cluster, cid)["incoming_guard_jql"] is None
    html = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert '<label for="incoming_guard_jql">Incoming guard (JQL)</label>' in html
    assert textarea(html, "incoming_guard_jql") == ""

    saved = rules_post(visitor, cid, "guard", {"incoming_guard_jql": "labels != frozen\r\n"})
    assert header(saved, "Location") == f"/console/connections/{cid}/rules?done=guard"
    assert stored(cluster, cid)["incoming_guard_jql"] == "labels != frozen"
    shown = text(visitor.get(f"/console/connections/{cid}/rules?done=guard"))
    assert "The incoming guard was saved." in shown
    assert textarea(shown, "incoming_guard_jql") == "labels != frozen"

    same = rules_post(visitor, cid, "guard", {"incoming_guard_jql": "labels != frozen"})
    assert header(same, "Location") == f"/console/connections/{cid}/rules?done=unchanged"

    cleared = rules_post(visitor, cid, "guard", {"incoming_guard_jql": "  "})
    assert header(cleared, "Location") == f"/console/connections/{cid}/rules?done=guard"
    assert stored(cluster, cid)["incoming_guard_jql"] is None


def test_a_guard_the_tracker_refuses_is_a_sentence_on_its_field_with_the_text_kept(cluster):
    visitor, cid = signed_in(cluster, "script")
    rules_post(visitor, cid, "guard", {"incoming_guard_jql": "labels != frozen"})
    before = stored(cluster, cid)

    refused = rules_post(visitor, cid, "guard", {"incoming_guard_jql": "project = ("})
    assert refused.status_code == 422
    html = text(refused)
    error = re.search(r'id="incoming_guard_jql-error" role="alert"[^>]*>([^<]*)<', html)
    assert error and error[1].startswith("The tracker refuses this JQL")
    assert 'aria-describedby="incoming_guard_jql-help incoming_guard_jql-error"' in html
    assert textarea(html, "incoming_guard_jql") == "project = ("
    assert stored(cluster, cid) == before


def test_a_basic_connection_shows_no_guard_but_its_internal_comments(cluster):
    visitor, cid = signed_in(cluster, "basic")
    assert "incoming_guard_jql" not in stored(cluster, cid)
    html = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert 'id="incoming_guard_jql"' not in html
    assert '<label for="visibility_value">Role or group name</label>' in html
    saved = rules_post(
        visitor, cid, "comments", {"visibility_type": "group", "visibility_value": "support"}
    )
    assert header(saved, "Location") == f"/console/connections/{cid}/rules?done=comments"
    assert stored(cluster, cid)["private_comment_visibility"] == {
        "type": "group",
        "value": "support",
    }


def test_the_internal_comments_visibility_round_trip_and_refusal(cluster):
    visitor, cid = signed_in(cluster, "script")
    default = {"type": "role", "value": "Administrators"}
    assert stored(cluster, cid)["private_comment_visibility"] == default
    html = text(visitor.get(f"/console/connections/{cid}/rules"))
    assert re.search(r'id="visibility_value"[^>]*value="Administrators"', html)
    assert re.search(r'<option value="role" selected>', html)

    same = rules_post(
        visitor, cid, "comments", {"visibility_type": "role", "visibility_value": "Administrators"}
    )
    assert header(same, "Location") == f"/console/connections/{cid}/rules?done=unchanged"

    saved = rules_post(
        visitor, cid, "comments", {"visibility_type": "group", "visibility_value": " jira-staff "}
    )
    assert header(saved, "Location") == f"/console/connections/{cid}/rules?done=comments"
    assert stored(cluster, cid)["private_comment_visibility"] == {
        "type": "group",
        "value": "jira-staff",
    }
    shown = text(visitor.get(f"/console/connections/{cid}/rules?done=comments"))
    assert "Who may read internal comments was saved." in shown
    assert re.search(r'<option value="group" selected>', shown)
    assert re.search(r'id="visibility_value"[^>]*value="jira-staff"', shown)

    before = stored(cluster, cid)
    refused = rules_post(
        visitor, cid, "comments", {"visibility_type": "team", "visibility_value": "Ops people"}
    )
    assert refused.status_code == 400
    html = text(refused)
    error = re.search(r'id="visibility-error" role="alert"[^>]*>([^<]*)<', html)
    assert error and "Who may read internal comments" in error[1]
    assert re.search(r'id="visibility_value"[^>]*value="Ops people"', html)
    assert stored(cluster, cid) == before

    back = rules_post(
        visitor, cid, "comments", {"visibility_type": "group", "visibility_value": ""}
    )
    assert header(back, "Location") == f"/console/connections/{cid}/rules?done=comments"
    assert stored(cluster, cid)["private_comment_visibility"] == default


def test_guard_and_comments_posts_without_the_csrf_token_change_nothing(cluster):
    visitor, cid = signed_in(cluster, "visual")
    before = stored(cluster, cid)
    attempts = [
        (f"/console/connections/{cid}/rules/guard", {"incoming_guard_jql": "labels = x"}),
        (
            f"/console/connections/{cid}/rules/comments",
            {"visibility_type": "group", "visibility_value": "everyone"},
        ),
    ]
    for path, form in attempts:
        for token in (None, "forged"):
            sent = form if token is None else {**form, "csrf_token": token}
            refused = visitor.post(path, sent)
            assert refused.status_code == 403, path
            assert "This form did not come from this console" in text(refused)
    assert stored(cluster, cid) == before


def custom_rows(first: int, last: int) -> dict[str, str]:
    """The editor's fields of custom-field mapping rows ``first``..``last - 1``."""
    form: dict[str, str] = {}
    for i in range(first, last):
        form.update(
            {
                f"f{i}_field": "custom",
                f"f{i}_local": f"Customer {i}",
                f"f{i}_remote": f"Client {i}",
                f"f{i}_values": f"gold {i} = premium {i}",
                f"f{i}_other": "keep",
                f"f{i}_default": "",
            }
        )
    return form


def test_a_visual_block_with_many_custom_field_mappings_is_saved_through_the_form(cluster):
    """Each mapping row posts six or more fields: the console once read at most 100 fields a
    form, so a block of some fifteen rows was refused as "The form could not be read"."""
    visitor, cid = signed_in(cluster, "visual")
    path = f"/console/connections/{cid}/rules/mappings/local/outgoing"
    form = {k: v for k, v in block_form(visitor, cid, "local", "outgoing").items() if k[0] != "f"}
    saved = visitor.post(path, {**form, "enabled": "on", **custom_rows(0, 12)})
    assert saved.status_code == 303, text(saved)[:2000]
    (block,) = stored(cluster, cid)["mappings"]
    assert [(f["field"], f["local"], f["remote"]) for f in block["fields"]] == [
        ("custom", f"Customer {i}", f"Client {i}") for i in range(12)
    ]
    assert block["fields"][5]["values"] == {"gold 5": "premium 5"}

    # the editor's own form of those 12 rows, and 8 rows more: well over 100 fields
    shown = {**block_form(visitor, cid, "local", "outgoing"), **custom_rows(12, 20)}
    shown.update({"sync": "manual", "f11_values": "gold 11 = platinum"})
    assert len(shown) > 120
    again = visitor.post(path, shown)
    assert again.status_code == 303, text(again)[:2000]
    (block,) = stored(cluster, cid)["mappings"]
    assert block["sync"] == "manual" and len(block["fields"]) == 20
    assert block["fields"][11]["values"] == {"gold 11": "platinum"}
    assert block["fields"][19]["local"] == "Customer 19"

    before = stored(cluster, cid)
    flood = {**shown, **{f"x{i}": "" for i in range(2100)}}  # still under 64 KB
    refused = visitor.post(path, flood)
    assert refused.status_code == 400 and "The form could not be read." in text(refused)
    assert stored(cluster, cid) == before
