"""The HTTP surface's basics: node info, admin auth, and every error in the contract shape."""

from __future__ import annotations

import json

from tests.conftest import admin_headers


def body(response) -> dict:
    return json.loads(response.body)


def test_node_info_is_open_and_says_what_modes_it_offers(client):
    response = client.http.get("/node/v1/info")
    assert response.status_code == 200
    assert body(response) == {
        "node_id": "node-a",
        "name": "Node A",
        "public": True,
        "protocol": 1,
        "modes": ["basic", "visual", "script"],
    }


def test_admin_reads_the_node_resource_with_its_token(client):
    response = client.http.get("/api/v1/node", headers=admin_headers())
    assert response.status_code == 200
    data = body(response)
    assert data["public_url"] == "https://a.twinsync.test"
    assert data["tracker"] == {"kind": "jira_cloud", "url": "http://127.0.0.1:9"}
    assert "token" not in json.dumps(data).lower()


def test_the_node_resource_says_the_version_pyproject_reads_from_one_place(client):
    import tomllib
    from pathlib import Path

    from chalicelib.version import __version__

    data = body(client.http.get("/api/v1/node", headers=admin_headers()))
    assert data["version"] == __version__
    assert __version__.count(".") == 2
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    version = project["tool"]["setuptools"]["dynamic"]["version"]
    assert version == {"attr": "chalicelib.version.__version__"}


def test_missing_token_is_a_clear_401(client):
    response = client.http.get("/api/v1/node")
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "missing_token"


def test_wrong_token_is_refused(client):
    response = client.http.get("/api/v1/node", headers=admin_headers("nope"))
    assert response.status_code == 401
    assert body(response)["error"]["code"] == "invalid_token"


def test_non_bearer_scheme_is_refused(client):
    response = client.http.get("/api/v1/node", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401


def test_wrong_method_is_a_contract_405(client):
    response = client.http.delete("/node/v1/info")
    assert response.status_code == 405
    error = body(response)["error"]
    assert error["code"] == "method_not_allowed"
    assert "GET" in error["message"]


def test_malformed_json_is_a_400_with_code(client):
    response = client.http.get("/api/v1/node", headers=admin_headers(), body=b"{nope")
    assert response.status_code == 400
    assert body(response)["error"]["code"] == "invalid_json"


def test_oversized_body_is_a_413(client):
    big = json.dumps({"x": "a" * 1_100_000})
    response = client.http.get("/api/v1/node", headers=admin_headers(), body=big)
    assert response.status_code == 413
    assert body(response)["error"]["code"] == "payload_too_large"
