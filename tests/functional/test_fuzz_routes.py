"""Hostile input on every route: every answer is a 2xx or a 4xx in the contract's shape.

Issue 13 (items 4-8) found 500s for inputs no client sends: JSON nested 950 deep, lone
UTF-16 surrogates, unparsable URLs, ids longer than a DynamoDB key, odd webhook shapes.
This property keeps the whole HTTP surface free of them:

- the routes are derived from ``app.routes`` (as in ``test_fresh_process.py``), so a route
  added later is fuzzed without editing this file;
- hypothesis draws, per call: the body (JSON built from the contract's field names and
  hostile values: surrogates, NUL, bidi and astral characters, 100,000-character strings,
  huge and non-finite numbers, URLs that do not parse; or raw bytes: deep nesting, invalid
  UTF-8, truncated JSON, sizes up to past the body cap), path parameters (a real
  connection's id, unknown ids, hostile text), query parameters and headers (no token, the
  admin token, a bogus or hostile bearer, odd content types, a signature for webhooks);
- one node on moto with an in-memory tracker, and an active local connection so the
  views do real work; no network (the fetcher answers "unreachable").

``derandomize=True`` makes CI deterministic; the default run sends a few examples per
route, the ``slow`` one many more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_TOKEN, WEBHOOK_SECRET, admin_headers, node_env


def the_routes() -> list[tuple[str, str]]:
    from app import app

    return [(method, path) for path, methods in sorted(app.routes.items()) for method in methods]


ROUTES = the_routes()

# Field names the contract's bodies use, so drawn objects get past "unknown field".
FIELDS = [
    "destination_url", "mode", "local_short_name", "remote_short_name", "name",
    "description", "incoming_project", "admin_access", "destination_incoming_project",
    "invitation_code", "outgoing_script", "incoming_script", "mappings",
    "incoming_guard_jql", "conflict_rules", "issue_key", "local_key", "remote_key", "jql",
    "private_comment_visibility", "user_map", "user_fallback", "hierarchy",
    "pairs", "active", "note", "replica", "items", "upto", "status", "reason", "policy",
    "protocol", "invitation_id", "connection_id", "node_id", "short_name", "proof", "url",
    "id", "key", "twin_key", "version", "summary", "comments", "attachments", "fields",
    "stamps", "repair", "removed", "removal", "webhookEvent", "issue", "changelog",
    "comment", "attachment", "user", "timestamp", "kind", "fix", "field", "twins",
]  # fmt: skip

HOSTILE_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00in the middle",
    "\u202e\u200b\ufeff",
    "\U0001f600" * 300,
    "x" * 100_000,
    "http://[::1",
    "http://[::1]:99999/",
    "https://127.0.0.1/",
    "file:///etc/passwd",
    "../../etc/passwd",
    "' OR '1'='1",
    'project = "x" OR key = ABC-1',
    "basic",
    "script",
    "SUP",
    "SUP-1",
    "TS1.e30.00000000",
    " ",
    "",
]
NUMBERS = [0, -1, 2**63, 2**1000, 10**4000, 1e308, -0.0, 0.5]


def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates included
    )


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(NUMBERS), st.integers(), st.floats(), text()
    )


def json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(FIELDS), text()), inner, max_size=5),
        ),
        max_leaves=12,
    )


def objects() -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the contract's field names (the common case), hostile values."""
    return st.dictionaries(st.sampled_from(FIELDS), json_values(), max_size=8)


def deep(depth: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    return opener * depth + b"1" + closer * depth


def raw_bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(
            deep, st.sampled_from([65, 950, 5000, 200_000]), st.sampled_from([b"[", b'{"a":'])
        ),
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 (invalid)
                b'{"a": NaN}',
                b'{"a": Infinity}',
                b'{"upto": 1e400}',
                b'{"a": "\\ud800"}',
                b'{"\\udc00": 1}',
                b'{"a": 1',
                b"[" * 2000,
                b'"' + b"x" * 1_100_000 + b'"',  # past the body cap
                b"\xff\xfe{\x00}\x00",  # UTF-16 with a BOM
            ]
        ),
    )


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: surrogates travel as \\ud800 escapes


def bodies() -> st.SearchStrategy[bytes]:
    return st.one_of(
        objects().map(encoded),
        json_values().map(encoded),
        raw_bodies(),
    )


def path_values(real_cid: str) -> st.SearchStrategy[str]:
    """A path segment: the real connection, an unknown id, or hostile text (no '/?#')."""
    return st.one_of(
        st.sampled_from([real_cid, "conn-unknown", "SUP-1", "1"]),
        text().map(lambda t: re.sub(r"[/?#%]", "", t) or "x"),
        st.just("x" * 5000),
    )


def bearer_headers() -> st.SearchStrategy[dict[str, str]]:
    return st.one_of(
        st.just({}),
        st.just({"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        st.just({"Authorization": "Bearer not-a-token-of-this-connection"}),
        st.just({"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}),  # alg none
        text().map(lambda t: {"Authorization": f"Bearer {t}"}),
        text().map(lambda t: {"X-Odd": t}),
    )


CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "text/plain", None]


@st.composite
def calls(draw: st.DrawFn, method: str, path: str, real_cid: str) -> dict[str, Any]:
    if method == "DELETE" and path == "/api/v1/connections/{cid}":
        real_cid = "conn-unknown"  # keep the connection for the other routes
    concrete = re.sub(r"\{(\w+)\}", lambda m: draw(path_values(real_cid)), path)
    query = draw(
        st.dictionaries(
            st.sampled_from(["after", "wait", "limit", "format", "connection_id", "secret"]),
            st.one_of(st.sampled_from(["0", "-1", "1e400", "NaN", "jsonl", "99999999999"]), text()),
            max_size=3,
        )
    )
    if query:
        concrete += "?" + "&".join(
            f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in query.items()
        )
    body = draw(bodies()) if method not in ("GET", "DELETE") or draw(st.booleans()) else b""
    headers = dict(draw(bearer_headers()))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type:
        headers["Content-Type"] = content_type
    if path.startswith("/webhooks/") and draw(st.booleans()):
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
        headers["X-Atlassian-Webhook-Identifier"] = draw(text())
    return {"method": method, "path": concrete, "headers": headers, "body": body}


# --- the node -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_node() -> Iterator[tuple[Any, str]]:
    """A node on moto with an in-memory tracker and an active local connection; no network."""
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib.net.errors import Unreachable
    from chalicelib.root import Providers, root, use_providers
    from chalicelib.root import reset as root_reset
    from devstack.aws import create_node_resources
    from tests.factories.memory_tracker import MemoryTracker

    tracker = MemoryTracker.with_projects("SUP", "DEV")
    tracker.add_issue("SUP", summary="an issue")

    def no_network(method: str, url: str, **_: Any) -> Any:
        raise Unreachable(f"{method} {url[:60]}: no network in this test")

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        for key, value in {**node_env(), **create_node_resources("fuzz-node")}.items():
            patch.setenv(key, value)
        root_reset()
        providers = Providers(tracker=lambda _: tracker, fetcher=lambda _: no_network)
        with use_providers(providers), Client(app) as client:
            root()
            created = client.http.post(
                "/api/v1/connections",
                headers=admin_headers(),
                body=encoded(
                    {
                        "destination_url": os.environ["TWINSYNC_PUBLIC_URL"],
                        "mode": "basic",
                        "local_short_name": "A",
                        "remote_short_name": "B",
                        "name": "fuzzed",
                        "incoming_project": "SUP",
                        "destination_incoming_project": "DEV",
                    }
                ),
            )
            assert created.status_code == 201, created.body
            yield client, json.loads(created.body)["connection"]["id"]
        root_reset()


def send(client: Any, call: dict[str, Any]) -> None:
    response = client.http.request(
        call["method"], call["path"], headers=call["headers"], body=call["body"]
    )
    status = response.status_code
    shown = f"{call['method']} {call['path'][:200]!r} → {status}: {response.body[:500]!r}"
    assert status < 500, shown
    if call["path"].startswith("/console"):
        return  # the console's HTML pages (chalicelib/console/) are not the JSON contract
    if status >= 400:
        error = json.loads(response.body)["error"]
        assert isinstance(error["code"], str) and re.fullmatch(r"[a-z0-9_]+", error["code"]), shown
        assert isinstance(error["message"], str) and error["message"], shown


def fuzz(client: Any, cid: str, method: str, path: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=calls(method, path, cid))
    def every_answer_is_2xx_or_a_contract_4xx(call: dict[str, Any]) -> None:
        send(client, call)

    every_answer_is_2xx_or_a_contract_4xx()


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_hostile_input_gets_no_5xx(fuzz_node, method, path):
    client, cid = fuzz_node
    fuzz(client, cid, method, path, examples=12)


@pytest.mark.slow
@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_hostile_input_gets_no_5xx_many_examples(fuzz_node, method, path):
    client, cid = fuzz_node
    fuzz(client, cid, method, path, examples=300)
