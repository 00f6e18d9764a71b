"""Issue 18: worklogs on Jira Cloud and Server (the same paths; comments in each one's
body format), a mixin of ``JiraTracker``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.trackers.base import Body, BodyFormat, TrackerError, User, Worklog
from chalicelib.trackers.jira_part import JiraPart

WORKLOG_PAGE = 1000


def parse_worklog(
    data: Mapping[str, Any], body_format: BodyFormat, author: User | None = None
) -> Worklog:
    comment = data.get("comment")
    return Worklog(
        id=str(data["id"]),
        started=str(data.get("started") or ""),
        seconds=int(data.get("timeSpentSeconds") or 0),
        author=author,
        comment=Body(body_format, comment) if comment not in (None, "") else None,
        created=str(data.get("created") or ""),
        updated=str(data.get("updated") or ""),
    )


def jira_started(text: str) -> str:
    """An ISO 8601 time as Jira's worklog ``started`` (``2026-12-01T09:30:00.000+0000``,
    UTC); a time without offset is taken as UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]  # Jira's own +0100
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TrackerError(f"not a time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


class JiraWorklogs(JiraPart):
    """List, add, update and delete an issue's worklogs."""

    def list_worklogs(self, key: str) -> list[Worklog]:
        out: list[Worklog] = []
        while True:
            page = self.http.json(
                "GET",
                self._issue_path(key, "worklog"),
                params={"startAt": len(out), "maxResults": WORKLOG_PAGE},
            )
            batch = [w for w in (page or {}).get("worklogs") or () if isinstance(w, Mapping)]
            out.extend(self._worklog(w) for w in batch)
            if not batch or len(out) >= int((page or {}).get("total") or 0):
                return out

    def add_worklog(
        self, key: str, *, started: str, seconds: int, comment: Body | None = None
    ) -> Worklog:
        payload = self._worklog_payload(started, seconds, comment)
        return self._worklog(self.http.json("POST", self._issue_path(key, "worklog"), json=payload))

    def update_worklog(
        self,
        key: str,
        worklog_id: str,
        *,
        started: str | None = None,
        seconds: int | None = None,
        comment: Body | None = None,
    ) -> Worklog:
        payload = self._worklog_payload(started, seconds, comment)
        path = self._issue_path(key, "worklog", worklog_id)
        return self._worklog(self.http.json("PUT", path, json=payload))

    def delete_worklog(self, key: str, worklog_id: str) -> None:
        self.http.json("DELETE", self._issue_path(key, "worklog", worklog_id))

    def _worklog_payload(
        self, started: str | None, seconds: int | None, comment: Body | None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if started is not None:
            payload["started"] = jira_started(started)
        if seconds is not None:
            payload["timeSpentSeconds"] = int(seconds)
        if comment is not None:
            payload["comment"] = self.own_body(comment)
        return payload

    def _worklog(self, data: Any) -> Worklog:
        if not isinstance(data, Mapping) or "id" not in data:
            raise TrackerError("Jira did not describe the worklog")
        return parse_worklog(data, self.body_format, self.parse_author(data.get("author")))
