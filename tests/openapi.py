"""Validators from Atlassian's Jira Cloud OpenAPI document, for request and response bodies.

The document (OpenAPI 3.0.1, in ``../shared/data/jira/openapi/``) is read once. Its
schemas are OpenAPI's dialect of JSON Schema; this module turns them into plain JSON
Schema that ``jsonschema`` understands:

- ``nullable: true`` becomes a ``"null"`` alternative;
- ``$ref: #/components/...`` resolves against the document's ``components``;
- direction matters: a property marked ``readOnly`` must not appear in a request and one
  marked ``writeOnly`` must not appear in a response (only checked when ``strict``);
- with ``strict=True`` an object that lists its ``properties`` accepts no others (even
  where Atlassian marks it ``additionalProperties: true``, as for ``IssueUpdateDetails``
  and ``Comment``), so a renamed or invented field fails. Request validators are strict
  by default, response validators are not (Atlassian's own schemas already close most
  response objects).

Usage::

    from tests.openapi import request_validator, response_validator

    request_validator("/rest/api/3/issue", "post").validate(body)
    response_validator("/rest/api/3/issue/{issueIdOrKey}", "get", 200).validate(body)
    schema_validator("IssueBean").validate(body)

Tests skip (through ``jira_data``) when the shared data is not present.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any, Literal

import jsonschema

from tests.shared_data import jira_data

CLOUD_DOCUMENT = "jira-cloud-platform-swagger-v3.v3.json"
Direction = Literal["request", "response"]
_COMBINERS = ("allOf", "anyOf", "oneOf")


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The Jira Cloud platform OpenAPI document, parsed (cached for the session)."""
    with jira_data("openapi", CLOUD_DOCUMENT).open(encoding="utf-8") as f:
        return json.load(f)


def _convert(node: Any, direction: Direction, strict: bool) -> Any:
    """OpenAPI 3.0 schema → JSON Schema (draft 4 semantics, which OpenAPI 3.0 follows)."""
    if isinstance(node, list):
        return [_convert(item, direction, strict) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value, direction, strict) for key, value in node.items()}
    if strict and isinstance(out.get("properties"), dict):
        hidden = "readOnly" if direction == "request" else "writeOnly"
        out["properties"] = {
            name: prop
            for name, prop in out["properties"].items()
            if not (isinstance(prop, dict) and prop.get(hidden))
        }
        open_ended = out.get("additionalProperties", True) is True
        if open_ended and not any(c in out for c in _COMBINERS):
            out["additionalProperties"] = False
    if out.pop("nullable", False):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=4)
def _components(direction: Direction, strict: bool) -> dict[str, Any]:
    return _convert(copy.deepcopy(document()["components"]), direction, strict)


def _validator(schema: Any, direction: Direction, strict: bool) -> jsonschema.Draft4Validator:
    root = {
        "allOf": [_convert(copy.deepcopy(schema), direction, strict)],
        "components": _components(direction, strict),
    }
    return jsonschema.Draft4Validator(root)


def _operation(path: str, method: str) -> dict[str, Any]:
    paths = document()["paths"]
    if path not in paths or method.lower() not in paths[path]:
        raise KeyError(f"the Jira Cloud OpenAPI document has no {method.upper()} {path}")
    return paths[path][method.lower()]


def _json_schema(content: dict[str, Any], what: str) -> Any:
    for media_type, entry in content.items():
        if "json" in media_type:
            return entry.get("schema", {})
    raise KeyError(f"{what} has no JSON body in the OpenAPI document")


def request_validator(path: str, method: str, *, strict: bool = True) -> jsonschema.Draft4Validator:
    """A validator for the JSON request body of ``method path`` (path as in the document)."""
    operation = _operation(path, method)
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema = _json_schema(content, f"{method.upper()} {path} request")
    return _validator(schema, "request", strict)


def response_validator(
    path: str, method: str, status: int | str, *, strict: bool = False
) -> jsonschema.Draft4Validator:
    """A validator for the JSON response body of ``method path`` with ``status``."""
    operation = _operation(path, method)
    response = operation.get("responses", {}).get(str(status))
    if response is None:
        raise KeyError(f"{method.upper()} {path} documents no {status} response")
    schema = _json_schema(response.get("content") or {}, f"{method.upper()} {path} {status}")
    return _validator(schema, "response", strict)


def schema_validator(
    name: str, *, direction: Direction = "response", strict: bool = False
) -> jsonschema.Draft4Validator:
    """A validator for one named schema under ``components/schemas``."""
    return _validator({"$ref": f"#/components/schemas/{name}"}, direction, strict)


def errors(validator: jsonschema.Draft4Validator, instance: Any) -> list[str]:
    """Every validation error as ``path: message`` (empty when the instance is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]
