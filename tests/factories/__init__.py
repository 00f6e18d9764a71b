"""Test data factories: issues, comments and replicas built the way trackers return them."""

from __future__ import annotations

from typing import Any

from chalicelib.trackers.base import Attachment, Body, Comment, Issue, Project, User

ALICE = User(id="acc-alice", name="Alice Smith")
BOT = User(id="acc-bot", name="Twinsync Bot")


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def comment(cid: str, text: str, *, author: User = ALICE, fmt: str = "adf") -> Comment:
    body = Body("adf", adf(text)) if fmt == "adf" else Body(fmt, text)  # type: ignore[arg-type]
    return Comment(
        id=cid,
        author=author,
        created="2026-01-02T10:00:00.000+0000",
        updated="2026-01-02T10:00:00.000+0000",
        body=body,
    )


def issue(
    key: str = "ALPHA-1",
    *,
    summary: str = "Printer on fire",
    description: str | None = "It smokes.",
    issue_type: str = "Bug",
    comments: tuple[Comment, ...] = (),
    attachments: tuple[Attachment, ...] = (),
) -> Issue:
    return Issue(
        id="10001",
        key=key,
        project=key.split("-")[0],
        url=f"https://a.example/browse/{key}",
        summary=summary,
        description=Body("adf", adf(description)) if description is not None else None,
        issue_type=issue_type,
        updated="2026-01-02T10:00:00.000+0000",
        comments=comments,
        attachments=attachments,
    )


def project(
    key: str = "OPS", types: tuple[str, ...] = ("Task", "Bug"), default: str | None = "Task"
) -> Project:
    return Project(key=key, name=key.title(), issue_types=types, default_issue_type=default)
