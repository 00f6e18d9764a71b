"""Factories for Jira REST JSON, in Cloud (v3, ADF, accountId) and Server (v2, wiki) shapes.

Small but real shapes (checked against the Cloud OpenAPI document in test_cloud_openapi),
so adapter tests read what Jira sends rather than ad-hoc dicts.
"""

from __future__ import annotations

from typing import Any

CLOUD = "https://acme.atlassian.net"
SERVER = "https://jira.acme.test"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def cloud_user(account_id: str = "5b10a2844c20165700ede21g", name: str = "Mia Krystof") -> dict:
    return {
        "self": f"{CLOUD}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "displayName": name,
        "active": True,
        "accountType": "atlassian",
    }


def server_user(
    key: str = "JIRAUSER10100", name: str = "mia", display: str = "Mia Krystof"
) -> dict:
    return {
        "self": f"{SERVER}/rest/api/2/user?username={name}",
        "key": key,
        "name": name,
        "displayName": display,
        "active": True,
    }


def comment(
    cid: str = "10001",
    *,
    body: Any = None,
    author: dict | None = None,
    server: bool = False,
    issue_id: str = "10040",
) -> dict:
    base, api = (SERVER, "2") if server else (CLOUD, "3")
    author = author or (server_user() if server else cloud_user())
    data = {
        "self": f"{base}/rest/api/{api}/issue/{issue_id}/comment/{cid}",
        "id": cid,
        "author": author,
        "updateAuthor": author,
        "body": body if body is not None else ("A *comment*" if server else adf("A comment")),
        "created": "2024-05-01T10:00:00.000+0000",
        "updated": "2024-05-01T11:00:00.000+0000",
    }
    if not server:
        data["jsdPublic"] = True
    return data


def attachment(aid: str = "10010", *, server: bool = False, filename: str = "log.txt") -> dict:
    base, api = (SERVER, "2") if server else (CLOUD, "3")
    content = (
        f"{SERVER}/secure/attachment/{aid}/{filename}"
        if server
        else f"{CLOUD}/rest/api/3/attachment/content/{aid}"
    )
    return {
        "self": f"{base}/rest/api/{api}/attachment/{aid}",
        "id": aid,
        "filename": filename,
        "author": server_user() if server else cloud_user(),
        "created": "2024-05-01T10:05:00.000+0000",
        "size": 12,
        "mimeType": "text/plain",
        "content": content,
    }


def issue(
    key: str = "ABC-12",
    *,
    server: bool = False,
    comments: list[dict] | None = None,
    comment_total: int | None = None,
    **fields: Any,
) -> dict:
    base, api = (SERVER, "2") if server else (CLOUD, "3")
    comments = comments if comments is not None else [comment(server=server)]
    data = {
        "summary": "Printer on fire",
        "description": "h1. Fire\nIt *burns*." if server else adf("It burns."),
        "issuetype": {"id": "10004", "name": "Bug", "subtask": False},
        "labels": ["hardware"],
        "priority": {"id": "2", "name": "High"},
        "status": {"id": "1", "name": "To Do"},
        "created": "2024-05-01T09:00:00.000+0000",
        "updated": "2024-05-01T12:00:00.000+0000",
        "project": {"id": "10000", "key": key.split("-")[0], "name": "Alpha"},
        "comment": {
            "comments": comments,
            "maxResults": len(comments),
            "total": comment_total if comment_total is not None else len(comments),
            "startAt": 0,
        },
        "attachment": [attachment(server=server)],
        "customfield_10072": 3.5,
        "assignee": None,
    }
    data.update(fields)
    return {
        "expand": "renderedFields,names,schema",
        "id": "10040",
        "self": f"{base}/rest/api/{api}/issue/10040",
        "key": key,
        "fields": data,
    }


def issue_type(tid: str, name: str, *, subtask: bool = False) -> dict:
    return {"id": tid, "name": name, "subtask": subtask, "description": "", "iconUrl": ""}


def project(
    key: str = "ABC", pid: str = "10000", *, types: list[dict] | None = None, server: bool = False
) -> dict:
    base, api = (SERVER, "2") if server else (CLOUD, "3")
    return {
        "self": f"{base}/rest/api/{api}/project/{pid}",
        "id": pid,
        "key": key,
        "name": f"Project {key}",
        "issueTypes": types
        if types is not None
        else [
            issue_type("10001", "Task"),
            issue_type("10004", "Bug"),
            issue_type("10003", "Sub-task", subtask=True),
        ],
    }
