"""Response schemas from Atlassian's Jira Cloud OpenAPI document, as plain JSON Schema.

OpenAPI 3.0 schemas are a dialect of JSON Schema draft 4; the converter makes them usable
by ``jsonschema``:

- ``nullable: true`` adds ``null`` to the allowed types (Jira sends ``null`` for empty
  fields where the document says ``nullable``);
- ``$ref`` to ``#/components/schemas/...`` resolves against the document, which is kept
  as the root of every validator;
- OpenAPI-only keywords (``readOnly``, ``discriminator``, ``example``…) are dropped, and
  ``format`` is not enforced (Jira's ``2024-01-02T03:04:05.000+0000`` is not RFC 3339);
- ``additionalProperties`` is honoured exactly as written: most response objects are
  closed (``false``), which is what catches a renamed or invented field. Where Atlassian
  left an object open, the tests add the keys the adapters read as ``required``;
- a few properties the document's own examples show as ``null`` but forgets to mark
  ``nullable`` (changelog items' ``from``/``to``: ``"from":null`` in the example of
  ``GET /issue/{key}/changelog``) are made nullable, and only those (``KNOWN_NULLABLE``).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

import jsonschema

from tests.shared_data import jira_data

KNOWN_NULLABLE = {
    "ChangeDetails": ("from", "fromString", "to", "toString"),
}
DROP = {"readOnly", "writeOnly", "discriminator", "example", "xml", "externalDocs", "deprecated"}


def convert(node: Any) -> Any:
    """One OpenAPI 3.0 schema node as JSON Schema (draft 4 semantics)."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if k not in DROP and k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=1)
def components() -> dict[str, Any]:
    path = jira_data("openapi", "jira-cloud-platform-swagger-v3.v3.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    for name, props in KNOWN_NULLABLE.items():
        for prop in props:
            schemas[name]["properties"][prop]["nullable"] = True
    return {"components": {"schemas": convert(schemas)}}


@lru_cache(maxsize=1)
def paths() -> dict[str, Any]:
    path = jira_data("openapi", "jira-cloud-platform-swagger-v3.v3.json")
    return json.loads(path.read_text(encoding="utf-8"))["paths"]


def schema_validator(
    name: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> jsonschema.Draft4Validator:
    """A validator for ``#/components/schemas/<name>`` (plus the keys we insist on).

    ``optional`` lifts the document's ``required`` for those keys, where Jira documents a
    shape leaving them out: an issue's ``issuelinks`` carry only the other end of each
    ``IssueLink`` (Atlassian's issue linking guide), the schema requires both ends.
    """
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    if optional:
        schema = copy.deepcopy(components()["components"]["schemas"][name])
        schema["required"] = [k for k in schema.get("required", []) if k not in optional]
    if required:
        schema = {"allOf": [schema, {"required": list(required)}]}
    return jsonschema.Draft4Validator({**components(), **schema})


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    operation = paths()[path][method]
    content = operation["responses"][str(status)]["content"]
    return convert(next(iter(content.values()))["schema"])


def response_validator(path: str, method: str, status: int = 200) -> jsonschema.Draft4Validator:
    """A validator for what the document says ``method path`` answers with ``status``."""
    return jsonschema.Draft4Validator({**components(), **response_schema(path, method, status)})


def request_validator(path: str, method: str) -> jsonschema.Draft4Validator:
    content = paths()[path][method]["requestBody"]["content"]
    schema = convert(next(iter(content.values()))["schema"])
    return jsonschema.Draft4Validator({**components(), **schema})


def errors(validator: jsonschema.Draft4Validator, instance: Any) -> list[str]:
    """Every violation as ``path: message`` (empty when valid)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]
