"""The OpenAPI document is valid, covers exactly the app's routes, and is served.

Answers themselves are checked against it in every test that receives one
(``tests/contract_check.py``, wired in ``tests/conftest.py``).
"""

from __future__ import annotations

import json

import pytest
import yaml

from chalicelib.api import openapi
from tests.conftest import admin_headers

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Lists that are not paged: the tracker's projects (a handful, read from the tracker).
NOT_PAGED = frozenset({"/api/v1/projects"})


# The admin console's HTML pages (chalicelib/console/) are not the JSON contract: they act
# only through the admin API this document describes (docs/console.md).
CONSOLE = "/console"


def app_operations() -> set[tuple[str, str]]:
    from app import app

    return {
        (path, m.upper())
        for path, entry in app.routes.items()
        for m in entry
        if path != CONSOLE and not path.startswith(CONSOLE + "/")
    }


def document_operations() -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in openapi.document()["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_document_is_a_valid_openapi_3_1_document():
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    with openapi.DOCUMENT.open(encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_every_route_of_the_app_is_in_the_document_and_nothing_else():
    in_app, in_document = app_operations(), document_operations()
    undocumented = in_app - in_document
    assert not undocumented, f"routes the document does not describe: {sorted(undocumented)}"
    missing = in_document - in_app
    assert not missing, f"operations the app does not have: {sorted(missing)}"


def test_every_operation_has_an_id_a_summary_and_its_errors_in_the_contract_shape():
    ids = []
    for path, item in openapi.document()["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            ids.append(op["operationId"])
            assert op.get("summary"), where
            for status, response in op["responses"].items():
                if str(status).startswith(("4", "5")):
                    schema = openapi.inline(response)["content"]["application/json"]["schema"]
                    assert schema == openapi.inline({"$ref": "#/components/schemas/Error"}), (
                        f"{where} {status}"
                    )
    assert len(ids) == len(set(ids))


def test_every_list_takes_limit_and_cursor_and_announces_the_next_page():
    for path, item in openapi.document()["paths"].items():
        op = item.get("get")
        if not op:
            continue
        ok = openapi.inline(op["responses"]["200"])
        schema = ok["content"]["application/json"]["schema"]
        if schema.get("type") != "array" or path in NOT_PAGED:
            continue
        names = {p["name"] for p in openapi.inline(op.get("parameters", []))}
        assert {"limit", "cursor"} <= names, path
        assert "Link" in ok.get("headers", {}), path


def test_the_document_is_served_as_json_without_a_token(client):
    response = client.http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    served = json.loads(response.body)
    with openapi.DOCUMENT.open(encoding="utf-8") as f:
        assert served == yaml.safe_load(f)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"mode": "basic"}, "missing_field", "local_short_name"),
        ({**{"mode": "basic"}, "nmae": "x"}, "unknown_field", "nmae"),
        (
            {
                "destination_url": None,
                "mode": "manual",
                "local_short_name": "A",
                "remote_short_name": "B",
                "name": "n",
                "incoming_project": "SUP",
            },
            "invalid_field",
            "mode",
        ),
        ([1, 2], "invalid_body", None),
    ],
)
def test_a_body_that_does_not_fit_the_document_is_refused_at_the_edge_and_changes_nothing(
    client, body, code, field
):
    response = client.http.post(
        "/api/v1/connections", headers=admin_headers(), body=json.dumps(body)
    )
    assert response.status_code == 400
    error = response.json_body["error"]
    assert (error["code"], error.get("field")) == (code, field)
    assert error["message"]
    listed = client.http.get("/api/v1/connections", headers=admin_headers())
    assert listed.json_body == []


def test_the_node_api_checks_the_token_before_the_body(client):
    response = client.http.post(
        "/node/v1/connections/nope/replicas",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"items": "not a list"}),
    )
    assert response.status_code == 401
    assert response.json_body["error"]["code"] == "missing_token"


def test_importing_the_app_reads_no_yaml_and_compiles_no_validator():
    """Cold start: the document is parsed when a request first needs it, not at import."""
    import subprocess
    import sys

    from infra.package import ROOT

    code = "import sys, app; print(sorted({'yaml', 'fastjsonschema'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
