"""Reference page 000 walked end to end through the ``twinsync`` command line: the real
console script (``.venv/bin/twinsync``) as a subprocess, one profile per node, against the
local stack's nodes over loopback.

Node ``a`` (profile ``acme``) is public; node ``b`` (profile ``globex``) is private: the
admin of a initiates with "I don't have a URL", copies the invitation code from the
output, the admin of b accepts it with a project, and the first issue is synced from a to
b. Node ``c`` (profile ``initech``, public) is the destination of the URL path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from chalicelib.trackers.base import IssueFields
from tests.stack.conftest import eventually, tracker_as

pytestmark = pytest.mark.stack

TWINSYNC = Path(sys.executable).parent / "twinsync"


class Cli:
    """``twinsync`` as an admin runs it, with its own config file."""

    def __init__(self, config: Path) -> None:
        assert TWINSYNC.exists(), "run `make venv`: it installs the twinsync console script"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSYNC_")}
        self.env["TWINSYNC_CONFIG"] = str(config)

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(TWINSYNC), *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self(*args, stdin=stdin)
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json"))


@pytest.fixture(scope="module")
def cli(stack_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Three profiles, added the way an admin adds them: the token on stdin, never argv."""
    run = Cli(tmp_path_factory.mktemp("twinsync-cli") / "config.toml")
    for profile, node in (("acme", "a"), ("globex", "b"), ("initech", "c")):
        info = stack_info["nodes"][node]
        added = run("profile", "add", profile, "--url", info["url"], stdin=info["admin_token"])
        assert added.returncode == 0, added.stderr
        assert info["admin_token"] not in added.stdout + added.stderr
    return run


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def copied_code(initiate_output: str) -> str:
    """Step 9 "Copy invitation code": the one line of the output that is the code."""
    codes = [line for line in initiate_output.splitlines() if line.startswith("TS1.")]
    assert len(codes) == 1, initiate_output
    return codes[0]


def twin_synced(cli: Cli, profile: str, cid: str, key: str) -> dict[str, Any] | None:
    twin = cli.json("--profile", profile, "twins", "show", key, "--connection", cid)
    assert twin["status"] != "error", twin
    return twin if twin["status"] == "synced" and twin["remote"] else None


def test_page_000_through_the_cli(cli: Cli, stack_info: dict[str, Any]) -> None:
    # 1 the Connections tab; 6 "Select a project for the incoming sync"
    before_b = {c["id"] for c in cli.json("--profile", "globex", "connections", "list")}
    assert "ALPHA" in cli.ok("--profile", "acme", "projects", "list")
    # 2 "Initiate connection", 3 "I don't have a URL", 4 "Basic", 6 project, 8 "Initiate"
    name = unique("cli-000")
    shown = cli.ok(
        "--profile", "acme", "connections", "initiate", "--no-url", "--mode", "basic",
        "--local-name", "Acme", "--remote-name", "Globex", "--name", name,
        "--description", "Support escalations", "--project", "ALPHA",
    )  # fmt: skip
    # 9 "Copy Invitation Code": the destination is shown as "unknown"
    assert "pending" in shown and '"unknown"' in shown
    code = copied_code(shown)
    listed = {c["name"]: c for c in cli.json("--profile", "acme", "connections", "list")}
    assert listed[name]["status"] == "pending" and listed[name]["remote"] is None  # 10 "Done"
    cid = listed[name]["id"]

    # the private side's admin: "Accept invitation", paste the code, choose a project
    accepted = cli.ok("--profile", "globex", "invitations", "accept", code, "--project", "OPS")
    assert "active" in accepted and cid in accepted
    assert cli.json("--profile", "acme", "connections", "show", cid)["status"] == "active"
    assert {c["id"] for c in cli.json("--profile", "globex", "connections", "list")} == (
        before_b | {cid}
    )

    # "Once your partner accepts the invitation, you can start synchronization"
    summary = f"First issue {uuid.uuid4().hex[:6]}"
    alice_a = tracker_as(stack_info, "a")
    key = alice_a.create_issue("ALPHA", IssueFields(summary=summary, issue_type="Bug")).key
    started = cli.json("--profile", "acme", "sync", key, "--connection", cid)
    assert started["local"]["key"] == key and started["status"] in ("queued", "synced")
    twin = eventually(lambda: twin_synced(cli, "acme", cid, key), timeout=90)
    remote_key = twin["remote"]["key"]
    assert remote_key.startswith("OPS-")
    # the twin exists in b's sandbox Jira (Server), and b's end shows the same pair
    twin_on_b = tracker_as(stack_info, "b").get_issue(remote_key)
    assert twin_on_b.summary == summary
    on_b = cli.json("--profile", "globex", "twins", "show", remote_key, "--connection", cid)
    assert on_b["remote"]["key"] == key
    human = cli.ok("--profile", "acme", "twins", "show", key, "--connection", cid)
    assert remote_key in human and "synced" in human


def test_a_bad_code_exits_non_zero_with_the_contract_code_and_creates_nothing(
    cli: Cli,
) -> None:
    before_b = cli.json("--profile", "globex", "connections", "list")
    name = unique("cli-bad")
    shown = cli.ok(
        "--profile", "acme", "connections", "initiate", "--no-url", "--local-name", "Acme",
        "--remote-name", "Globex", "--name", name, "--project", "ALPHA",
    )  # fmt: skip
    code = copied_code(shown)
    payload, checksum = code.rsplit(".", 1)
    altered = f"{payload}.{'0' if checksum[0] != '0' else '1'}{checksum[1:]}"
    for bad, expected in (
        (code[: len(code) // 2], "invalid_invitation_code"),  # cut when copied
        (altered, "invitation_checksum_mismatch"),
    ):
        refused = cli("--profile", "globex", "invitations", "accept", bad, "--project", "OPS")
        assert refused.returncode == 4, refused.stderr
        assert refused.stdout == ""
        assert refused.stderr.startswith(f"error: {expected}: ") and "[HTTP 400]" in refused.stderr
        assert "Traceback" not in refused.stderr
    unknown_project = cli("--profile", "globex", "invitations", "accept", code, "--project", "NOPE")
    assert unknown_project.returncode == 4 and "unknown_project" in unknown_project.stderr
    assert "(field: incoming_project)" in unknown_project.stderr

    # nothing created on b, and a's end still waits for its partner
    assert cli.json("--profile", "globex", "connections", "list") == before_b
    on_a = [c for c in cli.json("--profile", "acme", "connections", "list") if c["name"] == name]
    assert [c["status"] for c in on_a] == ["pending"]


def test_the_url_path_through_the_cli(cli: Cli) -> None:
    """Pages 003/004: the partner's public URL (its `node show`), a code, accept there."""
    url = cli.json("--profile", "initech", "node", "show")["public_url"]
    created = cli.json(
        "--profile", "acme", "connections", "initiate", "--url", url, "--mode", "script",
        "--local-name", "Acme", "--remote-name", "Initech", "--name", unique("cli-url"),
        "--project", "BETA", "--no-admin-access",
    )  # fmt: skip
    assert created["connection"]["remote"]["url"] == url and created["redirect_url"] is None
    cid = created["connection"]["id"]
    accepted = cli.json(
        "--profile", "initech", "invitations", "accept", created["invitation_code"],
        "--project", "SUP",
    )  # fmt: skip
    assert accepted["connection"]["id"] == cid and accepted["connection"]["mode"] == "script"
    assert cli.json("--profile", "acme", "connections", "show", cid)["status"] == "active"
    # the private node cannot initiate: a refusal with its code, exit 4
    refused = cli(
        "--profile", "globex", "connections", "initiate", "--no-url", "--local-name", "G",
        "--remote-name", "A", "--name", unique("cli-private"), "--project", "OPS",
    )  # fmt: skip
    assert refused.returncode == 4 and "private_node_cannot_initiate" in refused.stderr


def test_triggers_bulk_sync_and_audit_through_the_cli(
    cli: Cli, stack_info: dict[str, Any], tmp_path: Path
) -> None:
    created = cli.json(
        "--profile", "acme", "connections", "initiate", "--no-url", "--local-name", "Acme",
        "--remote-name", "Globex", "--name", unique("cli-ops"), "--project", "ALPHA",
    )  # fmt: skip
    cid = created["connection"]["id"]
    cli.ok("--profile", "globex", "invitations", "accept", created["invitation_code"],
           "--project", "OPS")  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    alice_a = tracker_as(stack_info, "a")
    keys = {
        alice_a.create_issue("BETA", IssueFields(summary=f"bulk {tag} {n}", issue_type="Task")).key
        for n in range(3)
    }
    jql = f'project = BETA AND summary ~ "{tag}"'

    preview = cli.json("--profile", "acme", "triggers", "preview", jql, "--connection", cid)
    assert preview["count"] == 3 and set(preview["sample_keys"]) == keys
    trigger = cli.json("--profile", "acme", "triggers", "add", jql, "-c", cid, "--note", tag)
    listed = cli.json("--profile", "acme", "triggers", "list", "-c", cid)
    assert [t["id"] for t in listed] == [trigger["id"]]

    # the bar goes to stderr; stdout is the finished job
    job = cli.json("--profile", "acme", "bulk-sync", jql, "-c", cid, "--poll-interval", "0.2")
    assert job["state"] == "done" and (job["total"], job["done"], job["failed"]) == (3, 3, 0)
    for key in keys:
        assert twin_synced(cli, "acme", cid, key)
    assert cli.json("--profile", "acme", "errors", "list", "--connection", cid) == []

    target = tmp_path / "audit.jsonl"
    cli.ok("--profile", "acme", "audit", "export", "--connection", cid, "--output", str(target))
    actions = [json.loads(line)["action"] for line in target.read_text().splitlines()]
    assert actions[0] == "connection.created"  # oldest first
    assert {"connection.accepted", "trigger.created", "job.started"} <= set(actions)
