"""The wire contract as data: ``openapi.yaml`` beside this module, read once, lazily.

The OpenAPI 3.1 document is the source of truth of the HTTP contract. This module gives the
edge (:mod:`chalicelib.api.routing`) what it needs from it, and nothing is read before a
request needs it (a cold start of a route that validates no body never parses the YAML):

- :func:`document` and :func:`document_json`: the document, parsed once per process;
- :func:`check_body`: a request body checked against its operation's schema, compiled with
  fastjsonschema on first use and cached per operation; the first failure becomes the
  contract's error (``missing_field``, ``unknown_field``, ``invalid_field`` or
  ``invalid_body``, or the code a schema names with ``x-error-code``), with ``field`` the
  JSON path of the culprit (``mappings[0].local``);
- :func:`inline`: a schema with its ``$ref`` resolved (the tests validate answers with it).

Only ``POST``, ``PUT`` and ``PATCH`` carry bodies in this contract, so other requests never
make the process read the document. Unknown fields are reported before anything else at the
top level, as the views do: the most useful answer to ``{"nmae": "x"}`` is that ``nmae`` is
unknown, not that ``name`` is missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.errors import BadRequest

DOCUMENT = Path(__file__).with_name("openapi.yaml")
ERROR_CODE = "x-error-code"  # a schema's own code for failures at or below it
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Validator = Callable[[Any], Any]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document, parsed on first use (then kept for the process)."""
    import yaml  # only the routes that need the document pay for the parser

    # libyaml's loader (in PyYAML's wheels) reads it in ~35 ms, the pure-Python one ~300 ms
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with DOCUMENT.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    return loaded


@cache
def document_json() -> str:
    """The document as the JSON ``GET /api/v1/openapi.json`` answers."""
    return json.dumps(document(), separators=(",", ":"))


def operation(path: str, method: str) -> dict[str, Any] | None:
    """The operation object of ``method`` on the path template ``path``, if documented."""
    item = document().get("paths", {}).get(path)
    if not isinstance(item, dict):
        return None
    found = item.get(method.lower())
    return found if isinstance(found, dict) else None


def inline(schema: Any, *, draft7: bool = False) -> Any:
    """``schema`` with every local ``$ref`` replaced by what it points to.

    ``draft7=True`` also rewrites the 2020-12 keyword ``prefixItems`` to draft 7's tuple
    form of ``items``, which fastjsonschema understands. The document has no recursive
    schema, so inlining ends.
    """
    if isinstance(schema, list):
        return [inline(item, draft7=draft7) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = _resolve(str(schema["$ref"]))
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return inline({**target, **rest}, draft7=draft7)
    result = {key: inline(value, draft7=draft7) for key, value in schema.items()}
    if draft7 and "prefixItems" in result:
        result["items"] = result.pop("prefixItems")
    return result


def _resolve(ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are used in the document, not {ref}")
    node: Any = document()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


def request_schema(path: str, method: str) -> dict[str, Any] | None:
    """The JSON body schema of an operation, ``$ref`` resolved; ``None`` without a body."""
    op = operation(path, method)
    body = (op or {}).get("requestBody")
    if not isinstance(body, dict):
        return None
    body = inline(body, draft7=True)
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) else None


@cache
def _validator(path: str, method: str) -> tuple[dict[str, Any], Validator] | None:
    schema = request_schema(path, method)
    if schema is None:
        return None
    import fastjsonschema

    return schema, fastjsonschema.compile(schema, use_default=False)


def check_body(path: str, method: str, body: Any) -> None:
    """Refuse ``body`` (a 400 in the contract's shape) unless it fits the operation's schema.

    An empty body is read as ``{}``, as :meth:`ApiRequest.json_object` reads it.
    """
    if method.upper() not in BODY_METHODS:  # a GET never parses the document
        return
    compiled = _validator(path, method)
    if compiled is None:
        return
    schema, validate = compiled
    value = {} if body is None else body
    if not isinstance(value, dict) and schema.get("type") == "object":
        raise BadRequest("The body must be a JSON object.", code="invalid_body")
    import fastjsonschema

    try:
        validate(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _unknown_first(schema, value) or _refusal(schema, value, exc) from exc


def _unknown_first(schema: Mapping[str, Any], body: Mapping[str, Any]) -> BadRequest | None:
    if schema.get("additionalProperties") is not False:
        return None
    allowed = schema.get("properties", {})
    unknown = sorted(set(body) - set(allowed))
    if not unknown:
        return None
    return BadRequest(
        f"Unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed)) or 'none'}.",
        code="unknown_field",
        field=unknown[0],
    )


def _refusal(schema: dict[str, Any], body: Any, exc: Any) -> BadRequest:
    """The contract's error for fastjsonschema's first failure ``exc``."""
    segments = [str(s) for s in list(exc.path)[1:]]  # exc.path[0] is "data"
    steps = _walk(schema, body, segments)
    field = _field(steps)
    parent_schema = steps[-1][1]
    if exc.rule == "required":
        present = exc.value if isinstance(exc.value, dict) else {}
        missing = next((n for n in exc.rule_definition if n not in present), "")
        steps = [*steps, (missing, _child_schema(parent_schema, missing), False)]
        name = _field(steps)
        return _with_code(steps, f"{name} is required.", "missing_field", name)
    if exc.rule == "additionalProperties" and isinstance(exc.value, dict):
        allowed = sorted(parent_schema.get("properties", {}))
        unknown = sorted(set(exc.value) - set(allowed))
        name = _join(field, unknown[0]) if unknown else field
        message = f"Unknown field {name!r}; allowed: {', '.join(allowed) or 'none'}."
        return _with_code(steps, message, "unknown_field", name)
    if not field and exc.rule == "type":
        return BadRequest("The body must be a JSON object.", code="invalid_body")
    if _is_missing(steps, exc.value):
        return _with_code(steps, f"{field} is required.", "missing_field", field)
    reason = str(exc.message)[len(str(exc.name)) :].strip() or "is not valid"
    hint = parent_schema.get("description") if isinstance(parent_schema, dict) else None
    hint = hint if isinstance(hint, str) and len(hint) <= 200 else None
    message = f"{field or 'The body'} {reason}" + (f" ({hint.strip()})" if hint else "") + "."
    return _with_code(steps, message.replace("..", "."), "invalid_field", field)


Step = tuple[str, Any, bool]  # (segment, schema at it, whether the parent is a list)


def _walk(schema: dict[str, Any], body: Any, segments: list[str]) -> list[Step]:
    """The schemas along ``segments`` of ``body``: the root first."""
    steps: list[Step] = [("", schema, False)]
    node_schema: Any = schema
    value = body
    for segment in segments:
        in_list = isinstance(value, list)
        if in_list:
            index = int(segment) if segment.isdigit() else -1
            value = value[index] if 0 <= index < len(value) else None
            node_schema = _item_schema(node_schema, index)
        else:
            value = value.get(segment) if isinstance(value, dict) else None
            node_schema = _child_schema(node_schema, segment)
        steps.append((segment, node_schema, in_list))
    return steps


def _child_schema(schema: Any, name: str) -> Any:
    if not isinstance(schema, dict):
        return None
    properties = schema.get("properties", {})
    if name in properties:
        return properties[name]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _item_schema(schema: Any, index: int) -> Any:
    if not isinstance(schema, dict):
        return None
    items = schema.get("items")
    if isinstance(items, list):
        return items[index] if 0 <= index < len(items) else None
    return items if isinstance(items, dict) else None


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _field(steps: list[Step]) -> str:
    field = ""
    for segment, _, in_list in steps[1:]:
        field = f"{field}[{segment}]" if in_list else _join(field, segment)
    return field


def _is_missing(steps: list[Step], value: Any) -> bool:
    """A required field sent as null or blank text is missing, as the views read it."""
    if len(steps) < 2 or steps[-1][2]:
        return False
    blank = value is None or (isinstance(value, str) and not value.strip())
    parent = steps[-2][1]
    required = parent.get("required", []) if isinstance(parent, dict) else []
    return blank and steps[-1][0] in required


def _with_code(steps: list[Step], message: str, code: str, field: str) -> BadRequest:
    """``code``, unless a schema on the path names its own (``x-error-code``)."""
    for _, schema, _ in reversed(steps):
        if isinstance(schema, dict) and isinstance(schema.get(ERROR_CODE), str):
            code = schema[ERROR_CODE]
            break
    return BadRequest(_clean(message), code=code, field=field or None)


_PATTERN_RE = re.compile(r"must match pattern \S+")


def _clean(message: str) -> str:
    """fastjsonschema's words where they are not the reader's: a regex is not a hint."""
    return _PATTERN_RE.sub("is not in the expected form", message)
