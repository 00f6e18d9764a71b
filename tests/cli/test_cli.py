"""``twinsync`` against a fake node on loopback: profiles, paging, output, exit codes."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

from click.testing import CliRunner

from tests.cli.conftest import OTHER_TOKEN, TOKEN, Answer, FakeNode, Seen, refusal
from twinsync_cli.main import cli

CONNECTION = {
    "id": "c-1",
    "name": "Acme-Globex",
    "description": None,
    "mode": "basic",
    "status": "pending",
    "role": "initiator",
    "local_short_name": "Acme",
    "remote_short_name": "Globex",
    "remote": None,
    "incoming_project": "ALPHA",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
}


def conn(cid: str) -> dict:
    return {**CONNECTION, "id": cid, "name": f"name-{cid}"}


# --- profiles ----------------------------------------------------------------------------


def test_profile_add_reads_the_token_from_stdin_and_writes_it_private(
    fake_node: FakeNode, config_file: Path
) -> None:
    fake_node.on("GET", "/api/v1/node", Answer(body={"node_id": "n-a", "name": "Acme"}))
    result = CliRunner().invoke(
        cli, ["profile", "add", "acme", "--url", fake_node.url + "/"], input=TOKEN + "\n"
    )
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    assert fake_node.seen[-1].headers["authorization"] == f"Bearer {TOKEN}"

    listed = CliRunner().invoke(cli, ["profile", "list", "-o", "json"])
    assert json.loads(listed.stdout) == [
        {"name": "acme", "url": fake_node.url, "default": True, "token": "set"}
    ]
    # the only profile is the default one: no --profile needed
    fake_node.on("GET", "/api/v1/connections", Answer(body=[CONNECTION]))
    shown = CliRunner().invoke(cli, ["connections", "list", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    assert [c["id"] for c in json.loads(shown.stdout)] == ["c-1"]


def test_profile_add_with_a_token_the_node_refuses_saves_nothing(
    fake_node: FakeNode, config_file: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["profile", "add", "acme", "--url", fake_node.url], input=OTHER_TOKEN + "\n"
    )
    assert result.exit_code == 6
    assert "invalid_token" in result.stderr
    assert OTHER_TOKEN not in result.output
    assert not config_file.exists()


def test_two_profiles_each_get_their_own_node(fake_node: FakeNode, config_file: Path) -> None:
    other = FakeNode()
    other.thread.start()
    try:
        for name, node in (("a", fake_node), ("b", other)):
            added = CliRunner().invoke(
                cli, ["profile", "add", name, "--url", node.url, "--no-check"], input=TOKEN
            )
            assert added.exit_code == 0, added.output
            node.on("GET", "/api/v1/connections", Answer(body=[conn(f"on-{name}")]))
        for name in ("a", "b"):
            result = CliRunner().invoke(
                cli, ["--profile", name, "connections", "list", "-o", "json"]
            )
            assert [c["id"] for c in json.loads(result.stdout)] == [f"on-{name}"]
        missing = CliRunner().invoke(cli, ["--profile", "zz", "connections", "list"])
        assert missing.exit_code == 2 and "No profile 'zz'" in missing.stderr
        # the first profile added is the default until another is chosen
        assert CliRunner().invoke(cli, ["profile", "use", "b"]).exit_code == 0
        chosen = CliRunner().invoke(cli, ["connections", "list", "-o", "json"])
        assert [c["id"] for c in json.loads(chosen.stdout)] == ["on-b"]
        assert CliRunner().invoke(cli, ["profile", "remove", "b"]).exit_code == 0
        alone = CliRunner().invoke(cli, ["connections", "list", "-o", "json"])
        assert [c["id"] for c in json.loads(alone.stdout)] == ["on-a"]  # the only one left
    finally:
        other.server.shutdown()
        other.server.server_close()


def test_no_node_chosen_is_a_usage_error(config_file: Path) -> None:
    result = CliRunner().invoke(cli, ["connections", "list"])
    assert result.exit_code == 2
    assert "twinsync profile add" in result.stderr


def test_token_is_never_an_argument() -> None:
    result = CliRunner().invoke(cli, ["profile", "add", "a", "--url", "http://x", "--token", "t"])
    assert result.exit_code == 2  # no such option


# --- paging ------------------------------------------------------------------------------


def test_lists_follow_relative_and_absolute_next_links(run, fake_node: FakeNode) -> None:
    def page(seen: Seen) -> Answer:
        cursor = seen.query.get("cursor")
        if cursor is None:
            nxt = '</api/v1/connections?limit=2&cursor=p2>; rel="next"'
            return Answer(body=[conn("1"), conn("2")], headers={"Link": nxt})
        if cursor == "p2":
            nxt = f'<{fake_node.url}/api/v1/connections?limit=2&cursor=p3>; rel="next"'
            return Answer(body=[conn("3"), conn("4")], headers={"Link": nxt})
        # the node's public URL is another origin: followed on the profile's own origin
        if cursor == "p3":
            nxt = '<https://public.example/api/v1/connections?limit=2&cursor=p4>; rel="next"'
            return Answer(body=[conn("5")], headers={"Link": nxt})
        return Answer(body=[conn("6")])

    fake_node.on("GET", "/api/v1/connections", page)
    result = run("connections", "list", "--limit", "2", "-o", "json")
    assert result.exit_code == 0, result.output
    assert [c["id"] for c in json.loads(result.stdout)] == ["1", "2", "3", "4", "5", "6"]
    assert [s.query for s in fake_node.seen] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "p2"},
        {"limit": "2", "cursor": "p3"},
        {"limit": "2", "cursor": "p4"},
    ]
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in fake_node.seen)


def test_filters_travel_on_the_first_page_and_links_carry_them_after(run, fake_node) -> None:
    def page(seen: Seen) -> Answer:
        if "cursor" not in seen.query:
            link = '</api/v1/errors?connection_id=c-1&limit=100&cursor=x>; rel="next"'
            return Answer(body=[{"id": "e1"}], headers={"Link": link})
        return Answer(body=[{"id": "e2"}])

    fake_node.on("GET", "/api/v1/errors", page)
    result = run("errors", "list", "--connection", "c-1", "-o", "json")
    assert [e["id"] for e in json.loads(result.stdout)] == ["e1", "e2"]
    assert fake_node.seen[0].query == {"connection_id": "c-1"}
    assert fake_node.seen[1].query == {"connection_id": "c-1", "limit": "100", "cursor": "x"}


def test_a_link_loop_is_stopped(run, fake_node) -> None:
    loop = '</api/v1/connections?cursor=same>; rel="next"'
    fake_node.on("GET", "/api/v1/connections", Answer(body=[], headers={"Link": loop}))
    result = run("connections", "list")
    assert result.exit_code == 5 and "paging_loop" in result.stderr


# --- output and errors -------------------------------------------------------------------


def test_table_output_is_for_people_and_json_output_is_pure(run, fake_node) -> None:
    fake_node.on("GET", "/api/v1/connections/c-1", Answer(body=CONNECTION))
    table = run("connections", "show", "c-1")
    assert table.exit_code == 0 and "Acme-Globex" in table.stdout and "unknown" in table.stdout
    as_json = run("connections", "show", "c-1", "--output", "json")
    assert json.loads(as_json.stdout) == CONNECTION
    assert as_json.stderr == ""


def test_error_classes_have_their_exit_codes_and_show_the_contract_error(run, fake_node) -> None:
    fake_node.on(
        "POST",
        "/api/v1/invitations/accept",
        refusal(400, "invitation_checksum_mismatch", "Altered or mistyped.", "invitation_code"),
    )
    fake_node.on("GET", "/api/v1/connections/gone", refusal(404, "connection_not_found", "No."))
    fake_node.on("POST", "/api/v1/errors/e1/retry", refusal(409, "error_closed", "Closed."))
    fake_node.on("GET", "/api/v1/node", refusal(403, "forbidden", "Not you."))
    fake_node.on("GET", "/api/v1/jobs/j1", refusal(500, "internal_error", "Bug (request r-1)."))
    fake_node.on("GET", "/api/v1/projects", Answer(502, raw=b"<html>Bad gateway</html>"))

    accepted = run("invitations", "accept", "TS1.x.y", "--project", "OPS")
    assert accepted.exit_code == 4
    assert accepted.stderr.strip() == (
        "error: invitation_checksum_mismatch: Altered or mistyped. "
        "(field: invitation_code) [HTTP 400]"
    )
    assert accepted.stdout == ""
    assert run("connections", "show", "gone").exit_code == 3
    assert run("errors", "retry", "e1").exit_code == 4
    assert run("node", "show").exit_code == 6
    failed = run("jobs", "show", "j1")
    assert failed.exit_code == 5 and "internal_error" in failed.stderr
    proxy = run("projects", "list")
    assert proxy.exit_code == 5 and "Bad gateway" in proxy.stderr
    wrong = run("connections", "list", env={"TWINSYNC_TOKEN": OTHER_TOKEN})
    assert wrong.exit_code == 6 and "invalid_token" in wrong.stderr


def test_the_token_never_reaches_the_terminal(run, fake_node) -> None:
    def leaky(seen: Seen) -> Answer:
        said = seen.headers["authorization"]
        return refusal(422, "echo", f"you sent {said}")

    fake_node.on("GET", "/api/v1/connections", leaky)
    result = run("connections", "list")
    assert result.exit_code == 4
    assert TOKEN not in result.output and "Bearer ***" in result.stderr


def test_unreachable_and_slow_nodes_are_clear_messages(run, fake_node) -> None:
    down = run("connections", "list", env={"TWINSYNC_URL": "http://127.0.0.1:9"})
    assert down.exit_code == 5
    assert down.stderr.startswith("error: unreachable: Cannot reach http://127.0.0.1:9")
    assert "Traceback" not in down.output

    def slow(seen: Seen) -> Answer:
        time.sleep(1.0)
        return Answer(body=[])

    fake_node.on("GET", "/api/v1/connections", slow)
    late = run("--timeout", "0.2", "connections", "list")
    assert late.exit_code == 5
    assert "timeout:" in late.stderr and "did not answer" in late.stderr


def test_a_usable_token_only(run) -> None:
    result = run("connections", "list", env={"TWINSYNC_TOKEN": "has space in it"})
    assert result.exit_code == 2
    assert "has space" not in result.output


# --- reference page 000 commands ---------------------------------------------------------


def test_initiate_without_a_url_prints_the_code_on_its_own_line(run, fake_node) -> None:
    code = "TS1." + "x" * 300 + ".abcdef12"
    fake_node.on(
        "POST",
        "/api/v1/connections",
        Answer(201, {"connection": CONNECTION, "invitation_code": code, "redirect_url": None}),
    )
    result = run(
        "connections", "initiate", "--no-url", "--local-name", "Acme", "--remote-name",
        "Globex", "--name", "Acme-Globex", "--project", "ALPHA", "--description", "d",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert code in result.stdout.splitlines()
    assert fake_node.seen[-1].body == {
        "destination_url": None,
        "mode": "basic",
        "local_short_name": "Acme",
        "remote_short_name": "Globex",
        "name": "Acme-Globex",
        "incoming_project": "ALPHA",
        "admin_access": False,
        "description": "d",
    }
    both = run(
        "connections", "initiate", "--no-url", "--url", "https://b.example", "--local-name",
        "A", "--remote-name", "B", "--name", "n", "--project", "P",
    )  # fmt: skip
    assert both.exit_code == 2


def test_sync_wait_polls_until_the_twin_is_synced(run, fake_node) -> None:
    states = iter(["queued", "queued", "synced"])

    def twin(seen: Seen) -> Answer:
        status = next(states)
        remote = {"key": "OPS-1", "url": "u"} if status == "synced" else None
        return Answer(
            body={"connection_id": "c-1", "local": {"key": "ALPHA-1", "url": "u"},
                  "remote": remote, "status": status, "last_synced_at": None, "error": None}
        )  # fmt: skip

    fake_node.on("POST", "/api/v1/connections/c-1/sync", lambda s: Answer(202, twin(s).body))
    fake_node.on("GET", "/api/v1/connections/c-1/twins/ALPHA-1", twin)
    result = run("sync", "ALPHA-1", "--connection", "c-1", "--wait", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["remote"]["key"] == "OPS-1"
    assert fake_node.seen[0].body == {"issue_key": "ALPHA-1"}


def test_bulk_sync_follows_the_job_to_its_end(run, fake_node) -> None:
    views = iter(
        [
            {"state": "listing", "total": 0, "total_known": False, "done": 0},
            {"state": "running", "total": 3, "total_known": True, "done": 1, "eta_seconds": 70},
            {"state": "done", "total": 3, "total_known": True, "done": 3},
        ]
    )
    fake_node.on("POST", "/api/v1/connections/c-1/bulk-sync", Answer(202, {"job_id": "j-1"}))
    fake_node.on("GET", "/api/v1/jobs/j-1", lambda s: Answer(body={"id": "j-1", **next(views)}))
    result = run(
        "bulk-sync", "project = BETA", "-c", "c-1", "--poll-interval", "0.05", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "done"
    assert fake_node.seen[0].body == {"jql": "project = BETA"}
    assert "3/3" in result.stderr  # the bar, on stderr


def test_a_bulk_job_with_failures_exits_7(run, fake_node) -> None:
    fake_node.on("POST", "/api/v1/connections/c-1/bulk-sync", Answer(202, {"job_id": "j-2"}))
    job = {"id": "j-2", "state": "done", "total": 2, "total_known": True, "done": 1,
           "failed": 1, "failures": [{"key": "B-2", "error": "issuetype refused"}]}  # fmt: skip
    fake_node.on("GET", "/api/v1/jobs/j-2", Answer(body=job))
    result = run("bulk-sync", "project = BETA", "-c", "c-1", "--poll-interval", "0.05")
    assert result.exit_code == 7
    assert "B-2: issuetype refused" in result.stdout
    assert "job_done" in result.stderr


def test_audit_export_writes_every_page_of_json_lines(run, fake_node, tmp_path: Path) -> None:
    def page(seen: Seen) -> Answer:
        assert seen.query["format"] == "jsonl"
        headers = {"Content-Type": "application/x-ndjson"}
        if "cursor" not in seen.query:
            headers["Link"] = '</api/v1/audit?format=jsonl&limit=2&cursor=n>; rel="next"'
            return Answer(raw=b'{"id":"1"}\n{"id":"2"}\n', headers=headers)
        return Answer(raw=b'{"id":"3"}\n', headers=headers)

    fake_node.on("GET", "/api/v1/audit", page)
    to_stdout = run("audit", "export")
    assert to_stdout.exit_code == 0, to_stdout.output
    assert [json.loads(line)["id"] for line in to_stdout.stdout.splitlines()] == ["1", "2", "3"]
    target = tmp_path / "audit.jsonl"
    to_file = run("audit", "export", "--output", str(target))
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert target.read_text().splitlines() == ['{"id":"1"}', '{"id":"2"}', '{"id":"3"}']


def test_an_answer_the_cli_does_not_expect_is_a_short_message_not_a_traceback(
    run, fake_node
) -> None:
    fake_node.on("POST", "/api/v1/connections", Answer(201, {"unexpected": True}))
    args = ("connections", "initiate", "--no-url", "--local-name", "A", "--remote-name", "B",
            "--name", "n", "--project", "P")  # fmt: skip
    result = run(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: internal: KeyError")
    assert "TWINSYNC_DEBUG=1" in result.stderr and "Traceback" not in result.output
    debug = run(*args, env={"TWINSYNC_DEBUG": "1"})
    assert isinstance(debug.exception, KeyError)


def test_a_config_file_others_can_read_is_pointed_out(config_file: Path, fake_node) -> None:
    added = CliRunner().invoke(
        cli, ["profile", "add", "a", "--url", fake_node.url, "--no-check"], input=TOKEN
    )
    assert added.exit_code == 0
    config_file.chmod(0o644)
    fake_node.on("GET", "/api/v1/connections", Answer(body=[]))
    result = CliRunner().invoke(cli, ["connections", "list"])
    assert result.exit_code == 0
    assert f"chmod 600 {config_file}" in result.stderr and TOKEN not in result.output


def test_next_links_stay_on_the_profiles_origin_and_path_prefix() -> None:
    from twinsync_cli.client import Client
    from twinsync_cli.config import Profile

    staged = Client(Profile("p", "https://api.example/prod", TOKEN))
    here = "https://api.example/prod/api/v1/errors?limit=2"
    assert staged._follow(here, "/api/v1/errors?cursor=x") == (
        "https://api.example/prod/api/v1/errors?cursor=x"
    )
    assert staged._follow(here, "/prod/api/v1/errors?cursor=x") == (
        "https://api.example/prod/api/v1/errors?cursor=x"
    )
    assert staged._follow(here, "https://evil.example/prod/api/v1/errors?cursor=x") == (
        "https://api.example/prod/api/v1/errors?cursor=x"
    )
    plain = Client(Profile("p", "http://127.0.0.1:8401", TOKEN))
    assert plain._follow("http://127.0.0.1:8401/api/v1/audit", "?cursor=y") == (
        "http://127.0.0.1:8401/api/v1/audit?cursor=y"
    )
