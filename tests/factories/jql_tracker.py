"""A fake tracker whose search understands the small JQL subset operations rely on.

:class:`~tests.factories.fake_tracker.FakeTracker` returns every issue for any query; the
operations (triggers, bulk jobs, the incoming guard) need real answers to ``key = X AND
(…)``. Supported: ``AND``, ``OR``, ``NOT``, parentheses, ``key =``, ``project =`` /
``project in (…)``, ``summary ~ "words"``, ``labels =``, ``updated >= -Nm`` (minutes before
the tracker's own clock); results come in key order, or in ``updated`` then key order for
``ORDER BY updated``, paged by an offset cursor (as Jira Server's ``startAt``). Anything else
is ``InvalidRequest`` with a Jira-like message, as a real tracker would refuse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.trackers.base import (
    Body,
    InvalidRequest,
    Issue,
    IssueFields,
    IssueRef,
    RateLimited,
    SearchPage,
    Unavailable,
)
from tests.factories.fake_tracker import STAMP, FakeTracker

_TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|"([^"]*)"|(!=|>=|<=|=|~)|([A-Za-z0-9_.\-]+))')


def _tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _bad(f"unexpected character at {pos + 1}")
        lp, rp, comma, string, op, word = match.groups()
        if lp:
            found.append(("(", lp))
        elif rp:
            found.append((")", rp))
        elif comma:
            found.append((",", comma))
        elif string is not None:
            found.append(("str", string))
        elif op:
            found.append(("op", op))
        else:
            found.append(("word", word))
        pos = match.end()
    return found


def _bad(detail: str) -> InvalidRequest:
    message = f"Error in the JQL Query: {detail}"
    return InvalidRequest(message, error_messages=(message,))


def _when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")


class _Parser:
    def __init__(self, text: str, now: str = STAMP) -> None:
        where, *order = re.split(r"\bORDER\s+BY\b", text, maxsplit=1, flags=re.IGNORECASE)
        self.by_updated = bool(order) and order[0].strip().lower().startswith("updated")
        self.tokens = _tokens(where)
        self.now = now
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _bad("the query ends too early")
        self.i += 1
        return token

    def word(self, token: tuple[str, str] | None, text: str) -> bool:
        return token is not None and token[0] == "word" and token[1].lower() == text

    def parse(self) -> Any:
        if not self.tokens:
            return lambda issue: True
        node = self.or_expr()
        if self.peek() is not None:
            raise _bad(f"unexpected {self.peek()[1]!r}")
        return node

    def or_expr(self) -> Any:
        parts = [self.and_expr()]
        while self.word(self.peek(), "or"):
            self.take()
            parts.append(self.and_expr())
        return lambda issue: any(p(issue) for p in parts)

    def and_expr(self) -> Any:
        parts = [self.not_expr()]
        while self.word(self.peek(), "and"):
            self.take()
            parts.append(self.not_expr())
        return lambda issue: all(p(issue) for p in parts)

    def not_expr(self) -> Any:
        if self.word(self.peek(), "not"):
            self.take()
            inner = self.not_expr()
            return lambda issue: not inner(issue)
        if self.peek() == ("(", "("):
            self.take()
            inner = self.or_expr()
            if self.take()[0] != ")":
                raise _bad("expected ')'")
            return inner
        return self.clause()

    def clause(self) -> Any:
        name = self.take()
        if name[0] != "word":
            raise _bad(f"expected a field, got {name[1]!r}")
        field_name = name[1].lower()
        op = self.take()
        if self.word(op, "in"):
            if self.take()[0] != "(":
                raise _bad("expected '('")
            values = []
            while True:
                token = self.take()
                if token[0] == ")":
                    break
                if token[0] != ",":
                    values.append(token[1])
            return self._field(field_name, "in", values)
        value = self.take()
        if op[0] != "op" or value[0] not in ("word", "str"):
            raise _bad(f"bad clause near {name[1]!r}")
        return self._field(field_name, op[1], [value[1]])

    def _field(self, name: str, op: str, values: list[str]) -> Any:
        if name in ("key", "issuekey"):
            return lambda issue: (issue.key in values) == (op != "!=")
        if name == "project":
            return lambda issue: (issue.project in values) == (op != "!=")
        if name == "labels":
            return lambda issue: any(v in issue.labels for v in values) == (op != "!=")
        if name == "updated" and op == ">=":
            match = re.fullmatch(r"-(\d+)m", values[0])
            if not match:
                raise _bad(f"Date value '{values[0]}' for field 'updated' is invalid.")
            since = _when(self.now) - timedelta(minutes=int(match.group(1)))
            return lambda issue: _when(issue.updated or STAMP) >= since
        if name == "summary" and op == "~":
            words = values[0].lower().split()
            return lambda issue: all(w in issue.summary.lower() for w in words)
        raise _bad(f"Field '{name}' does not exist or you do not have permission to view it.")


def _key_order(issue: Issue) -> tuple[str, int]:
    project, _, number = issue.key.partition("-")
    return project, int(number or 0)


@dataclass
class JqlTracker(FakeTracker):
    """FakeTracker with real (subset) JQL, a changing ``updated`` and injectable failures."""

    fail_search: list[Exception] = field(default_factory=list)  # raised by the next searches
    searches: list[str] = field(default_factory=list)
    _clock: int = 0
    _numbers: dict[str, int] = field(default_factory=dict)

    def _stamp(self) -> str:
        self._clock += 1
        return self._now()

    def _now(self) -> str:
        return f"2026-01-02T10:{self._clock // 60 % 60:02d}:{self._clock % 60:02d}.000+0000"

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        self.calls.append(f"search {jql}")
        self.searches.append(jql)
        if self.fail_search:
            raise self.fail_search.pop(0)
        parser = _Parser(jql, self._now())
        predicate = parser.parse()
        found = sorted((i for i in self.issues.values() if predicate(i)), key=_key_order)
        if parser.by_updated:
            found.sort(key=lambda i: _when(i.updated or STAMP))  # stable: key order in ties
        start = int(cursor or 0)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return SearchPage(
            issues=tuple(IssueRef(i.id, i.key, i.url) for i in page),
            next_cursor=str(start + limit) if more else None,
            updated={i.key: i.updated for i in page},
        )

    def check_jql(self, jql: str) -> None:
        _Parser(jql).parse()

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        """As FakeTracker, but keys are never reused after a deletion (like Jira)."""
        self.calls.append(f"create_issue {project}")
        if project not in self.projects:
            raise InvalidRequest("valid project is required", field_errors={"project": "bad"})
        self._numbers[project] = self._numbers.get(project, 0) + 1
        key = f"{project}-{self._numbers[project]}"
        self.issues[key] = Issue(
            id=self._next(),
            key=key,
            project=project,
            url=f"http://tracker.test/browse/{key}",
            summary=fields.summary or "",
            description=fields.description,
            issue_type=fields.issue_type or "Task",
            labels=tuple(fields.labels or ()),
            created=STAMP,
            updated=self._stamp(),
        )
        for name, value in fields.properties.items():
            self.properties[(key, name)] = value
        return IssueRef(self.issues[key].id, key, self.issues[key].url)

    def add_issue(
        self, project: str, summary: str, *, labels: tuple[str, ...] = (), text: str = ""
    ) -> Issue:
        """An issue a person created (not the integration user)."""
        ref = self.create_issue(
            project,
            IssueFields(summary=summary, description=Body("wiki", text) if text else None),
        )
        issue = replace(self.issues[ref.key], labels=labels, updated=self._stamp())
        self.issues[ref.key] = issue
        return issue

    def update_issue(self, key: str, fields: IssueFields) -> None:
        super().update_issue(key, fields)
        self.issues[key] = replace(self.issues[key], updated=self._stamp())

    def delete_issue(self, key: str) -> None:
        self.calls.append(f"delete_issue {key}")
        super().delete_issue(key)


__all__ = ["STAMP", "JqlTracker", "RateLimited", "Unavailable"]
