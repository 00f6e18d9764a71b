"""A connection's Rules tab: what its sync rules are, by mode, and everything to change them.

- **Script** mode: the outgoing and incoming scripts in two editors (line numbers beside)
  and the conflict rules, saved with ``PATCH /api/v1/connections/{id}``; a script that
  does not compile is refused with its line: the sentence names it, the editor marks it,
  and the administrator's text stays in the editor.
- **Visual** mode: the mapping document, one block (side and direction) at a time: its
  sync method, scope and field mappings (add or remove a row, value maps), saved with the
  same ``PATCH`` (``mappings``).
- **Basic** mode: the fixed rules, and **Upgrade to Script** (with a confirmation step).
- **Test run** (every mode): an issue key, and optionally a replica as the other side
  would send it → ``POST …/test-run``: the replica, the planned changes, the plan; nothing
  is written.
- **Versions**: ``GET …/rules/history``, each kept version with who, when and what changed.
- **Incoming guard** (Script and Visual mode): the JQL an incoming change's local twin must
  match (``incoming_guard_jql``; an empty field removes it), and **Internal comments**
  (every mode): the role or group that may read the comments this end writes as internal
  (``private_comment_visibility``; an empty name goes back to the default). Each is one
  ``PATCH``; a refusal is a sentence on its field, with the text kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.console.client import ApiAnswer, api_path
from chalicelib.console.common import (
    PAGE_SIZE,
    api,
    connection_context,
    console_api,
    read_connection,
)
from chalicelib.console.messages import sentence
from chalicelib.console.web import Html, Page, Redirect, html_route

SCRIPTS: tuple[tuple[str, str, str], ...] = (
    (
        "outgoing_script",
        "Outgoing script",
        "This side's issue \u2192 the replica sent to the other side.",
    ),
    (
        "incoming_script",
        "Incoming script",
        "The replica received from the other side \u2192 what is written here.",
    ),
)
SCRIPT_LABELS = {name: label for name, label, _ in SCRIPTS}
CONFLICT_FIELDS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("description", "Description"),
    ("type", "Issue type"),
    ("priority", "Priority"),
    ("status", "Status"),
    ("fields", "Custom fields"),
)
DONE = {
    "saved": "The rules were saved. Every saved version is kept under Versions.",
    "unchanged": "Nothing was changed.",
    "upgraded": (
        "The connection is in Script mode now: its Basic rules are the scripts below, "
        "ready to edit."
    ),
    "mappings": "The mappings were saved on both sides.",
    "guard": "The incoming guard was saved.",
    "comments": "Who may read internal comments was saved.",
}
GUARD_MODES = frozenset({"script", "visual"})  # where PATCH takes incoming_guard_jql
# private_comment_visibility when none is set (chalicelib.sync.privacy), as the API shows it
DEFAULT_VISIBILITY = {"type": "role", "value": "Administrators"}
VISIBILITY_TYPES: tuple[tuple[str, str], ...] = (
    ("role", "A project role"),
    ("group", "A Jira group"),
)

# --- Visual mode's words ------------------------------------------------------------------

SIDES = ("local", "remote")
DIRECTIONS = ("outgoing", "incoming")
SYNC_METHODS: tuple[tuple[str, str], ...] = (
    ("automatic", "Automatic (triggers and changes)"),
    ("manual", "Manual (only issues an administrator syncs)"),
    ("disabled", "Disabled (nothing syncs this way)"),
)
SCOPES: tuple[tuple[str, str], ...] = (
    ("issue_types", "Issue types"),
    ("priorities", "Priorities"),
    ("statuses", "Statuses"),
    ("labels", "Labels"),
)
FIELD_LABELS: dict[str, str] = {
    "summary": "Summary",
    "description": "Description",
    "labels": "Labels",
    "priority": "Priority",
    "status": "Status",
    "issue_type": "Issue type",
    "comments": "Comments",
    "attachments": "Attachments",
    "custom": "Custom field",
    # issue 18
    "components": "Components",
    "fix_versions": "Fix versions",
    "affects_versions": "Affects versions",
    "due_date": "Due date",
    "environment": "Environment",
    "resolution": "Resolution",
    "assignee": "Assignee",
    "reporter": "Reporter",
    "parent": "Parent (sub-tasks, epics)",
    "links": "Issue links",
    "worklogs": "Worklogs",
}
# issue 18: lists of names a receiving side may create when its project lacks them
CREATE_MISSING_FIELDS = frozenset({"components", "fix_versions", "affects_versions"})
# fields with a value map ("links": of link type names, and without a default)
VALUE_FIELDS = frozenset(
    {"labels", "priority", "status", "issue_type", "custom", "resolution", "links"}
    | CREATE_MISSING_FIELDS
)
DEFAULT_FIELDS = VALUE_FIELDS - {"links"}
CONFLICT_MAPPINGS = frozenset({"summary", "description", "issue_type", "priority", "status"})
CONFLICT_MAPPINGS_ALL = CONFLICT_MAPPINGS | {
    "custom",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
}
BASIC_FIELDS = ("summary", "description", "issue_type", "comments", "attachments")
OTHER_VALUES: tuple[tuple[str, str], ...] = (
    ("keep", "stay as they are"),
    ("default", "become the default"),
    ("drop", "are dropped"),
)


class FormProblem(ValueError):
    """Something in a console form the API could not be given (said as a sentence)."""


# --- shared -------------------------------------------------------------------------------


def _script_problem(answer: ApiAnswer) -> tuple[str, int | None, str] | None:
    """A refusal about one script's line (``script_invalid``, ``script_failed``): the
    script's name, the line (or ``None``) and the reason, else ``None``."""
    if answer.code not in ("script_invalid", "script_failed") or answer.field not in SCRIPT_LABELS:
        return None
    name = str(answer.field)
    message = answer.message
    found = re.search(r"\bline (\d+):\s*", message)
    line = int(found.group(1)) if found else None
    reason = message[found.end() :] if found else message.removeprefix(f"{name}: ")
    reason = reason.split(" The script was not saved", 1)[0].strip()
    return name, line, reason


def _script_sentence(answer: ApiAnswer, problem: tuple[str, int | None, str]) -> str:
    name, line, reason = problem
    where = f" on line {line}" if line else ""
    label = SCRIPT_LABELS[name].lower()
    reason = reason if reason.endswith((".", "!", "?")) else reason + "."
    if answer.code == "script_invalid":
        return (
            f"The {label} was not saved: there is a problem{where}: {reason} "
            "Your text is kept below; the previous version stays active."
        )
    return f"The {label} failed{where}: {reason}"


def _editors(
    c: Mapping[str, Any], edited: Mapping[str, str] | None, problem: Any
) -> list[dict[str, Any]]:
    editors = []
    for name, label, help_text in SCRIPTS:
        text = (edited or {}).get(name, c.get(name) or "")
        lines = text.split("\n")
        bad_line = problem[1] if problem and problem[0] == name else None
        editors.append(
            {
                "name": name,
                "label": label,
                "help": help_text,
                "text": text,
                "lines": lines,
                "rows": max(8, len(lines) + 1),
                "bad_line": bad_line,
                "error": problem[2] if problem and problem[0] == name else None,
            }
        )
    return editors


def _rules_page(
    page: Page,
    cid: str,
    *,
    edited: Mapping[str, str] | None = None,
    conflicts: Mapping[str, str] | None = None,
    problem: tuple[str, int | None, str, str] | None = None,
    test: Mapping[str, Any] | None = None,
    guard: Mapping[str, Any] | None = None,
    visibility: Mapping[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    stored_conflicts = c.get("conflict_rules") or {}
    shown_visibility = c.get("private_comment_visibility") or DEFAULT_VISIBILITY
    return Html(
        "rules.html",
        {
            **connection_context(cid, c, "rules"),
            "done": DONE.get(page.query.get("done", "")),
            "editors": _editors(c, edited, problem) if c["mode"] == "script" else [],
            "conflict_fields": [
                {
                    "name": name,
                    "label": label,
                    "value": (conflicts or {}).get(name, stored_conflicts.get(name, "later")),
                }
                for name, label in CONFLICT_FIELDS
            ],
            "blocks": _block_summaries(c) if c["mode"] == "visual" else [],
            "test": test or {"issue_key": "", "replica_text": "", "result": None},
            "guard": (
                {"value": c.get("incoming_guard_jql") or "", "error": None, **(guard or {})}
                if c["mode"] in GUARD_MODES
                else None
            ),
            "visibility": {
                "type": shown_visibility.get("type", "role"),
                "value": shown_visibility.get("value", ""),
                "error": None,
                **(visibility or {}),
            },
            "visibility_types": VISIBILITY_TYPES,
            "error": error,
        },
        status=status,
    )


# --- the Rules tab, and Script mode's editor ---------------------------------------------


@html_route(console_api, "/connections/{cid}/rules", ["GET"])
def rules(page: Page, cid: str) -> Html:
    return _rules_page(page, cid)


def _conflicts_from(form: Mapping[str, str]) -> dict[str, str]:
    return {
        name: "keep" if form.get(f"conflict_{name}") == "keep" else "later"
        for name, _ in CONFLICT_FIELDS
    }


def _normalized(text: str) -> str:
    """A textarea's text as the script is kept: browsers send CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@html_route(console_api, "/connections/{cid}/rules/scripts", ["POST"])
def save_scripts(page: Page, cid: str) -> Html | Redirect:
    """Save the edited scripts and conflict rules (only what changed) with one ``PATCH``."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    stored = c
    edited = {name: _normalized(page.form[name]) for name, _, _ in SCRIPTS if name in page.form}
    conflicts = _conflicts_from(page.form)
    body: dict[str, Any] = {k: v for k, v in edited.items() if v != stored.get(k)}
    kept = {k for k, v in conflicts.items() if v == "keep"}
    if stored.get("mode") == "script" and kept != set(stored.get("conflict_rules") or {}):
        body["conflict_rules"] = {k: "keep" for k in sorted(kept)}
    if not body:
        return Redirect(page.url(f"/connections/{cid}/rules", done="unchanged"))
    answer = client.call("PATCH", api_path("connections", cid), body=body)
    if answer.ok:
        return Redirect(page.url(f"/connections/{cid}/rules", done="saved"))
    found = _script_problem(answer)
    problem = (*found, _script_sentence(answer, found)) if found else None
    return _rules_page(
        page,
        cid,
        edited=edited,
        conflicts=conflicts,
        problem=problem,
        error=problem[3] if problem else sentence(answer),
        status=answer.status,
    )


# --- the incoming guard and internal comments ------------------------------------------------


@html_route(console_api, "/connections/{cid}/rules/guard", ["POST"])
def save_guard(page: Page, cid: str) -> Html | Redirect:
    """Save the incoming guard JQL (``PATCH … {incoming_guard_jql}``; empty: ``null``)."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    typed = _normalized(page.form.get("incoming_guard_jql", ""))
    wanted = typed.strip() or None
    if wanted == c.get("incoming_guard_jql"):
        return Redirect(page.url(f"/connections/{cid}/rules", done="unchanged"))
    answer = client.call("PATCH", api_path("connections", cid), body={"incoming_guard_jql": wanted})
    if answer.ok:
        return Redirect(page.url(f"/connections/{cid}/rules", done="guard"))
    return _rules_page(
        page, cid, guard={"value": typed, "error": sentence(answer)}, status=answer.status
    )


@html_route(console_api, "/connections/{cid}/rules/comments", ["POST"])
def save_comment_visibility(page: Page, cid: str) -> Html | Redirect:
    """Save who may read internal comments (``PATCH … {private_comment_visibility}``; an
    empty name: ``null``, the default)."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    kind = page.form.get("visibility_type", "")
    name = page.form.get("visibility_value", "")
    wanted = {"type": kind, "value": name.strip()} if name.strip() else None
    stored = c.get("private_comment_visibility") or DEFAULT_VISIBILITY
    if (wanted or DEFAULT_VISIBILITY) == stored:
        return Redirect(page.url(f"/connections/{cid}/rules", done="unchanged"))
    answer = client.call(
        "PATCH", api_path("connections", cid), body={"private_comment_visibility": wanted}
    )
    if answer.ok:
        return Redirect(page.url(f"/connections/{cid}/rules", done="comments"))
    return _rules_page(
        page,
        cid,
        visibility={"type": kind, "value": name, "error": sentence(answer)},
        status=answer.status,
    )


# --- Test run ------------------------------------------------------------------------------

CHANGE_WORDS = {
    "summary": "Summary",
    "description": "Description",
    "type": "Issue type",
    "labels": "Labels",
    "priority": "Priority",
    "status": "Status",
    "fields": "Custom fields",
    "comments": "Comments",
    "attachments": "Attachments",
}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _name(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("name") or "\u2014")
    return "\u2014" if value in (None, "") else str(value)


def _replica_rows(replica: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The replica's parts people read first, as (label, value) rows."""
    if not replica:
        return []
    description = replica.get("description")
    text = description.get("value") if isinstance(description, Mapping) else description
    return [
        ("Issue", f"{replica.get('key', '')} (version {replica.get('version', '?')})"),
        ("Summary", _name(replica.get("summary"))),
        ("Issue type", _name(replica.get("type"))),
        ("Description", _pretty(text) if isinstance(text, dict | list) else _name(text)),
        ("Labels", ", ".join(replica.get("labels") or []) or "\u2014"),
        ("Priority", _name(replica.get("priority"))),
        ("Status", _name(replica.get("status"))),
        ("Comments", str(len(replica.get("comments") or []))),
        ("Attachments", str(len(replica.get("attachments") or []))),
        ("Custom fields", _pretty(replica.get("fields")) if replica.get("fields") else "\u2014"),
    ]


def _test_result(body: Mapping[str, Any], incoming: bool) -> dict[str, Any]:
    log = body.get("log") or {}
    return {
        "incoming": incoming,
        "replica_rows": _replica_rows(body.get("replica")),
        "replica_json": _pretty(body.get("replica")),
        "changes": [CHANGE_WORDS.get(c, c) for c in body.get("changes") or []],
        "plan_json": _pretty(body["plan"]) if body.get("plan") else None,
        "first_sync": body.get("first_sync"),
        "skipped": body.get("skipped"),
        "log": [("Outgoing", line) for line in log.get("outgoing") or []]
        + [("Incoming", line) for line in log.get("incoming") or []],
    }


@html_route(console_api, "/connections/{cid}/rules/test-run", ["POST"])
def test_run(page: Page, cid: str) -> Html:
    """Run the rules for one issue (and a replica): ``POST …/test-run``; writes nothing."""
    key = page.form.get("issue_key", "").strip()
    replica_text = _normalized(page.form.get("replica", "")).strip()
    test: dict[str, Any] = {"issue_key": key, "replica_text": replica_text, "result": None}
    body: dict[str, Any] = {"issue_key": key}
    if replica_text:
        try:
            body["replica"] = json.loads(replica_text)
        except ValueError as exc:
            return _rules_page(
                page,
                cid,
                test=test,
                error=f"The replica is not valid JSON ({exc}). Fix it, or leave it empty.",
                status=400,
            )
    answer = api(page).post(api_path("connections", cid, "test-run"), body)
    if not answer.ok:
        found = _script_problem(answer)
        problem = (*found, _script_sentence(answer, found)) if found else None
        return _rules_page(
            page,
            cid,
            test=test,
            problem=problem,
            error=problem[3] if problem else sentence(answer),
            status=answer.status,
        )
    test["result"] = _test_result(answer.body, bool(replica_text))
    return _rules_page(page, cid, test=test)


# --- Versions ------------------------------------------------------------------------------


def _what_changed(before: str | None, after: str | None) -> tuple[str, str]:
    """``+2 −1 lines`` and the unified diff, from the version before (same page)."""
    import difflib  # only this page needs it; every function imports the console's routes

    old, new = (before or "").split("\n"), (after or "").split("\n")
    diff = list(difflib.unified_diff(old, new, "before", "after", lineterm="", n=1))
    added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
    removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
    return f"+{added} \u2212{removed} lines", "\n".join(diff[2:])


def _script_versions(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    previous: dict[str, str | None] = {}
    for item in items:
        name = str(item.get("script"))
        text = item.get("text")
        if item.get("by") == "default":
            summary, diff = "the starting scripts (what Basic does)", ""
        elif name in previous:
            summary, diff = _what_changed(previous[name], text)
        else:
            summary, diff = "an earlier version is on the previous page", ""
        previous[name] = text
        rows.append(
            {
                **item,
                "label": SCRIPT_LABELS.get(name, name),
                "changed": summary,
                "diff": diff,
            }
        )
    return rows


@html_route(console_api, "/connections/{cid}/rules/versions", ["GET"])
def versions(page: Page, cid: str) -> Html:
    """The kept versions of the scripts and mappings, oldest first (``…/rules/history``)."""
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    query = {"limit": PAGE_SIZE}
    if page.query.get("cursor"):
        query["cursor"] = page.query["cursor"]
    answer = client.get(api_path("connections", cid, "rules", "history"), **query)
    history = answer.body if answer.ok else {"scripts": [], "mappings": []}
    return Html(
        "rules_versions.html",
        {
            **connection_context(cid, c, "rules"),
            "scripts": _script_versions(list(history.get("scripts") or [])),
            "mappings": [
                {**m, "json": _pretty(m.get("mappings"))} for m in history.get("mappings") or []
            ],
            "next": answer.next_cursor if answer.ok else None,
            "error": None if answer.ok else sentence(answer),
        },
        status=200 if answer.ok else answer.status,
    )


# --- Basic → Script ------------------------------------------------------------------------


def _upgrade_page(page: Page, cid: str, *, error: str | None = None, status: int = 200) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    return Html(
        "rules_upgrade.html",
        {
            **connection_context(cid, c, "rules"),
            "error": error,
        },
        status=status,
    )


@html_route(console_api, "/connections/{cid}/rules/upgrade", ["GET"])
def upgrade_confirm(page: Page, cid: str) -> Html:
    return _upgrade_page(page, cid)


@html_route(console_api, "/connections/{cid}/rules/upgrade", ["POST"])
def upgrade(page: Page, cid: str) -> Html | Redirect:
    """Upgrade to Script: ``POST …/upgrade {"mode": "script"}`` (one way)."""
    answer = api(page).post(api_path("connections", cid, "upgrade"), {"mode": "script"})
    if not answer.ok:
        return _upgrade_page(page, cid, error=sentence(answer), status=answer.status)
    return Redirect(page.url(f"/connections/{cid}/rules", done="upgraded"))


# --- Visual mode: the mapping document, one block at a time ---------------------------------


def _side_label(c: Mapping[str, Any], side: str) -> str:
    if side == "local":
        return f"This side ({c.get('local_short_name')})"
    return f"The other side ({c.get('remote_label')})"


def _block_title(c: Mapping[str, Any], side: str, direction: str) -> str:
    return f"{_side_label(c, side)}: {direction}"


def _values_text(values: Mapping[str, Any] | None) -> str:
    return "\n".join(f"{k} = {'' if v is None else v}".rstrip() for k, v in (values or {}).items())


def _row_view(item: Mapping[str, Any], index: int, direction: str) -> dict[str, Any]:
    """One stored field mapping as the block editor shows it."""
    name = str(item.get("field"))
    default = item.get("default", ...)
    other = "keep" if default is ... else ("drop" if default is None else "default")
    max_size = item.get("max_size")
    return {
        "i": index,
        "field": name,
        "label": FIELD_LABELS.get(name, name),
        "values_text": _values_text(item.get("values")),
        "other": other,
        "default": default if isinstance(default, str) else "",
        "local": item.get("local") or "",
        "remote": item.get("remote") or "",
        "public": bool(item.get("public", True)),
        "only_public": bool(item.get("only_public", False)),
        "max_size": "" if max_size is None else str(max_size),
        "on_conflict": item.get("on_conflict", "later"),
        "remove": False,
        "has_values": name in VALUE_FIELDS,
        "has_default": name in DEFAULT_FIELDS,
        "create_missing": bool(item.get("create_missing", False)),
        "has_create_missing": direction == "incoming" and name in CREATE_MISSING_FIELDS,
        "has_conflict": direction == "incoming" and name in CONFLICT_MAPPINGS_ALL,
        "stored": dict(item),
    }


def _field_label(item: Mapping[str, Any]) -> str:
    name = str(item.get("field"))
    return FIELD_LABELS.get(name, name)


def _describe_row(item: Mapping[str, Any], direction: str) -> str:
    """What one field mapping does, in words (for the summary on the Rules tab)."""
    row = _row_view(item, 0, direction)
    parts = []
    if row["field"] == "custom":
        parts.append(f"{row['local']} \u2194 {row['remote']}")
    if item.get("values"):
        parts.append(
            ", ".join(
                f"{k} \u2192 {'(dropped)' if v is None else v}" for k, v in item["values"].items()
            )
        )
    if row["has_default"] and row["other"] != "keep":
        parts.append(
            "other values are dropped"
            if row["other"] == "drop"
            else f"other values \u2192 {row['default']}"
        )
    if row["field"] == "comments":
        public = row["public"] if direction == "incoming" else not row["only_public"]
        parts.append(
            ("written as public" if public else "written as internal")
            if direction == "incoming"
            else ("all comments" if public else "only public comments")
        )
    if row["max_size"]:
        parts.append(f"up to {row['max_size']} bytes")
    if row["has_create_missing"] and row["create_missing"]:
        parts.append("names missing here are created")
    if row["on_conflict"] == "keep":
        parts.append("this block's side wins conflicts")
    return "; ".join(parts)


def _stored_block(c: Mapping[str, Any], side: str, direction: str) -> dict[str, Any] | None:
    for block in c.get("mappings") or []:
        if block.get("side", "local") == side and block.get("direction") == direction:
            return dict(block)
    return None


def _block_summaries(c: Mapping[str, Any]) -> list[dict[str, Any]]:
    summaries = []
    for side in SIDES:
        for direction in DIRECTIONS:
            block = _stored_block(c, side, direction)
            summaries.append(
                {
                    "side": side,
                    "direction": direction,
                    "title": _block_title(c, side, direction),
                    "block": block,
                    "sync": dict(SYNC_METHODS).get((block or {}).get("sync", "automatic")),
                    "scope": [
                        (label, ", ".join((block or {}).get("scope", {}).get(name) or []))
                        for name, label in SCOPES
                        if ((block or {}).get("scope") or {}).get(name)
                    ],
                    "rows": [
                        (_field_label(f), _describe_row(f, direction))
                        for f in (block or {}).get("fields") or []
                    ],
                }
            )
    return summaries


def _block_page(
    page: Page,
    cid: str,
    side: str,
    direction: str,
    *,
    form_block: Mapping[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Html:
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    if form_block is None:
        stored = _stored_block(c, side, direction)
        fields = (stored or {}).get("fields")
        if stored is None or fields is None:
            fields = [{"field": name} for name in BASIC_FIELDS]
        form_block = {
            "enabled": stored is not None,
            "sync": (stored or {}).get("sync", "automatic"),
            "scope": {
                name: ", ".join(((stored or {}).get("scope") or {}).get(name) or [])
                for name, _ in SCOPES
            },
            "rows": [_row_view(f, i, direction) for i, f in enumerate(fields)],
            "new": {
                "field": "",
                "values_text": "",
                "other": "keep",
                "default": "",
                "local": "",
                "remote": "",
                "create_missing": False,
            },
        }
    return Html(
        "rules_block.html",
        {
            **connection_context(cid, c, "rules"),
            "side": side,
            "direction": direction,
            "title": _block_title(c, side, direction),
            "b": form_block,
            "sync_methods": SYNC_METHODS,
            "scopes": SCOPES,
            "field_labels": FIELD_LABELS,
            "other_values": OTHER_VALUES,
            "new_fields": [(k, v) for k, v in FIELD_LABELS.items()],
            "error": error,
        },
        status=status,
    )


def _checked_slot(side: str, direction: str) -> None:
    if side not in SIDES or direction not in DIRECTIONS:
        raise FormProblem("There is no such block of mappings.")


@html_route(console_api, "/connections/{cid}/rules/mappings/{side}/{direction}", ["GET"])
def edit_block(page: Page, cid: str, side: str, direction: str) -> Html:
    try:
        _checked_slot(side, direction)
    except FormProblem as exc:
        return _rules_page(page, cid, error=str(exc), status=404)
    return _block_page(page, cid, side, direction)


def _parse_values(text: str, label: str) -> dict[str, str | None]:
    """``Bug = Problem`` per line (``Bug =`` drops it) → a value map."""
    values: dict[str, str | None] = {}
    for raw in _normalized(text).split("\n"):
        line = raw.strip()
        if not line:
            continue
        source, sep, target = line.partition("=")
        if not sep or not source.strip():
            raise FormProblem(
                f"Check the value map of \u201c{label}\u201d: write each line as "
                f"\u201cvalue = new value\u201d (\u201c{line}\u201d is not)."
            )
        values[source.strip()] = target.strip() or None
    return values


def _row_from_form(
    form: Mapping[str, str], prefix: str, direction: str, stored: Any, *, checkboxes: bool = True
) -> dict[str, Any]:
    """A row of the block editor as posted (``checkboxes``: its checkboxes were shown)."""
    name = form.get(f"{prefix}field", "")
    same = isinstance(stored, Mapping) and stored.get("field") == name
    row = _row_view(stored if same else {"field": name}, 0, direction)
    if checkboxes:
        row["public"] = form.get(f"{prefix}public") == "on"
        row["only_public"] = form.get(f"{prefix}only_public") == "on"
        row["create_missing"] = form.get(f"{prefix}create_missing") == "on"
    row.update(
        {
            "values_text": _normalized(form.get(f"{prefix}values", row["values_text"])),
            "other": form.get(f"{prefix}other", row["other"]),
            "default": form.get(f"{prefix}default", row["default"]).strip(),
            "local": form.get(f"{prefix}local", row["local"]).strip(),
            "remote": form.get(f"{prefix}remote", row["remote"]).strip(),
            "max_size": form.get(f"{prefix}max_size", row["max_size"]).strip(),
            "on_conflict": form.get(f"{prefix}on_conflict", row["on_conflict"]),
            "remove": form.get(f"{prefix}remove") == "on",
        }
    )
    return row


# what the block editor shows of a field mapping (the rest of a stored one is kept)
_EDITED_KEYS = frozenset(
    {"values", "default", "public", "only_public", "max_size", "on_conflict", "create_missing"}
)


def _values_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's value map and what values it does not name become."""
    item: dict[str, Any] = {}
    if row["field"] in VALUE_FIELDS:
        values = _parse_values(row["values_text"], row["label"])
        if values:
            item["values"] = values
    if row["field"] in DEFAULT_FIELDS:
        if row["other"] == "drop":
            item["default"] = None
        elif row["other"] == "default":
            if not row["default"]:
                raise FormProblem(
                    f"Check \u201c{row['label']}\u201d: write the default value, or choose "
                    "that values not listed stay as they are."
                )
            item["default"] = row["default"]
    return item


def _row_json(row: Mapping[str, Any], direction: str) -> dict[str, Any]:
    """A field mapping for the API from the editor's row (what it does not show is kept)."""
    name = row["field"]
    item: dict[str, Any] = {
        k: v for k, v in dict(row.get("stored") or {}).items() if k not in _EDITED_KEYS
    }
    item["field"] = name
    item.update(_values_json(row))
    if name == "custom":
        item["local"], item["remote"] = row["local"], row["remote"]
    if name == "comments":
        if direction == "incoming":
            item["public"] = bool(row["public"])
        else:
            item["only_public"] = bool(row["only_public"])
    if name == "attachments" and row["max_size"]:
        if not row["max_size"].isdigit():
            raise FormProblem("Check \u201cLargest attachment (bytes)\u201d: write a number.")
        item["max_size"] = int(row["max_size"])
    if row.get("has_conflict") and row.get("on_conflict") == "keep":
        item["on_conflict"] = "keep"
    if row.get("has_create_missing") and row.get("create_missing"):
        item["create_missing"] = True
    return item


def _block_from_form(
    form: Mapping[str, str], direction: str, stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    stored_fields = list((stored or {}).get("fields") or [])
    rows = []
    i = 0
    while f"f{i}_field" in form:
        previous = stored_fields[i] if i < len(stored_fields) else None
        row = _row_from_form(form, f"f{i}_", direction, previous)
        row["i"] = i
        rows.append(row)
        i += 1
    new = {
        "field": form.get("new_field", ""),
        "values_text": _normalized(form.get("new_values", "")),
        "other": form.get("new_other", "keep"),
        "default": form.get("new_default", "").strip(),
        "local": form.get("new_local", "").strip(),
        "remote": form.get("new_remote", "").strip(),
        "create_missing": form.get("new_create_missing") == "on",
    }
    return {
        "enabled": form.get("enabled") == "on",
        "sync": form.get("sync", "automatic"),
        "scope": {name: form.get(f"scope_{name}", "") for name, _ in SCOPES},
        "rows": rows,
        "new": new,
    }


def _block_json(form_block: Mapping[str, Any], side: str, direction: str) -> dict[str, Any]:
    fields = [_row_json(r, direction) for r in form_block["rows"] if not r["remove"]]
    new = form_block["new"]
    if new["field"]:
        row = _row_from_form(
            {
                "n_field": new["field"],
                "n_values": new["values_text"],
                "n_other": new["other"],
                "n_default": new["default"],
                "n_local": new["local"],
                "n_remote": new["remote"],
            },
            "n_",
            direction,
            None,
            checkboxes=False,
        )
        row["create_missing"] = bool(new.get("create_missing"))
        fields.append(_row_json(row, direction))
    scope = {
        name: [v.strip() for v in text.split(",") if v.strip()]
        for name, text in form_block["scope"].items()
    }
    return {
        "side": side,
        "direction": direction,
        "sync": form_block["sync"],
        "scope": {k: v for k, v in scope.items() if v},
        "fields": fields,
    }


def _mappings_sentence(answer: ApiAnswer, c: Mapping[str, Any], document: list[Any]) -> str:
    """``mappings_invalid`` names a path (``mappings[1].fields[2].values``): in words."""
    if answer.code != "mappings_invalid":
        return sentence(answer)
    path = answer.field or ""
    found = re.match(r"mappings\[(\d+)\](?:\.fields\[(\d+)\])?", path)
    reason = answer.message.split(": ", 1)[-1] if ": " in answer.message else answer.message
    if not found or int(found.group(1)) >= len(document):
        return f"The mappings were not saved: {reason}"
    block = document[int(found.group(1))]
    where = _block_title(c, block["side"], block["direction"])
    if found.group(2) is not None and int(found.group(2)) < len(block.get("fields") or []):
        item = block["fields"][int(found.group(2))]
        where += f", {FIELD_LABELS.get(item.get('field'), item.get('field'))}"
    return f"The mappings were not saved ({where}): {reason}"


@html_route(console_api, "/connections/{cid}/rules/mappings/{side}/{direction}", ["POST"])
def save_block(page: Page, cid: str, side: str, direction: str) -> Html | Redirect:
    """Save one block of the mapping document: the whole document with ``PATCH``."""
    try:
        _checked_slot(side, direction)
    except FormProblem as exc:
        return _rules_page(page, cid, error=str(exc), status=404)
    client = api(page)
    c = read_connection(client, cid)
    if isinstance(c, Html):
        return c
    stored = _stored_block(c, side, direction)
    form_block = _block_from_form(page.form, direction, stored)
    try:
        mine = _block_json(form_block, side, direction) if form_block["enabled"] else None
    except FormProblem as exc:
        return _block_page(
            page, cid, side, direction, form_block=form_block, error=str(exc), status=400
        )
    document = []
    for s in SIDES:
        for d in DIRECTIONS:
            block = mine if (s, d) == (side, direction) else _stored_block(c, s, d)
            if block is not None:
                document.append(block)
    answer = client.call("PATCH", api_path("connections", cid), body={"mappings": document})
    if not answer.ok:
        return _block_page(
            page,
            cid,
            side,
            direction,
            form_block=form_block,
            error=_mappings_sentence(answer, c, document),
            status=answer.status,
        )
    return Redirect(page.url(f"/connections/{cid}/rules", done="mappings") + "#mappings")
