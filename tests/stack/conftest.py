"""The stack tier: the whole local stack (moto server, sandbox Jiras, two node processes)
started once per test session on free ports, exactly as ``make run`` starts it."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import REPO, LocalStack
from devstack.stackfile import NodeSpec, StackSpec, load, with_free_ports
from tests.contract_check import checked_session


class NodeClient:
    """An administrator's view of one node: its admin API with its token. Every answer is
    checked against the OpenAPI document (``tests/contract_check.py``)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.url = info["url"]
        self.session = checked_session()
        self.session.headers["Authorization"] = f"Bearer {info['admin_token']}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.patch(self.url + path, json=body, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.url + path, timeout=30, **kw)


def stack_spec_for_tests() -> StackSpec:
    """``devstack/stack.toml`` on free ports, plus node ``c``: public, on tracker ``b``, so
    public-public connections (a ↔ c) are tested beside public-private ones (a ↔ b)."""
    spec = with_free_ports(load(REPO / "devstack" / "stack.toml"))
    nodes = dict(spec.nodes)
    nodes["c"] = NodeSpec(name="c", label="Initech (public)", port=0, public=True, tracker="b")
    return replace(spec, nodes=nodes, poll_every=1.0, reconcile_every=5.0)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded AWS's access log
    spec = stack_spec_for_tests()
    workdir = Path(tmp_path_factory.mktemp("devstack"))
    stack = LocalStack(spec, workdir=workdir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


FAILED_LOGS = REPO / ".devstack" / "failed"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed stack test keeps its stacks' node logs (the JSON lines of each node, its
    process output) under ``.devstack/failed/<test>/``: pytest's temporary directories are
    gone three sessions later, and a failure seen once under load must be readable after."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    stacks = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, LocalStack)]
    kept = []
    for number, stack in enumerate(stacks):
        logs = stack.workdir / "logs"
        if logs.is_dir():
            target = FAILED_LOGS / re.sub(r"[^\w.-]+", "_", item.name) / f"stack{number}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(logs, target)
            kept.append(str(target))
    if kept:
        report.sections.append(("node logs", "kept in " + ", ".join(kept)))


@pytest.fixture(scope="session")
def stack_info(local_stack: LocalStack) -> dict[str, Any]:
    return json.loads((local_stack.workdir / "stack.json").read_text())


@pytest.fixture(scope="session")
def node_a(stack_info: dict[str, Any]) -> NodeClient:
    return NodeClient(stack_info["nodes"]["a"])


@pytest.fixture(scope="session")
def node_b(stack_info: dict[str, Any]) -> NodeClient:
    return NodeClient(stack_info["nodes"]["b"])


@pytest.fixture(scope="session")
def node_c(stack_info: dict[str, Any]) -> NodeClient:
    return NodeClient(stack_info["nodes"]["c"])


def tracker_as(stack_info: dict[str, Any], name: str, who: str = "user") -> Any:
    """A Jira client for a person on sandbox tracker ``name`` (``user`` = Alice)."""
    from chalicelib.config import TrackerSettings
    from chalicelib.trackers.factory import make_tracker

    tracker = stack_info["trackers"][name]
    creds = tracker[who]
    return make_tracker(
        TrackerSettings(
            kind=tracker["kind"], url=tracker["url"], user=creds["user"], token=creds["token"]
        )
    )


def eventually(check: Any, *, timeout: float = 45.0, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy (or raise its last assertion)."""
    import time

    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except AssertionError as exc:
            last = exc
        else:
            if result:
                return result
        time.sleep(interval)
    if last is not None:
        raise last
    raise AssertionError(f"condition not met within {timeout}s")


def connect(
    initiator: NodeClient,
    acceptor: NodeClient,
    *,
    initiator_project: str,
    acceptor_project: str,
    mode: str = "basic",
    destination_url: str | None = None,
) -> str:
    """Initiate on one node, accept the invitation code on the other; the connection id."""
    import uuid

    created = initiator.post(
        "/api/v1/connections",
        {
            "destination_url": destination_url,
            "mode": mode,
            "local_short_name": "Acme",
            "remote_short_name": "Partner",
            "name": f"test-{uuid.uuid4().hex[:8]}",
            "incoming_project": initiator_project,
            "admin_access": False,
        },
    )
    assert created.status_code == 201, created.text
    accepted = acceptor.post(
        "/api/v1/invitations/accept",
        {
            "invitation_code": created.json()["invitation_code"],
            "incoming_project": acceptor_project,
        },
    )
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["connection"]["id"]


def waiting(node: NodeClient, cid: str) -> dict[str, Any]:
    """The connection's queue on ``node``: outbox entries the peer has not acknowledged
    (``outgoing``), inbox entries not applied yet (``incoming``: ``pending``, ``held``)."""
    response = node.get(f"/api/v1/connections/{cid}/queue")
    assert response.status_code == 200, response.text
    return response.json()


def issue_requests(
    stack: Any, tracker: str, issue: Any, *, method: str | None = None
) -> list[dict[str, Any]]:
    """The sandbox tracker's request log entries about ``issue`` (its key or id), by anyone.

    Each has ``user`` (the account id), ``method``, ``route``, ``path`` and ``status``."""
    import re

    names = "|".join(re.escape(str(n)) for n in (issue.key, issue.id))
    about = re.compile(rf"/issue/(?:{names})(?:/|$)")
    return [
        r
        for r in stack.trackers[tracker].admin.requests()
        if about.search(r["path"]) and (method is None or r["method"] == method)
    ]


def reread_by_node(
    stack: Any, stack_info: Any, tracker: str, issue: Any, *, after: int = 0
) -> bool:
    """Has the node's integration user read ``issue`` (its key or id) since the first
    ``after`` of its GETs? Ingest re-reads an issue on every change it hears of, before it
    decides whether anything is to be sent: this is how a test sees that it has run."""
    bot = tracker_as(stack_info, tracker, "integration_user").myself().id
    reads = issue_requests(stack, tracker, issue, method="GET")[after:]
    return bot in [r["user"] for r in reads]


def twin_key(node: NodeClient, cid: str, key: str) -> str | None:
    """The key of ``key``'s twin on the other side, once the twin is linked."""
    response = node.get(f"/api/v1/connections/{cid}/twins/{key}")
    if response.status_code != 200:
        return None
    remote = response.json()["remote"]
    return remote["key"] if remote else None


def synced_issue(node_a: NodeClient, cid: str, alice_a: Any, summary: str) -> tuple[str, str]:
    """Alice creates a Task in BETA on a and syncs it: (its key, its twin's key)."""
    from chalicelib.trackers.base import IssueFields

    ref = alice_a.create_issue("BETA", IssueFields(summary=summary, issue_type="Task"))
    assert node_a.post(f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}).ok
    remote = eventually(lambda: twin_key(node_a, cid, ref.key))
    return ref.key, remote


# --- the browser (tests/stack/test_console.py) ---------------------------------------------

SCREENSHOTS = REPO / ".devstack" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root, as on CI
    "--disable-gpu",
    "--no-first-run",
    # this machine's network is closed: no background calls to Google's hosts
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (never Playwright's own browser)."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make browser` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A browser tab that records every CSP violation and script error it sees."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" or "Content Security Policy" in text:
            self.problems.append(text)


@pytest.fixture
def tabs(browser: Any) -> Iterator[Any]:
    """``tabs(node)``: a new headless page in a browser context of its own (one per
    administrator: its own cookies), allowed to use the clipboard on ``node``'s origin;
    ``.page`` is the Playwright page, ``.problems`` what it logged as errors. Closed after
    the test."""
    opened: list[Any] = []

    def open_tab(node: NodeClient) -> Watched:
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=node.url)
        opened.append(context)
        return Watched(context)

    yield open_tab
    for context in opened:
        context.close()


class Screens:
    """Numbered screenshots of one test's steps, under ``.devstack/screenshots/<test>/``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.png"):
            old.unlink()

    def shot(self, page: Any, step: str) -> Path:
        """Save the screen and check it with axe-core: every screen a browser test shows is
        one an administrator meets, so a serious or critical violation fails the test."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        found = axe_violations(page)
        assert not found, f"axe-core on {path.name}:\n" + "\n".join(found)
        return path


AXE_BLOCKING = ("serious", "critical")


@cache
def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe  # bundles axe-core's JS

    return Axe()


def axe_violations(page: Any, impacts: tuple[str, ...] = AXE_BLOCKING) -> list[str]:
    """axe-core's violations on ``page`` as it is now, of the given impacts, one line each:
    ``rule (impact): what: the elements``. Empty when the page passes."""
    results = _axe().run(page).response
    found = []
    for violation in results["violations"]:
        if violation.get("impact") not in impacts:
            continue
        targets = ", ".join(str(n.get("target")) for n in violation.get("nodes", [])[:5])
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']}: {targets}")
    return found


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    return Screens(SCREENSHOTS / name)
