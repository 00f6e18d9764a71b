"""The key catalogue builds the very strings stored before it existed, and it is the only
module that spells a namespace."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chalicelib.store import namespaces as ns

CHALICELIB = Path(__file__).resolve().parents[3] / "chalicelib"
CATALOGUE = CHALICELIB / "store" / "namespaces.py"

# (built key, the string the modules wrote before the catalogue)
EXAMPLES = [
    # keys table
    (ns.claim_key("c1", "B-7"), "claim#c1#B-7"),
    (ns.tomb_key("c1", "A-1"), "tomb#c1#A-1"),
    (ns.policy_key("c1"), "policy#c1"),
    (ns.pull_cursor_key("c1"), "pull#c1"),
    (ns.poll_state_key("c1"), "poll#c1"),
    (ns.hook_key("d-9"), "hook#d-9"),
    (ns.hook_body_key("ab12"), "hook-body#ab12"),
    (ns.replica_seen_key("c1", "r-3"), "replica#c1#r-3"),
    (ns.refused_key("c1", "B-7"), "refused#c1#B-7"),
    (ns.status_pull_cursor_key("c1"), "tstat-pull#c1"),
    (ns.RECONCILE_CURSOR, "reconcile#cursor"),
    (ns.RECONCILE_STATUS, "reconcile#status"),
    (ns.peer_contact_key("c1"), "peer#c1"),
    (ns.peer_failure_key("c1"), "peer-failed#c1"),
    (ns.NOTIFY_WEBHOOKS, "notify-hooks"),
    (ns.INTEGRATION_USER, "integration-user"),
    (ns.notify_key("issue_error", "c1"), "notify#issue_error#c1"),
    (ns.BUDGET_PAUSE, "budget#pause"),
    (ns.BUDGET_JOBS_ON, "budget#jobs-on"),
    (ns.budget_usage_key(28_000_000), "budget#use#28000000"),
    (ns.budget_jobs_key(28_000_000), "budget#jobs#28000000"),
    (ns.jti_key("node-b", "j-1"), "jti#node-b#j-1"),
    (ns.connection_name_key("acme"), "conn-name#acme"),
    (ns.connection_tomb_key("c1"), "conn-tomb#c1"),
    (ns.seq_key("c1#out"), "seq#c1#out"),
    (ns.console_session_key("ab12"), "console#ab12"),
    (ns.job_key("j1"), "job#j1"),
    (ns.job_chunk_key("j1", 2), "job#j1#c#2"),
    (ns.job_cancel_key("j1"), "job#j1#cancel"),
    (ns.job_findings_key("j1", 0), "job#j1#d#0"),
    (ns.parent_wait_key("c1", "B-7"), "wait#c1#B-7"),
    # events table
    (ns.ERRORS_PK, "err"),
    (ns.AUDIT_PK, "audit"),
    (ns.TRIGGERS_PK, "trig"),
    (ns.JOBS_PK, "jobs"),
    (ns.history_pk("c1", "A-1"), "hist#c1#A-1"),
    (ns.trigger_sk("c1", "t1"), "c1#t1"),
    (ns.triggers_of_prefix("c1"), "c1#"),
    (ns.jobs_pk("c1"), "jobs#c1"),
    (ns.status_log_pk("c1"), "tstat#c1"),
    # entries table
    (ns.outbox_pk("c1"), "c1#out"),
    (ns.inbox_pk("c1"), "c1#in"),
    (ns.seq_key(ns.outbox_pk("c1")), "seq#c1#out"),
    # queue groups and deduplication ids
    (ns.ingest_group("A-1"), "issue#A-1"),
    (ns.ingest_group(str(None)), "issue#None"),
    (ns.deliver_group("c1", "A-1"), "c1#A-1"),
    (ns.apply_group("c1", "B-7"), "c1#r#B-7"),
    (ns.job_group("j1"), "job#j1"),
    (ns.teardown_group("c1"), "teardown#c1"),
    (ns.hook_dedup("d-9"), "hook#d-9"),
    (
        ns.reconcile_dedup("A-1", "2024-05-01T10:00:00.000+0000"),
        "rec#A-1#2024-05-01T10:00:00.000+0000",
    ),
    (ns.sync_dedup("c1", "A-1", 1714557600.25), "sync#c1#A-1#1714557600.25"),
    (ns.job_item_dedup("j1", "A-1"), "job#j1#A-1"),
    (ns.job_step_dedup("j1", 3), "job#j1#3"),
    (ns.teardown_dedup("c1", None), "teardown#c1#"),
    (ns.teardown_dedup("c1", "OPS-9"), "teardown#c1#OPS-9"),
    (ns.outbox_dedup("c1", 12), "out#c1#12"),
    (ns.inbox_dedup("c1", "r-3"), "in#c1#r-3"),
    (ns.resume_out_dedup("c1", 12, 28_571_000), "resume#out#c1#12#28571000"),
    (ns.resume_in_dedup("c1", 12, 28_571_000), "resume#in#c1#12#28571000"),
    (ns.parent_dedup("c1", 12, "B-7", 5), "parent#c1#12#B-7#5"),
    (ns.retry_dedup("e-1", 1714557600.5), "retry#e-1#1714557600.5"),
]


@pytest.mark.parametrize(("built", "stored"), EXAMPLES, ids=[e[1] for e in EXAMPLES])
def test_catalogue_builds_the_stored_strings(built: str, stored: str) -> None:
    assert built == stored


def test_every_name_of_the_catalogue_has_an_example() -> None:
    public = {
        name
        for name, value in vars(ns).items()
        if not name.startswith("_")
        and getattr(value, "__module__", ns.__name__) == ns.__name__
        and (callable(value) or name.isupper())
    }
    used = set(re.findall(r"\bns\.(\w+)", Path(__file__).read_text()))
    assert public <= used


def test_the_docstring_table_names_every_key_namespace() -> None:
    doc = ns.__doc__ or ""
    for _, stored in EXAMPLES:
        prefix = stored.split("#")[0]
        if prefix and not prefix.startswith("c1"):
            assert f"``{prefix}" in doc, prefix


NAMESPACE = re.compile(r"^[a-z][a-z_-]*#")


def _namespace_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants (docstrings aside) and f-strings that start with ``<word>#``."""
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            if isinstance(head, ast.Constant) and NAMESPACE.match(str(head.value)):
                found.append((node.lineno, str(head.value)))
            docstrings.update(id(v) for v in node.values)  # seen as part of the f-string
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and NAMESPACE.match(node.value)
        ):
            found.append((node.lineno, node.value))
    return found


def test_only_the_catalogue_spells_a_namespace() -> None:
    offenders = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        if path == CATALOGUE:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders += [
            f"{path.relative_to(CHALICELIB.parent)}:{line}: {text!r}"
            for line, text in _namespace_literals(tree)
        ]
    assert offenders == [], "build keys with chalicelib.store.namespaces:\n" + "\n".join(offenders)


def test_the_scan_sees_namespace_literals() -> None:
    tree = ast.parse('"""tomb# in a docstring"""\nx = f"tomb#{a}"\ny = "budget#pause"\n')
    assert [text for _, text in _namespace_literals(tree)] == ["tomb#", "budget#pause"]
