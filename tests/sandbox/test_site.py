"""The site as a whole: admin API, config, reset, persistence, and running as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.sandbox_jira import SandboxAdmin, SandboxJira
from devstack.sandbox_jira.admin import SandboxAdminError

from .conftest import Env, JiraClient, setup_site

REPO = Path(__file__).resolve().parents[2]


def test_admin_lists_and_refuses(env: Env) -> None:
    assert [p["key"] for p in env.admin.call("GET", "projects")] == ["ABC"]
    users = env.admin.call("GET", "users")
    assert {u["display_name"] for u in users} == {"Sync Bot", "Alice"}
    assert all("token" not in u for u in users)
    with pytest.raises(SandboxAdminError) as info:
        env.admin.create_project("ABC")
    assert info.value.status == 409
    with pytest.raises(SandboxAdminError) as info:
        env.admin.create_project("NEW", issue_types=["Task"], default_issue_type="Bug")
    assert info.value.status == 400
    login = {"email": "bot@example.com"} if env.bot.cloud else {"name": "bot"}
    with pytest.raises(SandboxAdminError) as info:
        env.admin.create_user(display_name="Again", **login)
    assert info.value.status == 409


def test_new_issue_types_get_ids(env: Env) -> None:
    env.admin.create_project("NEW", issue_types=["Incident", "Task"], default_issue_type="Incident")
    types = env.bot.get("project/NEW").json()["issueTypes"]
    assert [t["name"] for t in types] == ["Incident", "Task"]
    assert types[0]["id"].isdigit() and types[0]["id"] != types[1]["id"]


def test_reset_forgets_everything_but_config() -> None:
    config = {
        "users": [{"display_name": "Bot", "email": "bot@example.com", "token": "t"}],
        "projects": [{"key": "CFG", "name": "Configured", "issue_types": ["Task"]}],
    }
    with SandboxJira("cloud", config=config) as site:
        admin = SandboxAdmin(site.url)
        admin.create_project("TMP")
        admin.faults(fail_next=5)
        admin.reset()
        assert [p["key"] for p in admin.call("GET", "projects")] == ["CFG"]
        assert admin.call("GET", "faults")["fail_next"] == 0
        response = requests.get(
            f"{site.url}/rest/api/3/myself", auth=("bot@example.com", "t"), timeout=5
        )
        assert response.status_code == 200
        admin.reset(config=False)
        assert admin.call("GET", "projects") == []


def test_admin_secret() -> None:
    with SandboxJira("server", admin_secret="letmein") as site:
        with pytest.raises(SandboxAdminError) as info:
            SandboxAdmin(site.url).health()
        assert info.value.status == 401
        assert SandboxAdmin(site.url, secret="letmein").health()["flavour"] == "server"


def test_persistence_round_trip(tmp_path: Path, flavour: str) -> None:
    state = tmp_path / "state" / "jira.json"
    with SandboxJira(flavour, persist_path=state) as site:
        admin, bot_user, _ = setup_site(site)
        bot = JiraClient(site, bot_user)
        key = bot.create_issue("Persisted", labels=["kept"])["key"]
        bot.comment(key, "Still here")
        [att] = bot.attach(key, "bytes.bin", b"\x00\x01\xff").json()
        bot.put(f"issue/{key}/properties/twin", json={"remote": "R-1"})
        link = {"globalId": "g-1", "object": {"url": "https://x.io/R-1", "title": "R-1"}}
        assert bot.post(f"issue/{key}/remotelink", json=link).status_code == 201
        admin.add_webhook("http://127.0.0.1:9/hook", secret="s", enabled=False)
        before = bot.get(f"issue/{key}").json()
    assert state.exists()
    assert not list(state.parent.glob(".sandbox-*"))  # no temp files left behind
    with SandboxJira(flavour, persist_path=state) as site:
        bot = JiraClient(site, bot_user)
        after = bot.get(f"issue/{key}").json()
        assert after["fields"]["summary"] == "Persisted"
        assert after["fields"]["labels"] == ["kept"]
        assert after["fields"]["updated"] == before["fields"]["updated"]
        assert [c["body"] for c in after["fields"]["comment"]["comments"]] == [
            bot.body("Still here")
        ]
        content = bot.session.get(after["fields"]["attachment"][0]["content"], timeout=5)
        assert content.content == b"\x00\x01\xff"
        assert after["fields"]["attachment"][0]["id"] == att["id"]
        assert bot.get(f"issue/{key}/properties/twin").json()["value"] == {"remote": "R-1"}
        assert [x["globalId"] for x in bot.get(f"issue/{key}/remotelink").json()] == ["g-1"]
        assert SandboxAdmin(site.url).webhooks()[0]["enabled"] is False
        # numbering carries on where it stopped
        assert bot.create_issue()["key"] == "ABC-2"


def persisted(state: Path) -> str:
    """What a site has written of its state: the snapshot and the journal after it."""
    files = (state, state.with_name(state.name + ".journal"))
    return "".join(f.read_text() for f in files if f.exists())


def caught_up(site: SandboxJira, state: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in persisted(state):
        flusher = site._flusher
        assert time.monotonic() < deadline, (
            f"the state file never caught up with {text}: flusher alive "
            f"{flusher is not None and flusher.is_alive()}, dirty {site._dirty}, files "
            f"{sorted(p.name for p in state.parent.iterdir())}"
        )
        site._changed.wait(0.1)  # the flusher runs on its own; nothing else to wait on


def test_a_running_site_writes_its_state_soon_after_a_change_not_in_each_request(
    tmp_path: Path, flavour: str
) -> None:
    state = tmp_path / "jira.json"
    with SandboxJira(flavour, persist_path=state) as site:
        _, bot_user, _ = setup_site(site)
        bot = JiraClient(site, bot_user)
        caught_up(site, state, '"ABC"')  # the project, in the snapshot
        with site._save_lock:  # a request that wrote the state file would wait here
            keys = [bot.create_issue(f"Issue {n}")["key"] for n in range(5)]
        # in the snapshot or the journal, whichever this flush wrote
        caught_up(site, state, f'"{keys[-1]}"')


def test_config_is_applied_once_over_persisted_state(tmp_path: Path) -> None:
    state = tmp_path / "jira.json"
    config_file = tmp_path / "config.json"
    config_file.write_text(
        json.dumps(
            {
                "users": [{"display_name": "Bot", "name": "bot", "token": "pat"}],
                "projects": [
                    {"key": "SRV", "issue_types": ["Bug", "Task"], "default_issue_type": "Bug"}
                ],
                "attachment_limit": 100,
            }
        )
    )
    for _ in range(2):
        with SandboxJira("server", persist_path=state, config=config_file) as site:
            assert len(site.store.users) == 1 and len(site.store.projects) == 1
            assert site.faults.attachment_limit() == 100


def test_state_dump_hides_secrets(env: Env) -> None:
    dump = env.admin.state()
    assert dump["flavour"] == env.site.flavour
    assert all(u["token"] is None for u in dump["users"])


def test_clock_is_injectable() -> None:
    now = [1_704_164_645_000]  # 2024-01-02T03:04:05.000Z
    with SandboxJira("cloud", clock=lambda: now[0]) as site:
        _, bot_user, _ = setup_site(site)
        bot = JiraClient(site, bot_user)
        key = bot.create_issue()["key"]
        assert bot.get(f"issue/{key}").json()["fields"]["created"] == "2024-01-02T03:04:05.000+0000"
        now[0] += 3 * 86_400_000
        found = bot.get("search/jql", params={"jql": "created >= -1d", "fields": "key"}).json()
        assert found["issues"] == []
        found = bot.get("search/jql", params={"jql": "created >= -4d", "fields": "key"}).json()
        assert [i["key"] for i in found["issues"]] == [key]


def test_runs_as_a_process(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"users": [{"display_name": "Bot", "email": "b@x.io", "token": "t"}]})
    )
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.sandbox_jira",
            "--flavour",
            "cloud",
            "--port",
            "0",
            "--state",
            str(state),
            "--config",
            str(config),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(f"{url}/rest/api/3/myself", auth=("b@x.io", "t"), timeout=5)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads(state.read_text())["users"][0]["email"] == "b@x.io"


def test_bad_flavour_is_refused() -> None:
    with pytest.raises(ValueError, match="flavour"):
        SandboxJira("datacenter")


def test_stop_closes_keep_alive_connections() -> None:
    site = SandboxJira("cloud").start()
    session = requests.Session()
    assert session.get(f"{site.url}/_sandbox/health", timeout=5).status_code == 200
    site.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{site.url}/_sandbox/health", timeout=5)


def test_example_config_starts_both_flavours(flavour: str) -> None:
    config = REPO / "devstack" / "sandbox_jira" / "example-config.json"
    with SandboxJira(flavour, config=config) as site:
        admin = SandboxAdmin(site.url)
        assert [p["key"] for p in admin.call("GET", "projects")] == ["ABC", "SUP"]
        assert len(admin.webhooks()) == 1
        login = "twinsync@example.com" if flavour == "cloud" else "twinsync"
        if flavour == "cloud":
            response = requests.get(
                f"{site.url}/rest/api/3/project/ABC",
                auth=(login, "sandbox-integration-token"),
                timeout=5,
            )
        else:
            response = requests.get(
                f"{site.url}/rest/api/2/project/ABC",
                headers={"Authorization": "Bearer sandbox-integration-token"},
                timeout=5,
            )
        assert response.json()["lead"]["displayName"] == "Alice Admin"
