"""The destination before initiating (``GET /api/v1/destinations/info``) and the "Initiate
connection" wizard that uses it: the destination's own modes on "Choose the configuration
type", a sentence when it cannot be asked, and a local connection made from the wizard
(this node's own URL: both projects, active at once). Browser walk:
``tests/stack/test_console_pages.py``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.factories.cluster import A_URL, B_URL, three_nodes
from tests.functional.test_console import Visitor, header, hidden, text, unlabelled

INFO = "/api/v1/destinations/info"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def info(cluster: Any, url: str | None, node: str = "node-a") -> Any:
    path = INFO if url is None else f"{INFO}?{urlencode({'url': url})}"
    return cluster.admin(node, "GET", path)


def stored_connections(cluster: Any, node: str) -> list[str]:
    answer = cluster.admin(node, "GET", "/api/v1/connections")
    assert answer.status == 200, answer.body
    return sorted(c["id"] for c in answer.body)


def guarded_fetcher() -> Any:
    """Providers for the cluster whose outbound calls go through the real SSRF guard."""
    from chalicelib.root import default_fetcher

    def fetcher(settings: Any) -> Any:
        return default_fetcher(settings)

    return fetcher


# --- GET /api/v1/destinations/info ---------------------------------------------------------


def test_a_partner_url_answers_its_node_id_public_flag_and_modes(cluster):
    answer = info(cluster, B_URL + "/")
    assert answer.status == 200, answer.body
    assert answer.body == {
        "url": B_URL,
        "node_id": "node-b",
        "name": "Node B",
        "public": True,
        "modes": ["basic", "visual", "script"],
        "local": False,
    }
    assert ("GET", B_URL + "/node/v1/info") in cluster.router.requests
    assert stored_connections(cluster, "node-a") == []


def test_the_destinations_own_modes_are_answered(aws, monkeypatch):
    with three_nodes(aws, monkeypatch, TWINSYNC_MODES="basic") as cluster:
        answer = info(cluster, B_URL)
        assert (answer.status, answer.body["modes"]) == (200, ["basic"])


def test_this_nodes_own_url_is_local_and_asks_nobody(cluster):
    answer = info(cluster, A_URL)
    assert answer.status == 200, answer.body
    assert answer.body["local"] is True
    assert answer.body["node_id"] == "node-a"
    assert cluster.router.requests == []


@pytest.mark.parametrize("url", ["https://nowhere.twinsync.test", "https://tracker.test/jira"])
def test_an_unreachable_or_non_twinsync_destination_is_422(cluster, url):
    answer = info(cluster, url)
    assert (answer.status, answer.error) == (422, "destination_unreachable")
    assert answer.body["error"]["field"] == "url"
    assert "I don't have a URL" in answer.body["error"]["message"]


def test_a_down_destination_is_422(cluster):
    cluster["node-b"].down = True
    answer = info(cluster, B_URL)
    assert (answer.status, answer.error) == (422, "destination_unreachable")


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",  # cloud metadata: never allowed
        "http://[fe80::1]:8080",  # link-local
        "https://0.0.0.0",
    ],
)
def test_a_url_the_ssrf_guard_refuses_is_400_and_nothing_is_called(cluster, url):
    from chalicelib.root import Providers, use_providers

    cluster.router.requests.clear()
    providers = Providers(tracker=cluster.providers().tracker, fetcher=guarded_fetcher())
    with use_providers(providers):
        answer = info(cluster, url)
    assert (answer.status, answer.error) == (400, "destination_url_not_allowed"), answer.body
    assert answer.body["error"]["field"] == "url"
    assert cluster.router.requests == []


@pytest.mark.parametrize("url", ["not a url", "ftp://b.twinsync.test", "https://"])
def test_a_url_that_is_not_http_is_400(cluster, url):
    answer = info(cluster, url)
    assert (answer.status, answer.error) == (400, "destination_url_not_allowed")
    assert answer.body["error"]["field"] == "url"
    assert cluster.router.requests == []


def test_no_url_is_missing_field(cluster):
    for path in (INFO, INFO + "?url=", INFO + "?url=%20"):
        answer = cluster.admin("node-a", "GET", path)
        assert (answer.status, answer.error, answer.body["error"]["field"]) == (
            400,
            "missing_field",
            "url",
        )


def test_the_admin_token_is_needed(cluster):
    answer = cluster.raw(cluster["node-a"], "GET", f"{INFO}?url={B_URL}")
    assert (answer.status, answer.error) == (401, "missing_token")
    assert cluster.router.requests == []


def test_initiating_refuses_what_the_info_refuses_with_the_same_codes(cluster):
    body = {
        "destination_url": "https://nowhere.twinsync.test",
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "nowhere",
        "incoming_project": "SUP",
    }
    created = cluster.admin("node-a", "POST", "/api/v1/connections", body)
    assert (created.status, created.error) == (422, "destination_unreachable")
    assert created.body["error"]["field"] == "destination_url"


# --- the wizard: "Choose the configuration type" -----------------------------------------


def signed_in(cluster: Any, node: str = "node-a") -> Visitor:
    visitor = Visitor(cluster, node)
    assert visitor.sign_in().status_code == 303
    return visitor


def cards(html: str) -> list[str]:
    return re.findall(r'name="mode" value="(\w+)"', html)


def type_step(visitor: Visitor, url: str) -> Any:
    return visitor.get("/console/initiate/type?" + urlencode({"destination_url": url}))


def test_the_type_step_offers_the_destinations_modes(aws, monkeypatch):
    with three_nodes(aws, monkeypatch, TWINSYNC_MODES="basic,script") as cluster:
        a = signed_in(cluster)
        page = type_step(a, B_URL)
        assert page.status_code == 200
        assert "Choose the configuration type" in text(page)
        assert cards(text(page)) == ["basic", "script"]  # B offers no Visual
        assert "Node B" in text(page)
        assert not unlabelled(text(page))


def test_the_type_step_offers_every_mode_of_a_destination_offering_all(cluster):
    a = signed_in(cluster)
    assert cards(text(type_step(a, B_URL))) == ["basic", "visual", "script"]
    no_url = a.get("/console/initiate/type?no_url=on")
    assert cards(text(no_url)) == ["basic", "script"]  # never Visual without a URL


def test_an_unreachable_destination_is_a_sentence_and_previous_keeps_the_url(cluster):
    a = signed_in(cluster)
    url = "https://nowhere.twinsync.test"
    page = type_step(a, url)
    assert page.status_code == 422
    html = text(page)
    assert "The destination instance could not be reached as a Twinsync node." in html
    assert 'role="alert"' in html
    assert cards(html) == [] and ">Next<" not in html
    back = re.search(r'<a class="button" href="([^"]+)">Previous</a>', html).group(1)
    assert urlencode({"destination_url": url}) in back.replace("&amp;", "&")
    assert url in text(a.get(back.replace("&amp;", "&")))


def test_a_refused_destination_url_is_a_sentence(cluster):
    from chalicelib.root import Providers, use_providers

    a = signed_in(cluster)
    providers = Providers(tracker=cluster.providers().tracker, fetcher=guarded_fetcher())
    with use_providers(providers):
        page = type_step(a, "https://169.254.169.254")
    assert page.status_code == 400
    assert "This node may not call that destination URL." in text(page)
    assert cards(text(page)) == []


# --- the wizard: a local connection (this node's own URL) --------------------------------


def local_wizard(**more: str) -> dict[str, str]:
    return {
        "destination_url": A_URL,
        "mode": "basic",
        "local_short_name": "Sup",
        "remote_short_name": "Dev",
        "name": "SUP-DEV",
        **more,
    }


def test_a_local_connection_from_the_wizard_is_active_at_once(cluster):
    a = signed_in(cluster)
    kind = type_step(a, A_URL)
    assert kind.status_code == 200
    assert "local connection" in text(kind)
    assert cards(text(kind)) == ["basic", "visual", "script"]

    project = a.get("/console/initiate/project?" + urlencode(local_wizard()))
    html = text(project)
    assert "Select a project for the incoming sync" in html
    assert "Select a project for the destination's incoming sync" in html
    assert 'name="destination_incoming_project"' in html
    assert "admin access" not in html  # both ends are this node's
    assert not unlabelled(html)

    form = {
        "csrf_token": hidden(project, "csrf_token"),
        **local_wizard(incoming_project="SUP", destination_incoming_project="DEV"),
    }
    done = a.post("/console/initiate", form)
    assert done.status_code == 303, text(done)[:800]
    page = a.get(header(done, "Location"))
    assert "Active" in text(page) and "Sync your first issue" in text(page)
    ends = cluster.admin("node-a", "GET", "/api/v1/connections").body
    assert sorted(e["incoming_project"] for e in ends) == ["DEV", "SUP"]
    assert {e["status"] for e in ends} == {"active"}


def test_a_local_connection_needs_two_different_projects(cluster):
    a = signed_in(cluster)
    csrf = a.csrf()
    same = a.post(
        "/console/initiate",
        {
            "csrf_token": csrf,
            **local_wizard(incoming_project="SUP", destination_incoming_project="SUP"),
        },
    )
    assert same.status_code == 400
    assert "project for the destination&#39;s incoming sync" in text(same)
    assert 'name="destination_incoming_project"' in text(same)  # still the local step
    missing = a.post(
        "/console/initiate", {"csrf_token": csrf, **local_wizard(incoming_project="SUP")}
    )
    assert missing.status_code == 400
    assert "project for the destination&#39;s incoming sync" in text(missing)
    assert stored_connections(cluster, "node-a") == []


def test_a_partner_url_still_asks_for_admin_access_not_a_second_project(cluster):
    a = signed_in(cluster)
    project = a.get(
        "/console/initiate/project?"
        + urlencode({**local_wizard(), "destination_url": B_URL, "name": "A-B"})
    )
    assert "Do you have admin access to the destination instance?" in text(project)
    assert "destination_incoming_project" not in text(project)


def test_a_mode_the_destination_lacks_is_still_refused_at_initiate(aws, monkeypatch):
    with three_nodes(aws, monkeypatch, TWINSYNC_MODES="basic") as cluster:
        a = signed_in(cluster)
        refused = a.post(
            "/console/initiate",
            {
                "csrf_token": a.csrf(),
                **local_wizard(
                    destination_url=B_URL, mode="script", name="A-B", incoming_project="SUP"
                ),
                "admin_access": "no",
            },
        )
        assert refused.status_code == 422
        assert "The destination instance does not offer this configuration type." in text(refused)
        assert stored_connections(cluster, "node-a") == []


def test_admin_access_answers_go_to_remote_on_the_destinations_accept_screen(cluster):
    a = signed_in(cluster)
    done = a.post(
        "/console/initiate",
        {
            "csrf_token": a.csrf(),
            **local_wizard(destination_url=B_URL, name="A-B", incoming_project="SUP"),
            "admin_access": "yes",
        },
    )
    assert done.status_code == 201
    remote = re.search(r'href="([^"]+)"[^>]*>Go to remote<', text(done)).group(1)
    assert remote.startswith(B_URL + "/console/accept#code=TS1.")


def test_without_admin_access_the_code_and_go_to_remote_without_it(cluster):
    a = signed_in(cluster)
    done = a.post(
        "/console/initiate",
        {
            "csrf_token": a.csrf(),
            **local_wizard(destination_url=B_URL, name="A-B", incoming_project="SUP"),
            "admin_access": "no",
        },
    )
    assert done.status_code == 201
    html = text(done)
    assert re.search(r'id="invitation_code"[^>]*>TS1\.', html)
    remote = re.search(r'href="([^"]+)"[^>]*>Go to remote<', html).group(1)
    assert remote == B_URL + "/console/accept"  # the code is pasted there, never in a URL


def test_no_url_has_no_go_to_remote(cluster):
    a = signed_in(cluster)
    done = a.post(
        "/console/initiate",
        {
            "csrf_token": a.csrf(),
            **local_wizard(destination_url="", no_url="on", name="A-P", incoming_project="SUP"),
        },
    )
    assert done.status_code == 201
    assert "Go to remote" not in text(done)
