"""Remote issue links: create or update by globalId, list, read, delete; Jira's shapes and
refusals, on both flavours, checked against Atlassian's Cloud OpenAPI document."""

from __future__ import annotations

from typing import Any

from .conftest import Env
from .oas import errors, request_validator, response_validator, schema_validator

LINKS = "/rest/api/3/issue/{issueIdOrKey}/remotelink"


def check(validator: Any, body: Any) -> None:
    problems = errors(validator, body)
    assert not problems, "\n".join(problems)


def link(global_id: str, title: str, url: str = "https://other.example/browse/OPS-12") -> dict:
    return {
        "globalId": global_id,
        "application": {"type": "io.twinsync", "name": "Twinsync"},
        "relationship": "synced with",
        "object": {"url": url, "title": title, "summary": "Acme ↔ Globex"},
    }


def test_a_remote_link_is_created_then_updated_in_place_by_its_global_id(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    before = env.bot.get(f"issue/{key}").json()["fields"]["updated"]
    body = link("twinsync:c-1", "Synced with OPS-12 by Twinsync")
    check(request_validator(LINKS, "post"), body)

    created = env.bot.post(f"issue/{key}/remotelink", json=body)
    assert created.status_code == 201, created.text
    check(response_validator(LINKS, "post", 201), created.json())
    again = env.bot.post(
        f"issue/{key}/remotelink", json=link("twinsync:c-1", "Synced with OPS-13 by Twinsync")
    )
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]

    listed = env.bot.get(f"issue/{key}/remotelink").json()
    assert [x["object"]["title"] for x in listed] == ["Synced with OPS-13 by Twinsync"]
    for item in listed:
        check(schema_validator("RemoteIssueLink"), item)
    one = env.bot.get(f"issue/{key}/remotelink", params={"globalId": "twinsync:c-1"}).json()
    assert one["id"] == created.json()["id"] and one["relationship"] == "synced with"
    by_id = env.bot.get(f"issue/{key}/remotelink/{one['id']}").json()
    assert by_id == one
    # a remote link is not an edit of the issue
    assert env.bot.get(f"issue/{key}").json()["fields"]["updated"] == before


def test_two_global_ids_are_two_links_and_each_is_deleted_on_its_own(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    for gid in ("twinsync:c-1", "twinsync:c-2"):
        assert env.bot.post(f"issue/{key}/remotelink", json=link(gid, gid)).status_code == 201
    gone = env.bot.delete(f"issue/{key}/remotelink", params={"globalId": "twinsync:c-1"})
    assert gone.status_code == 204
    assert [x["globalId"] for x in env.bot.get(f"issue/{key}/remotelink").json()] == [
        "twinsync:c-2"
    ]
    again = env.bot.delete(f"issue/{key}/remotelink", params={"globalId": "twinsync:c-1"})
    assert again.status_code == 404
    [left] = env.bot.get(f"issue/{key}/remotelink").json()
    assert env.bot.delete(f"issue/{key}/remotelink/{left['id']}").status_code == 204
    assert env.bot.get(f"issue/{key}/remotelink").json() == []
    assert env.bot.get(f"issue/{key}/remotelink/{left['id']}").status_code == 404


def test_jira_refuses_a_link_without_url_or_title_and_an_unknown_issue(env: Env) -> None:
    key = env.bot.create_issue()["key"]
    refused = env.bot.post(f"issue/{key}/remotelink", json={"object": {"url": "https://x.io"}})
    assert refused.status_code == 400
    assert refused.json() == {"errorMessages": [], "errors": {"title": "'title' is required."}}
    nothing = env.bot.post(f"issue/{key}/remotelink", json={"globalId": "g"})
    assert set(nothing.json()["errors"]) == {"url", "title"}
    assert env.bot.get(f"issue/{key}/remotelink").json() == []
    missing = env.bot.post("issue/ABC-999/remotelink", json=link("g", "t"))
    assert missing.status_code == 404
    unknown = env.bot.get(f"issue/{key}/remotelink", params={"globalId": "nope"})
    assert unknown.status_code == 404
    no_id = env.bot.delete(f"issue/{key}/remotelink")
    assert no_id.status_code == 400
