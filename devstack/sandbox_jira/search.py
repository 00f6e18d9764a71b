"""Running a JQL search over the store and cutting the result into pages.

Two pagination styles, as Jira has them: ``startAt``/``maxResults``/``total`` (REST v2 and the
deprecated v3 ``/search``) and ``nextPageToken`` (Cloud's ``/rest/api/3/search/jql``). The
token carries the sort key of the last issue returned (keyset pagination), so an issue that
changes while a client pages through results is neither skipped nor served twice in a row
of unchanged issues.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .errors import JiraError
from .jql import JqlError, parse
from .jql_eval import CompiledQuery, IssueDoc, compile_query
from .store import IssueRec, Store

UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)


def jql_error(message: str) -> JiraError:
    return JiraError(400, [message])


@dataclass(frozen=True)
class SearchResult:
    issues: list[IssueRec]
    total: int
    next_token: str | None = None


def compile_jql(store: Store, jql: str, user_id: str | None) -> CompiledQuery:
    """Parse and check ``jql`` for this site; Jira's 400 when anything is wrong."""
    try:
        return compile_query(parse(jql or ""), store.catalog(user_id))
    except JqlError as exc:
        raise jql_error(exc.message) from exc


def matching(store: Store, compiled: CompiledQuery) -> list[IssueDoc]:
    with store.lock:
        docs = [d for d in store.docs() if compiled.predicate(d)]
    return compiled.sort(docs)


def by_offset(
    store: Store, jql: str, user_id: str | None, start_at: int, max_results: int
) -> SearchResult:
    compiled = compile_jql(store, jql, user_id)
    docs = matching(store, compiled)
    page = docs[start_at : start_at + max_results]
    with store.lock:
        issues = [store.issues[str(d.id)] for d in page if str(d.id) in store.issues]
    return SearchResult(issues, len(docs))


def _fingerprint(jql: str) -> str:
    return hashlib.sha256(jql.encode()).hexdigest()[:16]


def encode_token(jql: str, key: list[Any]) -> str:
    raw = json.dumps({"q": _fingerprint(jql), "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(jql: str, token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["q"] != _fingerprint(jql) or not isinstance(data["k"], list):
            raise ValueError("token made for another query")
        return data["k"]
    except (ValueError, KeyError, TypeError) as exc:
        raise JiraError(400, ["The provided next page token is invalid or expired."]) from exc


def by_token(
    store: Store, jql: str, user_id: str | None, token: str | None, max_results: int
) -> SearchResult:
    compiled = compile_jql(store, jql, user_id)
    if not compiled.bounded:
        raise jql_error(UNBOUNDED)
    docs = matching(store, compiled)
    order = compiled.order
    if token:
        after = decode_token(jql, token)
        docs = [d for d in docs if order.compare_keys(order.key(d), after) > 0]
    page = docs[:max_results]
    next_token = None
    if len(docs) > max_results and page:
        next_token = encode_token(jql, order.key(page[-1]))
    with store.lock:
        issues = [store.issues[str(d.id)] for d in page if str(d.id) in store.issues]
    return SearchResult(issues, len(docs), next_token)
