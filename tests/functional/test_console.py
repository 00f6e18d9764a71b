"""The admin console over Chalice's test client: sessions, CSRF, CSP, base paths, the
in-process admin API client, and the screens of reference page 000 (no browser; the
browser walk is ``tests/stack/test_console.py``)."""

from __future__ import annotations

import json
import re
import secrets
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories.cluster import three_nodes

CONSOLE = Path(__file__).resolve().parents[2] / "chalicelib" / "console"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


class Visitor:
    """A browser without JavaScript: a cookie jar and requests to one node of the cluster."""

    def __init__(self, cluster: Any, node: str, *, https: bool = False) -> None:
        self.cluster = cluster
        self.node = node
        self.https = https
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> Any:
        sent = dict(headers)
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.https:
            sent["X-Forwarded-Proto"] = "https"
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        with self.cluster.active(self.cluster[self.node]):
            response = self.cluster.client.http.request(method, path, headers=sent, body=body)
        self._keep(response)
        return response

    def _keep(self, response: Any) -> None:
        given = response.headers.get("Set-Cookie") or response.headers.get("set-cookie")
        values = given if isinstance(given, list) else ([given] if given else [])
        self.set_cookies = list(values)
        for value in values:
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value

    def get(self, path: str, **headers: str) -> Any:
        return self.request("GET", path, **headers)

    def post(self, path: str, form: dict[str, str], **headers: str) -> Any:
        return self.request("POST", path, form, **headers)

    def sign_in(self, token: str = ADMIN_TOKEN) -> Any:
        page = self.get("/console/signin")
        return self.post(
            "/console/signin", {"csrf_token": hidden(page, "csrf_token"), "token": token}
        )

    def csrf(self, path: str = "/console/connections") -> str:
        return hidden(self.get(path), "csrf_token")


def text(response: Any) -> str:
    body = response.body
    return body.decode() if isinstance(body, bytes) else body


def hidden(response: Any, name: str, *, form: str = "") -> str:
    """A hidden field's value, in the form whose action ends with ``form`` if given."""
    html = text(response)
    if form:
        html = html[html.index(f'{form}" class=') :]
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in {text(response)[:2000]}"
    return found.group(1)


def header(response: Any, name: str) -> str:
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value
    return ""


# --- sign in, sessions, CSRF -------------------------------------------------------------


def test_a_page_without_a_session_sends_to_sign_in_and_back(cluster):
    visitor = Visitor(cluster, "node-a")
    response = visitor.get("/console/connections")
    assert response.status_code == 303
    assert header(response, "Location") == "/console/signin?next=%2Fconsole%2Fconnections"

    page = visitor.get(header(response, "Location"))
    assert page.status_code == 200
    assert 'value="/console/connections"' in text(page)
    signed = visitor.post(
        "/console/signin",
        {
            "csrf_token": hidden(page, "csrf_token"),
            "token": ADMIN_TOKEN,
            "next": "/console/connections",
        },
    )
    assert signed.status_code == 303
    assert header(signed, "Location") == "/console/connections"
    assert visitor.get("/console/connections").status_code == 200


def test_a_wrong_token_is_refused_with_a_clear_message(cluster):
    visitor = Visitor(cluster, "node-a")
    response = visitor.sign_in("not-the-token")
    assert response.status_code == 401
    assert "That is not this node&#39;s admin token" in text(response)
    assert "twinsync_console=" not in " ".join(visitor.set_cookies)
    assert visitor.get("/console/connections").status_code == 303


def test_sign_in_needs_the_form_of_this_console(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.get("/console/signin")
    forged = visitor.post("/console/signin", {"csrf_token": "forged", "token": ADMIN_TOKEN})
    assert forged.status_code == 403
    assert "twinsync_console" not in visitor.cookies


def console_records(cluster: Any, node: str) -> list[Any]:
    """The node's halves of the console sessions (keys-table items)."""
    from chalicelib.store.models import KeyModel

    with cluster.active(cluster[node]):
        return [item for item in KeyModel.scan() if item.key.startswith("console#")]


def test_the_session_cookie_holds_no_token_and_is_httponly_strict_and_expiring(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    session = next(c for c in visitor.set_cookies if c.startswith("twinsync_console="))
    flags = [part.strip() for part in session.split(";")]
    assert "HttpOnly" in flags
    assert "SameSite=Strict" in flags
    assert "Path=/console" in flags
    assert any(re.fullmatch(r"Max-Age=\d+", f) and int(f[8:]) > 0 for f in flags)
    assert "Secure" not in flags  # plain http (the local node)
    value = visitor.cookies["twinsync_console"]
    assert ADMIN_TOKEN not in value
    assert ADMIN_TOKEN[:12] not in value

    # the node's half names the session by a hash and holds neither the token nor the id
    (record,) = console_records(cluster, "node-a")
    session_id = value.partition(".")[0]
    assert session_id not in record.key
    assert ADMIN_TOKEN not in json.dumps(record.attribute_values, default=str)
    assert ADMIN_TOKEN[:12] not in json.dumps(record.attribute_values, default=str)

    secure = Visitor(cluster, "node-a", https=True)
    secure.sign_in()
    assert any(c.startswith("twinsync_console=") and "; Secure" in c for c in secure.set_cookies)


def test_an_altered_or_foreign_cookie_is_no_session(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    value = visitor.cookies["twinsync_console"]
    visitor.cookies["twinsync_console"] = value[:-4] + ("AAAA" if value[-4:] != "AAAA" else "BBBB")
    assert visitor.get("/console/connections").status_code == 303

    on_b = Visitor(cluster, "node-b")
    on_b.sign_in()
    carried = Visitor(cluster, "node-a")
    carried.cookies["twinsync_console"] = on_b.cookies["twinsync_console"]
    assert carried.get("/console/connections").status_code == 303
    assert on_b.get("/console/connections").status_code == 200


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    copied = Visitor(cluster, "node-a")
    copied.cookies["twinsync_console"] = visitor.cookies["twinsync_console"]
    assert copied.get("/console/connections").status_code == 200

    signed_out = visitor.post("/console/signout", {"csrf_token": visitor.csrf()})
    assert signed_out.status_code == 303
    assert copied.get("/console/connections").status_code == 303
    assert console_records(cluster, "node-a") == []


def test_changing_the_admin_token_ends_every_session(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    assert visitor.get("/console/connections").status_code == 200

    new_token = secrets.token_urlsafe(32)
    cluster["node-a"].env["TWINSYNC_ADMIN_TOKEN"] = new_token
    assert visitor.get("/console/connections").status_code == 303
    assert visitor.sign_in().status_code == 401
    assert visitor.sign_in(new_token).status_code == 303
    assert visitor.get("/console/connections").status_code == 200


def test_another_applications_cookies_on_the_domain_do_not_hide_the_session(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    session = visitor.cookies.pop("twinsync_console")
    # what other applications on a shared domain set: JSON, a quoted value, a stray token
    visitor.cookies = {
        "prefs": '{"theme": "dark", "cols": [1, 2]}',
        "quoted": '"a b"',
        'odd"name': "x",
        "twinsync_console": session,
        "after": "(1)",
    }
    assert visitor.get("/console/connections").status_code == 200


def test_a_token_too_long_for_a_cookie_is_refused_with_a_sentence(cluster):
    visitor = Visitor(cluster, "node-a")
    response = visitor.sign_in("x" * 1025)
    assert response.status_code == 400
    assert "longer than 1,024 bytes cannot sign in to the console" in text(response)
    assert "twinsync_console" not in visitor.cookies
    assert console_records(cluster, "node-a") == []


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    form = {
        "mode": "basic",
        "no_url": "on",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "no-csrf",
        "incoming_project": "SUP",
    }
    refused = visitor.post("/console/initiate", form)
    assert refused.status_code == 403
    wrong = visitor.post("/console/initiate", {**form, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert cluster.admin("node-a", "GET", "/api/v1/connections").body == []

    accepted = visitor.post("/console/initiate", {**form, "csrf_token": visitor.csrf()})
    assert accepted.status_code == 201
    assert [c["name"] for c in cluster.admin("node-a", "GET", "/api/v1/connections").body] == [
        "no-csrf"
    ]


def test_the_csrf_header_of_htmx_requests_is_accepted(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    token = visitor.csrf()
    response = visitor.request("POST", "/console/signout", {}, **{"X-CSRF-Token": token})
    assert response.status_code == 303
    assert "twinsync_console" not in visitor.cookies
    assert visitor.get("/console/connections").status_code == 303


def test_a_post_without_a_session_is_refused(cluster):
    response = Visitor(cluster, "node-a").post("/console/accept", {"invitation_code": "x"})
    assert response.status_code == 401


def test_no_secret_reaches_a_page_or_a_log_line(cluster, caplog):
    visitor = Visitor(cluster, "node-a")
    with caplog.at_level("DEBUG"):
        visitor.sign_in()
        pages = [
            visitor.get(p) for p in ("/console/connections", "/console/initiate", "/console/accept")
        ]
    for page in pages:
        assert ADMIN_TOKEN not in text(page)
    assert ADMIN_TOKEN not in caplog.text


# --- headers, assets, accessibility ------------------------------------------------------


def test_every_page_has_a_strict_content_security_policy(cluster):
    visitor = Visitor(cluster, "node-a")
    for response in (visitor.get("/console/signin"), visitor.get("/console/static/console.js")):
        csp = header(response, "Content-Security-Policy")
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert header(response, "X-Content-Type-Options") == "nosniff"


def test_no_inline_script_or_style_in_any_template():
    for template in (CONSOLE / "templates").glob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template.name
        assert "<style" not in source, template.name
        assert not re.search(r"\sstyle=", source), template.name
        assert not re.search(r"\son[a-z]+=", source), template.name
        assert "hx-on" not in source, template.name


def test_console_assets_stay_under_150_kb():
    total = sum(p.stat().st_size for p in (CONSOLE / "static").iterdir())
    assert total < 150 * 1024, total


def test_static_files_are_a_fixed_list(cluster):
    visitor = Visitor(cluster, "node-a")
    assert visitor.get("/console/static/htmx.min.js").status_code == 200
    assert header(visitor.get("/console/static/console.css"), "Content-Type").startswith("text/css")
    for name in ("views.py", "..%2Fviews.py", "nothing.js"):
        assert visitor.get(f"/console/static/{name}").status_code == 404


class Inputs(HTMLParser):
    """Form controls and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("input", "select", "textarea") and found.get("type") not in (
            "hidden",
            "submit",
        ):
            self.controls.append(found)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))


def unlabelled(html: str) -> list[dict[str, str | None]]:
    parser = Inputs()
    parser.feed(html)
    return [c for c in parser.controls if c.get("id") not in parser.labelled]


def test_every_input_has_a_label(cluster):
    visitor = Visitor(cluster, "node-a")
    assert not unlabelled(text(visitor.get("/console/signin")))
    visitor.sign_in()
    wizard = "destination_url=&no_url=on&mode=basic&local_short_name=A&remote_short_name=B"
    for path in (
        "/console/connections",
        "/console/initiate",
        f"/console/initiate/type?{wizard}",
        f"/console/initiate/information?{wizard}",
        f"/console/initiate/project?{wizard}",
        "/console/initiate/project?destination_url=https%3A%2F%2Fb.twinsync.test&mode=basic",
        "/console/accept",
    ):
        page = visitor.get(path)
        assert page.status_code == 200, (path, text(page)[:500])
        assert not unlabelled(text(page)), path


# --- the base path: the local node's root and an API Gateway stage -----------------------


def gateway_event(method: str, path: str, *, stage: str, cookie: str = "") -> dict[str, Any]:
    """What API Gateway (REST, proxy integration) hands the function for ``/{stage}{path}``."""
    from app import app

    resource, params = path, {}
    for template in app.routes:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        found = re.match(pattern, path.split("?")[0])
        if found and template.startswith("/console"):
            resource, params = template, found.groupdict()
            break
    headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = cookie
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": "gateway-request",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def test_behind_an_api_gateway_stage_every_url_carries_the_stage(cluster):
    from app import app

    with cluster.active(cluster["node-a"]):
        to_signin = app(gateway_event("GET", "/console/connections", stage="prod"), None)
        assert to_signin["statusCode"] == 303
        location = to_signin["headers"]["Location"]
        assert location == "/prod/console/signin?next=%2Fprod%2Fconsole%2Fconnections"

        page = app(gateway_event("GET", "/console/signin", stage="prod"), None)
        html = page["body"]
        links = re.findall(r'(?:href|src|action)="(/[^"]*)"', html)
        assert links and all(link.startswith("/prod/console/") for link in links), links
        cookies = page["multiValueHeaders"]["Set-Cookie"]
        assert all("Path=/prod/console" in c and "Secure" in c for c in cookies)

        slash_event = gateway_event("GET", "/console", stage="prod")
        slash_event["requestContext"]["path"] = "/prod/console/"
        slash = app(slash_event, None)
        assert slash["headers"]["Location"] == "/prod/console/connections"

    visitor = Visitor(cluster, "node-a")  # the local node: no prefix
    links = re.findall(r'(?:href|src|action)="(/[^"]*)"', text(visitor.get("/console/signin")))
    assert links and all(link.startswith("/console/") for link in links), links


def test_the_next_page_after_sign_in_stays_on_this_console(cluster):
    visitor = Visitor(cluster, "node-a")
    for evil in ("https://evil.example/", "//evil.example/console", "/api/v1/node"):
        page = visitor.get("/console/signin?next=" + quote(evil, safe=""))
        response = visitor.post(
            "/console/signin",
            {
                "csrf_token": hidden(page, "csrf_token", form="/signin"),
                "token": ADMIN_TOKEN,
                "next": evil,
            },
        )
        assert header(response, "Location") == "/console/connections", evil


# --- the in-process admin API client -----------------------------------------------------


def test_the_console_acts_through_the_admin_api_with_its_audit(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    page = visitor.post(
        "/console/initiate",
        {
            "csrf_token": visitor.csrf(),
            "no_url": "on",
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "Globex",
            "name": "Acme-Globex",
            "incoming_project": "SUP",
        },
    )
    assert page.status_code == 201
    assert "Copy invitation code" in text(page)
    assert "destination side &#34;unknown&#34;" in text(
        page
    ) or 'destination side "unknown"' in text(page)
    audit = cluster.admin("node-a", "GET", "/api/v1/audit").body
    assert any("Acme-Globex" in json.dumps(entry) for entry in audit), audit


def test_a_refusal_is_shown_as_a_sentence(cluster):
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    form = {
        "csrf_token": visitor.csrf(),
        "no_url": "on",
        "mode": "basic",
        "local_short_name": "Acme",
        "remote_short_name": "Globex",
        "name": "taken",
        "incoming_project": "SUP",
    }
    assert visitor.post("/console/initiate", form).status_code == 201
    again = visitor.post("/console/initiate", form)
    assert again.status_code == 409
    assert "A connection with this name already exists. Choose another name." in text(again)

    bad = visitor.post(
        "/console/accept",
        {
            "csrf_token": visitor.csrf(),
            "invitation_code": "TS1.garbage.x",
            "incoming_project": "SUP",
        },
    )
    assert bad.status_code == 400
    assert 'role="alert"' in text(bad)
    assert "TS1.garbage.x" in text(bad)  # the pasted code stays in the field


def test_the_client_refuses_what_is_not_the_admin_api(cluster):
    from app import app
    from chalicelib.console.client import AdminClient

    with pytest.raises(ValueError):
        AdminClient(app, ADMIN_TOKEN).get("/node/v1/info")


def test_the_client_answers_like_the_api_and_keeps_the_outer_request(cluster):
    from app import app
    from chalicelib.console.client import AdminClient

    with cluster.active(cluster["node-a"]):
        outer = object()
        app.current_request = outer  # type: ignore[assignment]
        wrong = AdminClient(app, "wrong").get("/api/v1/node")
        right = AdminClient(app, ADMIN_TOKEN).get("/api/v1/connections/unknown-id")
        assert app.current_request is outer
    assert (wrong.status, wrong.code) == (401, "invalid_token")
    assert (right.status, right.code) == (404, "connection_not_found")


# --- reference page 000 through the screens (both nodes) ---------------------------------


def test_reference_page_000_through_the_screens(cluster):
    a = Visitor(cluster, "node-a")
    a.sign_in()
    listed = a.get("/console/connections")
    assert "Initiate connection" in text(listed) and "Accept invitation" in text(listed)

    step = a.get("/console/initiate")
    assert "Destination instance URL" in text(step) and "I don't have a URL" in text(step)
    types = a.get("/console/initiate/type?destination_url=&no_url=on")
    assert "Choose the configuration type" in text(types)
    assert "Basic" in text(types) and "Script" in text(types)
    assert 'value="visual"' not in text(types)  # never Visual without a URL
    with_url = a.get("/console/initiate/type?destination_url=https%3A%2F%2Fb.twinsync.test")
    assert 'value="visual"' in text(with_url)

    info = a.get("/console/initiate/information?no_url=on&mode=basic")
    for words in (
        "Connection information",
        "Local instance short name",
        "Remote instance short name",
        "Connection name",
        "Description",
    ):
        assert words in text(info)
    project = a.get(
        "/console/initiate/project?no_url=on&mode=basic&local_short_name=Acme"
        "&remote_short_name=Globex&name=Acme-Globex"
    )
    assert "Select a project for the incoming sync" in text(project)
    assert "admin access" not in text(project)  # only with a destination URL
    done = a.post(
        "/console/initiate",
        {
            "csrf_token": hidden(project, "csrf_token"),
            "no_url": "on",
            "mode": "basic",
            "local_short_name": "Acme",
            "remote_short_name": "Globex",
            "name": "Acme-Globex",
            "incoming_project": "SUP",
        },
    )
    code = re.search(r'id="invitation_code"[^>]*>([^<]+)<', text(done)).group(1).strip()
    assert code.startswith("TS1.")

    b = Visitor(cluster, "node-b")
    b.sign_in()
    prefilled = b.get("/console/accept?code=" + quote(code, safe=""))
    assert code in text(prefilled)
    accepted = b.post(
        "/console/accept",
        {
            "csrf_token": hidden(prefilled, "csrf_token"),
            "invitation_code": code,
            "incoming_project": "TEST",
        },
    )
    assert accepted.status_code == 303
    connection_page = b.get(header(accepted, "Location"))
    assert "Active" in text(connection_page) and "Sync your first issue" in text(connection_page)

    row = re.search(
        r"<tr>\s*<td><a[^>]*>Acme-Globex</a></td>(.*?)</tr>",
        text(a.get("/console/connections")),
        re.S,
    )
    assert row and "Globex" in row.group(1) and "Active" in row.group(1) and "Basic" in row.group(1)


# --- a connection's page: twins and their history, errors, the sync queue ----------------


def _connected(cluster: Any) -> tuple[Visitor, str]:
    from tests.factories.cluster import connect_a_to_b

    cid = connect_a_to_b(cluster)
    visitor = Visitor(cluster, "node-a")
    visitor.sign_in()
    return visitor, cid


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found, f"no {name} section in {html[:2000]}"
    return found.group(0)


def test_the_twins_section_lists_twins_pages_on_and_links_to_a_history(cluster):
    from chalicelib.store.models import TwinModel

    visitor, cid = _connected(cluster)
    empty = _section(text(visitor.get(f"/console/connections/{cid}")), "twins")
    assert "No issue is synced by this connection yet." in empty

    issue = cluster["node-a"].tracker.add_issue("SUP", "Printer on fire")
    synced = visitor.post(
        f"/console/connections/{cid}/sync",
        {"csrf_token": visitor.csrf(f"/console/connections/{cid}"), "issue_key": issue.key},
    )
    assert synced.status_code == 303
    with cluster.active(cluster["node-a"]):
        for n in range(30):  # more than one page (25)
            TwinModel(
                connection_id=cid,
                local_key=f"SUP-{100 + n}",
                local_url=f"https://a.tracker.test/browse/SUP-{100 + n}",
                remote_key=f"TEST-{100 + n}",
                remote_url=f"https://b.tracker.test/browse/TEST-{100 + n}",
                status="synced",
            ).save()

    page = visitor.get(f"/console/connections/{cid}")
    assert page.status_code == 200
    twins = _section(text(page), "twins")
    first_rows = re.findall(r'data-twin-row="([^"]+)"', twins)
    assert len(first_rows) == 25
    assert "https://b.tracker.test/browse/TEST-1" in twins and "Last synced" in twins
    more = re.search(r'href="([^"]*twins_cursor=[^"]*)" rel="next">More twins<', twins)
    assert more, twins[-1500:]
    second = _section(text(visitor.get(more.group(1).replace("&amp;", "&"))), "twins")
    rest = re.findall(r'data-twin-row="([^"]+)"', second)
    assert len(rest) == 6 and not set(rest) & set(first_rows)
    assert issue.key in first_rows + rest
    assert "More twins" not in second
    ours = re.search(rf'<tr data-twin-row="{issue.key}">.*?</tr>', twins + second, re.S).group(0)
    assert "&mdash;" in ours or "queued" in ours or "synced" in ours

    from chalicelib.sync.events import record_transaction

    with cluster.active(cluster["node-a"]):  # what the workers write (they do not run here)
        record_transaction(
            cid, issue.key, direction="outgoing", changes=["summary"], outcome="applied"
        )
        record_transaction(
            cid, issue.key, direction="incoming", changes=["comments"], outcome="error", error="no"
        )
    history = visitor.get(f"/console/connections/{cid}/twins/{issue.key}/history")
    assert history.status_code == 200
    assert f"History of {issue.key}" in text(history)
    entries = re.findall(r"<li data-history-entry>(.*?)</li>", text(history), re.S)
    assert len(entries) == 2, text(history)[-2000:]
    assert all("<time datetime=" in e for e in entries)
    # newest first; two entries in the same millisecond may come in either order
    assert any("Incoming" in e and "comments" in e and ">error<" in e for e in entries)
    assert any("Outgoing" in e and "summary" in e and ">applied<" in e for e in entries)
    assert not unlabelled(text(page)) and not unlabelled(text(history))

    unknown = visitor.get(f"/console/connections/{cid}/twins/NOPE-1/history")
    assert unknown.status_code == 404
    assert "That issue is not synced by this connection." in text(unknown)


def _errors(cluster: Any, cid: str, n: int = 2) -> list[str]:
    from chalicelib.sync.events import record_error

    with cluster.active(cluster["node-a"]):
        return [
            record_error(
                stage="apply",
                connection_id=cid,
                issue_key=f"SUP-{k}",
                exc=ValueError(f"field rejected {k}"),
                queue="apply",
                body={"connection_id": cid, "issue_key": f"SUP-{k}"},
            )["id"]
            for k in range(1, n + 1)
        ]


def _error_status(cluster: Any, eid: str) -> str:
    listed = cluster.admin("node-a", "GET", "/api/v1/errors?status=all").body
    return next(e["status"] for e in listed if e["id"] == eid)


def test_the_errors_section_retries_and_resolves_through_the_api(cluster):
    visitor, cid = _connected(cluster)
    first, second = _errors(cluster, cid)
    page = visitor.get(f"/console/connections/{cid}")
    errors = _section(text(page), "errors")
    assert "field rejected 1" in errors and "field rejected 2" in errors
    assert ">Retry<" in errors and ">Resolve<" in errors
    csrf = hidden(page, "csrf_token")

    retried = visitor.post(f"/console/connections/{cid}/errors/{first}/retry", {"csrf_token": csrf})
    assert retried.status_code == 303, text(retried)
    assert header(retried, "Location") == f"/console/connections/{cid}?done=retried#errors"
    assert _error_status(cluster, first) == "retried"
    after = visitor.get(f"/console/connections/{cid}?done=retried")
    assert "The error was retried" in text(after)
    assert "field rejected 1" not in _section(text(after), "errors")  # only open ones

    resolved = visitor.post(
        f"/console/connections/{cid}/errors/{second}/resolve", {"csrf_token": csrf}
    )
    assert resolved.status_code == 303
    assert _error_status(cluster, second) == "resolved"
    assert "No open errors." in _section(text(visitor.get(f"/console/connections/{cid}")), "errors")

    again = visitor.post(f"/console/connections/{cid}/errors/{second}/retry", {"csrf_token": csrf})
    assert again.status_code == 409
    assert "This error was already retried or resolved. Reload the page." in text(again)
    gone = visitor.post(f"/console/connections/{cid}/errors/nope/resolve", {"csrf_token": csrf})
    assert gone.status_code == 404
    assert "This error no longer exists." in text(gone)


def test_the_errors_section_shows_retried_resolved_or_all_records_on_asking(cluster):
    visitor, cid = _connected(cluster)
    first, second, third = _errors(cluster, cid, 3)
    csrf = hidden(visitor.get(f"/console/connections/{cid}"), "csrf_token")
    visitor.post(f"/console/connections/{cid}/errors/{first}/retry", {"csrf_token": csrf})
    visitor.post(f"/console/connections/{cid}/errors/{second}/resolve", {"csrf_token": csrf})

    def rows(shown: str | None) -> dict[str, str]:
        query = f"?errors={shown}" if shown else ""
        section = _section(text(visitor.get(f"/console/connections/{cid}{query}")), "errors")
        found = re.findall(r'data-error-row="([^"]+)">(.*?)</tr>', section, re.S)
        return {eid: row for eid, row in found}

    assert set(rows(None)) == {third}
    assert set(rows("retried")) == {first} and ">Retry<" not in rows("retried")[first]
    assert set(rows("resolved")) == {second} and ">Resolved<" in rows("resolved")[second]
    assert set(rows("all")) == {first, second, third}
    assert ">Retry<" in rows("all")[third]
    assert set(rows("nonsense")) == {third}  # an unknown choice shows the open ones
    page = text(visitor.get(f"/console/connections/{cid}?errors=resolved"))
    assert '<option value="resolved" selected>' in page and not unlabelled(page)


def test_retry_and_resolve_without_the_csrf_token_change_nothing(cluster):
    visitor, cid = _connected(cluster)
    (eid,) = _errors(cluster, cid, 1)
    for action in ("retry", "resolve"):
        path = f"/console/connections/{cid}/errors/{eid}/{action}"
        assert visitor.post(path, {}).status_code == 403
        assert visitor.post(path, {"csrf_token": "x" * 43}).status_code == 403
    assert (
        Visitor(cluster, "node-a")
        .post(f"/console/connections/{cid}/errors/{eid}/resolve", {"csrf_token": "x"})
        .status_code
        == 401
    )
    assert _error_status(cluster, eid) == "open"


def test_the_errors_section_pages_on(cluster):
    visitor, cid = _connected(cluster)
    _errors(cluster, cid, 27)
    errors = _section(text(visitor.get(f"/console/connections/{cid}")), "errors")
    assert len(re.findall(r"data-error-row=", errors)) == 25
    more = re.search(r'href="([^"]*errors_cursor=[^"]*)" rel="next">More errors<', errors)
    assert more
    rest = _section(text(visitor.get(more.group(1).replace("&amp;", "&"))), "errors")
    assert len(re.findall(r"data-error-row=", rest)) == 2


def test_the_sync_queue_section_shows_counts_ages_and_peer_lag(cluster):
    visitor, cid = _connected(cluster)
    queue = cluster.admin("node-a", "GET", f"/api/v1/connections/{cid}/queue").body
    section = _section(text(visitor.get(f"/console/connections/{cid}")), "queue")
    assert "Sync queue" in section
    outgoing = re.search(r"data-queue-outgoing>([^<]*)<", section).group(1)
    incoming = re.search(r"data-queue-incoming>([^<]*)<", section).group(1)
    assert outgoing.startswith(f"{queue['outgoing']['pending']} waiting")
    assert incoming.startswith(f"{queue['incoming']['pending']} waiting")
    assert "Peer lag" in section and "Open errors" in section
    _errors(cluster, cid, 1)
    again = _section(text(visitor.get(f"/console/connections/{cid}")), "queue")
    assert re.search(r"<dt>Open errors</dt><dd>1</dd>", again)


def test_age_labels():
    from chalicelib.console.common import age_label

    assert age_label(None) == "\u2014"
    assert [age_label(s) for s in (0, 59.9, 60, 3_599, 3_600, 86_400 * 2)] == [
        "0 s",
        "59 s",
        "1 min",
        "59 min",
        "1 h",
        "2 d",
    ]


def test_the_client_reads_the_next_cursor_from_the_link_header():
    from chalicelib.console.client import ApiAnswer

    link = '<https://a.test/api/v1/errors?limit=2&cursor=abc%3D%3D>; rel="next"'
    assert ApiAnswer(200, [], {"Link": link}).next_cursor == "abc=="
    assert ApiAnswer(200, [], {}).next_cursor is None


def test_times_are_shown_as_people_read_them():
    from chalicelib.console.web import when

    assert when("2026-12-03T09:59:59.789771+00:00") == "2026-12-03 09:59:59 UTC"
    assert when("2026-12-03T10:59:59+01:00") == "2026-12-03 09:59:59 UTC"
    assert when("not a time") == "not a time"
