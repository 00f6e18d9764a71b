"""A connection's Triggers and Bulk sync tabs and a job's page, over Chalice's test client
(no browser; the browser walk is ``tests/stack/test_console_jobs.py``): every screen
renders with a label on every input, the API's refusals are sentences on the form they
belong to, a POST without the CSRF value changes nothing, triggers and jobs page on, and a
job's progress fragment polls while the job runs and stops once it has ended."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories.cluster import initiate_to_b, three_nodes
from tests.functional.test_console import Visitor, header, hidden, text, unlabelled


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


@pytest.fixture
def connected(cluster) -> tuple[Visitor, str]:
    from tests.factories.cluster import connect_a_to_b

    cid = connect_a_to_b(cluster)
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    return visitor, cid


def api(cluster: Any, method: str, path: str, body: Any = None) -> Any:
    return cluster.admin("node-a", method, path, body)


def triggers_of(cluster: Any, cid: str) -> list[dict[str, Any]]:
    answer = api(cluster, "GET", f"/api/v1/connections/{cid}/triggers?limit=100")
    assert answer.status == 200, answer.body
    return list(answer.body)


def jobs_of(cluster: Any, cid: str) -> list[dict[str, Any]]:
    answer = api(cluster, "GET", f"/api/v1/jobs?connection_id={cid}&limit=100")
    assert answer.status == 200, answer.body
    assert {j["connection_id"] for j in answer.body} <= {cid}
    return list(answer.body)


def add_trigger(cluster: Any, cid: str, jql: str = "project = SUP") -> dict[str, Any]:
    made = api(cluster, "POST", f"/api/v1/connections/{cid}/triggers", {"jql": jql})
    assert made.status == 201, made.body
    return dict(made.body)


def start_bulk_sync(cluster: Any, cid: str, jql: str = "project = SUP") -> str:
    started = api(cluster, "POST", f"/api/v1/connections/{cid}/bulk-sync", {"jql": jql})
    assert started.status == 202, started.body
    return str(started.body["job_id"])


def field_value(html: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>([^<]*)</textarea>', html)
    assert found, f"no {name} in {html[:2000]}"
    return found.group(1)


def follow(visitor: Visitor, response: Any) -> Any:
    assert response.status_code == 303, text(response)[:2000]
    return visitor.get(header(response, "Location"))


# --- the tabs ----------------------------------------------------------------------------------


def test_the_connection_has_triggers_and_bulk_sync_tabs(connected):
    visitor, cid = connected
    page = text(visitor.get(f"/console/connections/{cid}"))
    nav = re.search(r'<nav class="subtabs".*?</nav>', page, re.S).group(0)
    assert f'href="/console/connections/{cid}/triggers">Triggers<' in nav
    assert f'href="/console/connections/{cid}/bulk">Bulk sync<' in nav
    triggers = text(visitor.get(f"/console/connections/{cid}/triggers"))
    assert re.search(r'aria-current="page">Triggers<', triggers)
    bulk = text(visitor.get(f"/console/connections/{cid}/bulk"))
    assert re.search(r'aria-current="page">Bulk sync<', bulk)


def test_an_unknown_connection_is_a_sentence(connected):
    visitor, _ = connected
    for path in ("triggers", "bulk", "jobs/job-nope"):
        page = visitor.get(f"/console/connections/nope/{path}")
        assert page.status_code == 404, path
        assert "This connection does not exist (any more)." in text(page)


# --- triggers ------------------------------------------------------------------------------------


def test_a_trigger_is_added_after_the_tracker_refuses_its_jql_and_is_previewed(cluster, connected):
    visitor, cid = connected
    for n in range(3):
        cluster["node-a"].tracker.add_issue("SUP", f"issue {n}")
    page = visitor.get(f"/console/connections/{cid}/triggers")
    assert page.status_code == 200
    assert "This connection has no triggers yet." in text(page)
    assert not unlabelled(text(page))
    csrf = hidden(page, "csrf_token")

    refused = visitor.post(
        f"/console/connections/{cid}/triggers",
        {"csrf_token": csrf, "jql": "project = ", "note": "escalations", "active": "on"},
    )
    assert refused.status_code == 400
    html = text(refused)
    form_error = re.search(r'<p class="error" id="form-error" role="alert">([^<]*)<', html)
    assert form_error and form_error.group(1).startswith("The tracker refuses this JQL")
    assert field_value(html, "jql") == "project = "  # kept in the field
    assert 'aria-invalid="true"' in html and 'value="escalations"' in html
    assert triggers_of(cluster, cid) == []

    bad_preview = visitor.post(
        f"/console/connections/{cid}/triggers/preview", {"csrf_token": csrf, "jql": "project = "}
    )
    assert bad_preview.status_code == 400
    assert "The tracker refuses this JQL" in text(bad_preview)

    preview = visitor.post(
        f"/console/connections/{cid}/triggers/preview",
        {"csrf_token": csrf, "jql": "project = SUP", "active": "on"},
    )
    assert preview.status_code == 200
    count = re.search(r"data-preview-count>(\d+)<", text(preview))
    assert count and count.group(1) == "3", text(preview)[-2000:]
    assert "SUP-1" in text(preview) and field_value(text(preview), "jql") == "project = SUP"
    assert triggers_of(cluster, cid) == []  # a preview saves nothing

    added = visitor.post(
        f"/console/connections/{cid}/triggers",
        {"csrf_token": csrf, "jql": "project = SUP", "note": "escalations", "active": "on"},
    )
    listed = follow(visitor, added)
    assert "The trigger was added" in text(listed)
    (trigger,) = triggers_of(cluster, cid)
    assert (trigger["jql"], trigger["note"], trigger["active"]) == (
        "project = SUP",
        "escalations",
        True,
    )
    row = re.search(rf'<tr data-trigger-row="{trigger["id"]}">.*?</tr>', text(listed), re.S)
    assert row and "project = SUP" in row.group(0) and "Enabled" in row.group(0)


def test_a_trigger_is_edited_disabled_enabled_and_deleted(cluster, connected):
    visitor, cid = connected
    trigger = add_trigger(cluster, cid)
    tid = trigger["id"]
    base = f"/console/connections/{cid}/triggers/{tid}"
    edit = visitor.get(base + "/edit")
    assert edit.status_code == 200 and "Edit trigger" in text(edit)
    assert field_value(text(edit), "jql") == "project = SUP"
    assert not unlabelled(text(edit))
    csrf = hidden(edit, "csrf_token")

    refused = visitor.post(base + "/edit", {"csrf_token": csrf, "jql": "project = (", "note": ""})
    assert refused.status_code == 400
    assert "The tracker refuses this JQL" in text(refused)
    assert field_value(text(refused), "jql") == "project = ("
    assert triggers_of(cluster, cid)[0]["jql"] == "project = SUP"

    saved = visitor.post(
        base + "/edit", {"csrf_token": csrf, "jql": "project = DEV", "note": "dev", "active": "on"}
    )
    assert "The trigger was saved." in text(follow(visitor, saved))
    assert (triggers_of(cluster, cid)[0]["jql"], triggers_of(cluster, cid)[0]["note"]) == (
        "project = DEV",
        "dev",
    )

    disabled = visitor.post(base + "/active", {"csrf_token": csrf})
    page = text(follow(visitor, disabled))
    assert "The trigger is disabled" in page and ">Enable<" in page
    assert triggers_of(cluster, cid)[0]["active"] is False
    enabled = visitor.post(base + "/active", {"csrf_token": csrf, "active": "on"})
    assert "The trigger is enabled." in text(follow(visitor, enabled))
    assert triggers_of(cluster, cid)[0]["active"] is True

    # delete asks first: the row's Delete opens a form whose button confirms
    listed = text(visitor.get(f"/console/connections/{cid}/triggers"))
    row = re.search(rf'<tr data-trigger-row="{tid}">.*?</tr>', listed, re.S).group(0)
    assert re.search(r"<details class=\"confirm\">\s*<summary>Delete", row)
    assert "Yes, delete the trigger" in row
    deleted = visitor.post(base + "/delete", {"csrf_token": csrf})
    assert "The trigger was deleted." in text(follow(visitor, deleted))
    assert triggers_of(cluster, cid) == []

    for path, status in (("/delete", 404), ("/active", 404), ("/edit", 404)):
        gone = visitor.post(base + path, {"csrf_token": csrf, "jql": "project = SUP"})
        assert gone.status_code == status, path
        assert "This trigger no longer exists. Reload the page." in text(gone)
    missing = visitor.get(base + "/edit")
    assert missing.status_code == 404 and "This trigger no longer exists." in text(missing)


def test_the_triggers_page_on(cluster, connected):
    visitor, cid = connected
    for n in range(27):
        add_trigger(cluster, cid, f'project = SUP AND summary ~ "t{n}"')
    page = text(visitor.get(f"/console/connections/{cid}/triggers"))
    first = re.findall(r'data-trigger-row="([^"]+)"', page)
    assert len(first) == 25
    more = re.search(r'href="([^"]*cursor=[^"]*)" rel="next">More triggers<', page)
    assert more
    rest = re.findall(
        r'data-trigger-row="([^"]+)"', text(visitor.get(more.group(1).replace("&amp;", "&")))
    )
    assert len(rest) == 2 and not set(rest) & set(first)


def test_a_bulk_sync_from_a_trigger_opens_its_job(cluster, connected):
    visitor, cid = connected
    cluster["node-a"].tracker.add_issue("SUP", "one")
    trigger = add_trigger(cluster, cid)
    csrf = visitor.csrf(f"/console/connections/{cid}/triggers")
    started = visitor.post(
        f"/console/connections/{cid}/triggers/{trigger['id']}/bulk-sync", {"csrf_token": csrf}
    )
    assert started.status_code == 303
    (job,) = jobs_of(cluster, cid)
    assert header(started, "Location") == f"/console/connections/{cid}/jobs/{job['id']}"
    assert job["trigger_id"] == trigger["id"] and job["kind"] == "bulk_sync"
    page = text(visitor.get(header(started, "Location")))
    assert "Bulk sync" in page and trigger["id"] in page

    gone = visitor.post(
        f"/console/connections/{cid}/triggers/trg-nope/bulk-sync", {"csrf_token": csrf}
    )
    assert gone.status_code == 404 and "This trigger no longer exists." in text(gone)


# --- bulk sync, bulk connect, drift scan ---------------------------------------------------------


def test_the_bulk_tab_starts_a_bulk_sync_and_shows_its_job(cluster, connected):
    visitor, cid = connected
    page = visitor.get(f"/console/connections/{cid}/bulk")
    assert page.status_code == 200
    html = text(page)
    for words in (
        "Bulk sync",
        "Bulk connect",
        "Drift scan",
        "Jobs",
        "This connection has no jobs yet.",
    ):
        assert words in html, words
    assert not unlabelled(html)
    csrf = hidden(page, "csrf_token")

    refused = visitor.post(
        f"/console/connections/{cid}/bulk/sync", {"csrf_token": csrf, "jql": "project = ("}
    )
    assert refused.status_code == 400
    assert re.search(
        r'id="bulk-sync-error" role="alert">The tracker refuses this JQL', text(refused)
    )
    assert field_value(text(refused), "jql") == "project = ("
    assert jobs_of(cluster, cid) == []

    bad_pace = visitor.post(
        f"/console/connections/{cid}/bulk/sync",
        {"csrf_token": csrf, "jql": "project = SUP", "max_per_hour": "fast"},
    )
    assert bad_pace.status_code == 400
    assert "Check \u201cMost issues an hour\u201d" in text(bad_pace)

    started = visitor.post(
        f"/console/connections/{cid}/bulk/sync",
        {"csrf_token": csrf, "jql": "project = SUP", "max_per_hour": "60"},
    )
    (job,) = jobs_of(cluster, cid)
    assert header(started, "Location") == f"/console/connections/{cid}/jobs/{job['id']}"
    job_page = follow(visitor, started)
    html = text(job_page)
    assert job_page.status_code == 200 and "Listing the issues" in html
    assert re.search(r"<progress id=\"job-bar\" max=\"1\" value=\"0\"", html)
    assert '<label for="job-bar">Progress</label>' in html
    assert 'hx-trigger="every 2s"' in html
    assert f'hx-get="/console/connections/{cid}/jobs/{job["id"]}/progress"' in html
    assert "Cancel job" in html and "Yes, cancel the job" in html

    fragment = visitor.get(f"/console/connections/{cid}/jobs/{job['id']}/progress")
    assert fragment.status_code == 200
    assert text(fragment).startswith('<div id="job-progress"') and "<html" not in text(fragment)
    assert 'hx-trigger="every 2s"' in text(fragment)

    listed = text(visitor.get(f"/console/connections/{cid}/bulk"))
    assert f'data-job-row="{job["id"]}"' in listed and "Listing the issues" in listed


def test_bulk_connect_and_drift_scan_refusals_are_sentences_on_their_forms(cluster, connected):
    visitor, cid = connected
    csrf = visitor.csrf(f"/console/connections/{cid}/bulk")
    refused = visitor.post(
        f"/console/connections/{cid}/bulk/connect",
        {"csrf_token": csrf, "pairs": "SUP-1,DEV-1\nnot a key,x"},
    )
    assert refused.status_code == 400
    found = re.search(r'id="bulk-connect-error" role="alert">([^<]*)<', text(refused))
    assert found and "Pair 2 has an invalid issue key." in found.group(1)
    assert "not a key,x" in text(refused)
    assert jobs_of(cluster, cid) == []

    connected_pairs = visitor.post(
        f"/console/connections/{cid}/bulk/connect",
        {"csrf_token": csrf, "pairs": "SUP-1,TEST-1\nSUP-2,TEST-2\n"},
    )
    (job,) = jobs_of(cluster, cid)
    assert job["kind"] == "bulk_connect" and job["total"] == 2
    assert "Bulk connect" in text(follow(visitor, connected_pairs))

    scan = visitor.post(f"/console/connections/{cid}/bulk/drift-scan", {"csrf_token": csrf})
    page = text(follow(visitor, scan))
    assert "Drift scan" in page
    scan_job = next(j for j in jobs_of(cluster, cid) if j["kind"] == "drift_scan")
    repair = visitor.post(
        f"/console/connections/{cid}/jobs/{scan_job['id']}/repair", {"csrf_token": csrf}
    )
    assert repair.status_code == 409
    assert "The drift scan has not finished yet" in text(
        repair
    ) or "The drift scan found no drifted twin" in text(repair)


def test_a_drift_scan_from_the_private_side_only(cluster):
    """The public end of a connection with a private node cannot call it: a sentence."""
    created = api(
        cluster, "POST", "/api/v1/connections", {**initiate_to_b("A_to_P"), "destination_url": None}
    )
    assert created.status == 201, created.body
    accepted = cluster.admin(
        "node-p",
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": created.body["invitation_code"], "incoming_project": "PRIV"},
    )
    assert accepted.status == 201, accepted.body
    cid = created.body["connection"]["id"]
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    csrf = visitor.csrf(f"/console/connections/{cid}/bulk")
    refused = visitor.post(f"/console/connections/{cid}/bulk/drift-scan", {"csrf_token": csrf})
    assert refused.status_code == 409
    assert "start the drift scan on the private node" in text(refused)


def test_a_job_is_cancelled_after_its_confirmation(cluster, connected):
    visitor, cid = connected
    job_id = start_bulk_sync(cluster, cid)
    page = visitor.get(f"/console/connections/{cid}/jobs/{job_id}")
    csrf = hidden(page, "csrf_token")
    cancelled = visitor.post(
        f"/console/connections/{cid}/jobs/{job_id}/cancel", {"csrf_token": csrf}
    )
    after = text(follow(visitor, cancelled))
    assert "Cancel requested" in after and "Cancelling" in after
    assert api(cluster, "GET", f"/api/v1/jobs/{job_id}").body["state"] == "cancelling"

    _finish(cluster, job_id, state="cancelled")
    again = visitor.post(f"/console/connections/{cid}/jobs/{job_id}/cancel", {"csrf_token": csrf})
    assert again.status_code == 409
    assert "This job has already finished: there is nothing to cancel." in text(again)
    unknown = visitor.post(f"/console/connections/{cid}/jobs/job-nope/cancel", {"csrf_token": csrf})
    assert unknown.status_code == 404
    assert "This job does not exist on this node (any more)." in text(unknown)


def test_a_job_of_another_connection_is_not_shown_under_this_one(cluster, connected):
    from tests.factories.cluster import connect_a_to_b

    visitor, cid = connected
    other = connect_a_to_b(cluster, "Second")
    job_id = start_bulk_sync(cluster, other)
    page = visitor.get(f"/console/connections/{cid}/jobs/{job_id}")
    assert page.status_code == 404
    assert "This job does not exist on this node (any more)." in text(page)
    assert f'data-job-row="{job_id}"' not in text(visitor.get(f"/console/connections/{cid}/bulk"))


def _finish(cluster: Any, job_id: str, *, state: str = "done", result: Any = None) -> None:
    """What the job runner writes when a job ends (the runner does not run here)."""
    import time

    from chalicelib.ops import job_store

    with cluster.active(cluster["node-a"]):
        job, counter = job_store.load(job_id)
        job.state = state
        job.total = 3
        job.done = 3 if state == "done" else 1
        job.started_at = job.created_at
        job.finished_at = time.time()
        if result is not None:
            job.result = result
        job_store.save(job, counter)


def test_a_finished_job_stops_polling_and_shows_its_totals(cluster, connected):
    visitor, cid = connected
    job_id = start_bulk_sync(cluster, cid)
    _finish(cluster, job_id)
    fragment = text(visitor.get(f"/console/connections/{cid}/jobs/{job_id}/progress"))
    assert "hx-trigger" not in fragment and "hx-get" not in fragment
    assert 'data-job-state="done"' in fragment
    assert re.search(r'<progress id="job-bar" max="3" value="3"', fragment)
    assert "<span data-job-done>3</span> of <span data-job-total>3</span>" in fragment
    assert "(100%)" in fragment and "issues per minute" in fragment
    # the actions are swapped out of band: no Cancel once the job has ended
    assert '<div id="job-actions" hx-swap-oob="true">' in fragment and "Cancel job" not in fragment
    page = text(visitor.get(f"/console/connections/{cid}/jobs/{job_id}"))
    assert "Cancel job" not in page and "hx-trigger" not in page and ">Done<" in page


def test_a_finished_drift_scan_offers_its_repair(cluster, connected):
    visitor, cid = connected
    csrf = visitor.csrf(f"/console/connections/{cid}/bulk")
    follow(
        visitor, visitor.post(f"/console/connections/{cid}/bulk/drift-scan", {"csrf_token": csrf})
    )
    (scan,) = jobs_of(cluster, cid)
    result = {**scan["result"], "scanned": 3, "clean": 2, "drifted": 1}
    _finish(cluster, scan["id"], result=result)
    page = visitor.get(f"/console/connections/{cid}/jobs/{scan['id']}")
    assert "Scanned 3: 2 clean, 1 drifted" in text(page)
    assert "Repair 1 drifted twin" in text(page)
    repaired = visitor.post(
        f"/console/connections/{cid}/jobs/{scan['id']}/repair", {"csrf_token": csrf}
    )
    repair = next(j for j in jobs_of(cluster, cid) if j["kind"] == "drift_repair")
    assert header(repaired, "Location") == f"/console/connections/{cid}/jobs/{repair['id']}"
    assert repair["source_job"] == scan["id"]
    assert "Drift repair" in text(follow(visitor, repaired))


def test_the_jobs_list_pages_on_and_holds_only_this_connections_jobs(cluster, connected):
    from tests.factories.cluster import connect_a_to_b

    visitor, cid = connected
    other = connect_a_to_b(cluster, "Second")
    theirs = [start_bulk_sync(cluster, other) for _ in range(3)]
    ours = [start_bulk_sync(cluster, cid) for _ in range(30)]
    theirs += [start_bulk_sync(cluster, other) for _ in range(22)]
    # the node's list, newest first: 22 of theirs, 30 of ours, 3 of theirs; the tab reads
    # the connection's own list, 25 a page
    page = text(visitor.get(f"/console/connections/{cid}/bulk"))
    first = re.findall(r'data-job-row="([^"]+)"', page)
    assert first == ours[::-1][:25], first
    more = re.search(r'href="([^"]*cursor=[^"]*)" rel="next">More jobs<', page)
    assert more
    second = text(visitor.get(more.group(1).replace("&amp;", "&")))
    rest = re.findall(r'data-job-row="([^"]+)"', second)
    assert rest == ours[::-1][25:]
    assert "More jobs" not in second and not set(first + rest) & set(theirs)


# --- CSRF: every POST without the value changes nothing ---------------------------------------


def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(cluster, connected):
    visitor, cid = connected
    trigger = add_trigger(cluster, cid)
    job_id = start_bulk_sync(cluster, cid)
    before_triggers = triggers_of(cluster, cid)
    before_jobs = jobs_of(cluster, cid)
    tid = trigger["id"]
    base = f"/console/connections/{cid}"
    posts = {
        f"{base}/triggers": {"jql": "project = DEV", "active": "on"},
        f"{base}/triggers/preview": {"jql": "project = DEV"},
        f"{base}/triggers/{tid}/edit": {"jql": "project = DEV"},
        f"{base}/triggers/{tid}/active": {},
        f"{base}/triggers/{tid}/delete": {},
        f"{base}/triggers/{tid}/bulk-sync": {},
        f"{base}/bulk/sync": {"jql": "project = DEV"},
        f"{base}/bulk/connect": {"pairs": "SUP-1,TEST-1"},
        f"{base}/bulk/drift-scan": {},
        f"{base}/jobs/{job_id}/cancel": {},
        f"{base}/jobs/{job_id}/repair": {},
    }
    for path, form in posts.items():
        assert visitor.post(path, form).status_code == 403, path
        assert visitor.post(path, {**form, "csrf_token": "x" * 43}).status_code == 403, path
        assert Visitor(cluster, "node-a").post(path, {**form, "csrf_token": "x"}).status_code == 401
    assert triggers_of(cluster, cid) == before_triggers
    assert (
        [(j["id"], j["state"]) for j in jobs_of(cluster, cid)]
        == [(j["id"], j["state"]) for j in before_jobs]
        == [(job_id, "listing")]
    )


# --- words and numbers ---------------------------------------------------------------------------


def test_rates_and_times_left_as_people_read_them():
    from chalicelib.console.job_views import duration, job_view, per_minute

    assert [per_minute(v) for v in (None, 3.0, 60, 90, 1200)] == [
        "\u2014",
        "0.05",
        "1.0",
        "1.5",
        "20",
    ]
    assert [duration(v) for v in (None, 5, 125, 3_600, 7_500)] == [
        "\u2014",
        "5 s",
        "2 min",
        "1 h",
        "2 h 5 min",
    ]
    view = job_view(
        {
            "state": "running",
            "kind": "bulk_sync",
            "total": 8,
            "done": 3,
            "failed": 1,
            "skipped": 0,
            "waiting": {"reason": "job_rate", "until": None},
        }
    )
    assert (view["handled"], view["percent"], view["final"]) == (4, 50, False)
    assert view["waiting_label"] == "this job's most issues an hour"
    assert view["eta_after_wait"] is True  # its own pace: the measured rate is no ETA
    running = job_view({"state": "running", "eta": "2026-12-03T10:00:04+00:00", "waiting": None})
    assert running["eta_after_wait"] is False
    paced = job_view(
        {
            "state": "running",
            "eta": "2026-12-03T10:00:04+00:00",
            "waiting": {"reason": "job_rate", "until": "2026-12-03T11:00:00+00:00"},
        }
    )
    assert paced["eta_after_wait"] is True and paced["waiting_until"].startswith("2026-12-03T11")
