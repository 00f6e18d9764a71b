"""Visual mode's mapping document: field mappings stored as data, validated and mirrored.

The rules it compiles to (no user code) are in :mod:`chalicelib.rules.visual`.

A connection end's ``mappings`` is a list of blocks, one per side and direction::

    {"side": "local" | "remote",             # which end the block configures
     "direction": "outgoing" | "incoming",   # from that end's point of view
     "sync": "automatic" | "manual" | "disabled",
     "scope": {"issue_types": [...], "priorities": [...], "statuses": [...], "labels": [...]},
     "fields": [{"field": "summary"},
                {"field": "issue_type", "values": {"Bug": "Problem"}, "default": "Task"},
                {"field": "labels", "values": {"customer": "external"}},
                {"field": "comments", "public": false},          # incoming: internal comments
                {"field": "comments", "only_public": true},      # outgoing: public ones only
                {"field": "attachments", "max_size": 10000000},
                {"field": "status", "values": {"Closed": "Done"}},     # incoming: by transition
                {"field": "custom", "local": "Customer", "remote": "Customer"},
                {"field": "summary", "on_conflict": "keep"},    # incoming: see below
                # issue 18 (Visual and Script mode only; Basic never syncs them)
                {"field": "components", "values": {"UI": "Frontend"}, "default": null,
                 "create_missing": true},                  # incoming: create unknown names
                {"field": "fix_versions"}, {"field": "affects_versions"},
                {"field": "due_date"}, {"field": "environment"},
                {"field": "resolution", "values": {"Fixed": "Done"}, "default": "Done"},
                {"field": "assignee"}, {"field": "reporter"},   # through the user map
                {"field": "parent"},                             # sub-tasks, epics
                {"field": "links", "values": {"Blocks": "Depends"}},  # link type names
                {"field": "worklogs"}]}

Both ends hold the whole document (each from its own point of view: ``side`` swapped), so
one admin configures both sides in one place; an end runs its ``local`` blocks.

- **scope**: values within a filter are OR-ed, filters are AND-ed, an empty or absent
  filter matches everything; names compare case-insensitively. Outgoing scope looks at
  the local issue, incoming scope at the replica.
- **sync**: ``disabled`` syncs nothing that way (the compiled rules skip every issue);
  ``manual`` syncs what an admin put under sync by hand (``POST …/sync``), and from then on
  its changes follow; ``automatic`` also lets triggers put issues under sync. Whatever
  brings issues under sync on its own asks :func:`allows_automatic` first.
- **status** (incoming): the mapped status name is reached through a workflow transition
  after the other fields are written; no transition leading there shows on the twin.
- **custom**: ``local`` and ``remote`` name a custom field as Jira shows it (``Customer``);
  a local ``customfield_NNNNN`` id works too.
- **fields**: outgoing sends the listed fields (issue type, labels, priority and status
  always travel, mapped, so the other side's scope can look at them); incoming writes the
  listed fields when they changed since the last replica applied (like Basic).
- **values**/**default**: ``values`` maps a value (each label, for labels); a value it does
  not name becomes ``default`` when one is given (``null`` drops it), else stays as it is.
- **on_conflict** (incoming): when the field changed on both sides before either saw the
  other's change, ``later`` (the default) keeps the later change, ``keep`` keeps the value
  of the side whose incoming block says so. Both ends hold the document, so both decide
  alike; only one side may ``keep`` a field, and labels always keep every add and remove.
- **components**, **fix_versions**, **affects_versions**: lists of names, each mapped
  through ``values``/``default`` like labels, merged like labels (every add and remove of
  both sides is kept, so no ``on_conflict``). Incoming, ``create_missing: true`` creates a
  name the project lacks; without it a missing name is left out (the twin's history says
  so; never an error).
- **due_date**, **environment** (a body, converted like the description): as they are.
- **resolution**: by name through ``values``/``default``.
- **assignee**, **reporter**: a person of the other side, mapped here through the
  connection's user map (an unmapped person falls back, never fails).
- **parent**: the other side's parent key, mapped to its twin here (sub-tasks, epics).
- **links**: issue links between synced issues; ``values`` maps the link type's name.
- **worklogs**: created, updated and deleted with an attribution line ("Logged by NAME on
  SHORTNAME"); those the integration user logged are never sent back.
- ``on_conflict`` applies to every register: summary, description, issue type, priority,
  status, custom fields, due date, environment, resolution, assignee, reporter, parent.
- A direction without a block syncs like Basic mode.

Pure: validation and mirroring touch no storage or network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

SIDES = ("local", "remote")
DIRECTIONS = ("outgoing", "incoming")
METHODS = ("automatic", "manual", "disabled")
SCOPES = {
    "issue_types": "type",
    "priorities": "priority",
    "statuses": "status",
    "labels": "labels",
}
FIELDS = (
    "summary",
    "description",
    "labels",
    "priority",
    "status",
    "issue_type",
    "comments",
    "attachments",
    "custom",
    # issue 18
    "components",
    "fix_versions",
    "affects_versions",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
    "links",
    "worklogs",
)
INCOMING_FIELDS = FIELDS
# issue 18: what each new kind takes beyond ``field`` (and ``on_conflict``, for registers)
NAME_LIST_FIELDS = ("components", "fix_versions", "affects_versions")
VALUE_KINDS = frozenset({*NAME_LIST_FIELDS, "resolution", "links"})  # take ``values``
DEFAULT_KINDS = frozenset({*NAME_LIST_FIELDS, "resolution"})  # take ``default``
PLAIN_KINDS = frozenset(
    {"due_date", "environment", "assignee", "reporter", "parent", "links", "worklogs"}
)  # issue 18 kinds without ``default`` (links take ``values`` only)
MAX_BLOCKS = 4
MAX_FIELDS = 100
MAX_VALUES = 500
_ABSENT = object()


class MappingError(ValueError):
    """A mappings document that cannot be used; ``path`` names the culprit."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class FieldMapping(msgspec.Struct, frozen=True):
    field: str
    values: Mapping[str, str | None] = msgspec.field(default_factory=dict)
    default: Any = _ABSENT
    local: str | None = None
    remote: str | None = None
    public: bool = True
    only_public: bool = False
    max_size: int | None = None
    on_conflict: str = "later"
    create_missing: bool = False  # issue 18: components/versions, incoming

    def map(self, value: str | None) -> str | None:
        if value is None:
            return None
        for key, target in self.values.items():
            if key.lower() == value.lower():
                return target
        return value if self.default is _ABSENT else self.default

    def map_all(self, values: Iterable[str]) -> list[str]:
        mapped = (self.map(v) for v in values)
        return list(dict.fromkeys(v for v in mapped if v))


class Block(msgspec.Struct, frozen=True):
    side: str
    direction: str
    sync: str = "automatic"
    scope: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    fields: tuple[FieldMapping, ...] = ()

    def mapping(self, name: str) -> FieldMapping | None:
        return next((f for f in self.fields if f.field == name), None)

    def customs(self) -> list[FieldMapping]:
        return [f for f in self.fields if f.field == "custom"]


BASIC_FIELDS = tuple(
    FieldMapping(name)
    for name in ("summary", "description", "issue_type", "comments", "attachments")
)


def basic_block(side: str, direction: str) -> Block:
    """What a direction without a block does: Basic mode's fields."""
    return Block(side=side, direction=direction, fields=BASIC_FIELDS)


# --- validation ---------------------------------------------------------------------------


def _names(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise MappingError("must be a list of names", path)
    if len(value) > MAX_VALUES:
        raise MappingError(f"at most {MAX_VALUES} names", path)
    return tuple(v.strip() for v in value)


def _value_map(value: Any, path: str) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_VALUES:
        raise MappingError(f"must be an object of at most {MAX_VALUES} value -> value", path)
    for key, target in value.items():
        if not isinstance(key, str) or not (target is None or isinstance(target, str)):
            raise MappingError("maps a name to a name (or null to drop it)", f"{path}.{key}")
    return dict(value)


_FIELD_KEYS = {
    "field",
    "values",
    "default",
    "local",
    "remote",
    "public",
    "only_public",
    "max_size",
    "on_conflict",
    "create_missing",
}
CONFLICT_RULES = ("later", "keep")
# the replica field each mapped field is merged as (rules.merge); labels are a set
REGISTER_OF = {
    "summary": "summary",
    "description": "description",
    "issue_type": "type",
    "priority": "priority",
    "status": "status",
    "custom": "fields",
    # issue 18 (the name lists are sets, like labels: no ``keep``)
    "due_date": "due_date",
    "environment": "environment",
    "resolution": "resolution",
    "assignee": "assignee",
    "reporter": "reporter",
    "parent": "parent",
}


def _field(data: Any, path: str, direction: str) -> FieldMapping:
    if not isinstance(data, Mapping):
        raise MappingError("must be an object with a 'field'", path)
    unknown = sorted(set(data) - _FIELD_KEYS)
    if unknown:
        raise MappingError(f"unknown key {unknown[0]!r}", f"{path}.{unknown[0]}")
    name = data.get("field")
    allowed = INCOMING_FIELDS if direction == "incoming" else FIELDS
    if name not in allowed:
        raise MappingError(f"field must be one of {', '.join(allowed)}", f"{path}.field")
    default = data.get("default", _ABSENT)
    if default is not _ABSENT and default is not None and not isinstance(default, str):
        raise MappingError("must be a name or null", f"{path}.default")
    custom: dict[str, str] = {}
    if name == "custom":
        for key in ("local", "remote"):
            value = data.get(key)
            if not isinstance(value, str) or not value.strip():
                raise MappingError(
                    "a custom field mapping names its local and remote field", f"{path}.{key}"
                )
            custom[key] = value.strip()
    max_size = data.get("max_size")
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
    ):
        raise MappingError("must be a number of bytes", f"{path}.max_size")
    for flag in ("public", "only_public"):
        if flag in data and not isinstance(data[flag], bool):
            raise MappingError("must be true or false", f"{path}.{flag}")
    on_conflict = _conflict_rule(data, str(name), path, direction)
    create_missing = _kind_options(data, str(name), path, direction)
    return FieldMapping(
        field=str(name),
        values=_value_map(data.get("values"), f"{path}.values"),
        default=default,
        public=bool(data.get("public", True)),
        only_public=bool(data.get("only_public", False)),
        max_size=max_size,
        on_conflict=on_conflict,
        create_missing=create_missing,
        **custom,
    )


def _kind_options(data: Mapping[str, Any], name: str, path: str, direction: str) -> bool:
    """Issue 18's kinds: refuse the options a kind does not take; ``create_missing``."""
    if name in PLAIN_KINDS:
        if data.get("values") is not None and name not in VALUE_KINDS:
            raise MappingError(f"{name} takes no value map", f"{path}.values")
        if "default" in data:
            raise MappingError(f"{name} takes no default", f"{path}.default")
    if "create_missing" not in data:
        return False
    flag = data["create_missing"]
    if not isinstance(flag, bool):
        raise MappingError("must be true or false", f"{path}.create_missing")
    if name not in NAME_LIST_FIELDS or (flag and direction != "incoming"):
        raise MappingError(
            f"create_missing applies to an incoming {', '.join(NAME_LIST_FIELDS)} mapping",
            f"{path}.create_missing",
        )
    return flag


def _conflict_rule(data: Mapping[str, Any], name: str, path: str, direction: str) -> str:
    rule = data.get("on_conflict", "later")
    if rule not in CONFLICT_RULES:
        raise MappingError(f"must be one of {', '.join(CONFLICT_RULES)}", f"{path}.on_conflict")
    if rule != "later" and (direction != "incoming" or name not in REGISTER_OF):
        why = (
            f"{name} keep every add and remove of both sides"
            if name in ("labels", *NAME_LIST_FIELDS)
            else f"'keep' applies to an incoming {', '.join(REGISTER_OF)} mapping"
        )
        raise MappingError(why, f"{path}.on_conflict")
    return str(rule)


def _block(data: Any, path: str) -> Block:
    if not isinstance(data, Mapping):
        raise MappingError("must be an object", path)
    unknown = sorted(set(data) - {"side", "direction", "sync", "scope", "fields"})
    if unknown:
        raise MappingError(f"unknown key {unknown[0]!r}", f"{path}.{unknown[0]}")
    side = data.get("side", "local")
    if side not in SIDES:
        raise MappingError("side must be local or remote", f"{path}.side")
    direction = data.get("direction")
    if direction not in DIRECTIONS:
        raise MappingError("direction must be outgoing or incoming", f"{path}.direction")
    sync = data.get("sync", "automatic")
    if sync not in METHODS:
        raise MappingError(f"sync must be one of {', '.join(METHODS)}", f"{path}.sync")
    scope_data = data.get("scope") or {}
    if not isinstance(scope_data, Mapping):
        raise MappingError("scope must be an object", f"{path}.scope")
    unknown = sorted(set(scope_data) - set(SCOPES))
    if unknown:
        raise MappingError(f"scope filters are {', '.join(SCOPES)}", f"{path}.scope.{unknown[0]}")
    scope = {k: _names(v, f"{path}.scope.{k}") for k, v in scope_data.items()}
    fields_data = data.get("fields", None)
    if fields_data is None:
        fields = BASIC_FIELDS
    else:
        if not isinstance(fields_data, list) or len(fields_data) > MAX_FIELDS:
            raise MappingError(f"fields must be a list of at most {MAX_FIELDS}", f"{path}.fields")
        fields = tuple(
            _field(f, f"{path}.fields[{i}]", str(direction)) for i, f in enumerate(fields_data)
        )
    seen = [f.field if f.field != "custom" else f"custom:{f.local}" for f in fields]
    duplicates = sorted({n for n in seen if seen.count(n) > 1})
    if duplicates:
        raise MappingError(f"{duplicates[0]} is mapped twice", f"{path}.fields")
    return Block(
        side=str(side),
        direction=str(direction),
        sync=str(sync),
        scope={k: v for k, v in scope.items() if v},
        fields=fields,
    )


def parse(document: Any) -> list[Block]:
    """Check a mappings document; ``MappingError`` names the first problem's path."""
    if document is None:
        return []
    if not isinstance(document, list):
        raise MappingError("mappings must be a list of blocks", "mappings")
    blocks = [_block(b, f"mappings[{i}]") for i, b in enumerate(document)]
    pairs = [(b.side, b.direction) for b in blocks]
    for i, pair in enumerate(pairs):
        if pairs.index(pair) != i:
            raise MappingError(f"a second {pair[0]} {pair[1]} block", f"mappings[{i}]")
    keeping = [f.field for b in blocks for f in b.fields if f.on_conflict == "keep"]
    twice = sorted({n for n in keeping if keeping.count(n) > 1})
    if twice:
        raise MappingError(f"both sides keep {twice[0]} on a conflict: only one can", "mappings")
    return blocks


def conflict_preferences(document: Any) -> dict[str, str]:
    """Replica field → the side (``local``/``remote``) whose value a conflict keeps, for
    the fields whose incoming mapping says ``on_conflict: keep`` (the rest: the later)."""
    return {
        REGISTER_OF[f.field]: block.side
        for block in parse(document)
        if block.direction == "incoming"
        for f in block.fields
        if f.on_conflict == "keep"
    }


def to_json(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Blocks back to their stored form (defaults written out, so it reads plainly)."""
    out = []
    for block in blocks:
        fields = []
        for f in block.fields:
            item: dict[str, Any] = {"field": f.field}
            if f.values:
                item["values"] = dict(f.values)
            if f.default is not _ABSENT:
                item["default"] = f.default
            if f.field == "custom":
                item["local"], item["remote"] = f.local, f.remote
            if f.field == "comments":
                item["public" if block.direction == "incoming" else "only_public"] = (
                    f.public if block.direction == "incoming" else f.only_public
                )
            if f.max_size is not None:
                item["max_size"] = f.max_size
            if f.on_conflict != "later":
                item["on_conflict"] = f.on_conflict
            if f.create_missing:
                item["create_missing"] = True
            fields.append(item)
        out.append(
            {
                "side": block.side,
                "direction": block.direction,
                "sync": block.sync,
                "scope": {k: list(v) for k, v in block.scope.items()},
                "fields": fields,
            }
        )
    return out


def normalize(document: Any) -> list[dict[str, Any]]:
    """Validated, in stored form."""
    return to_json(parse(document))


def mirror(document: Any) -> list[dict[str, Any]]:
    """The same configuration seen from the other end (``side`` swapped)."""
    return [
        {**block, "side": "remote" if block["side"] == "local" else "local"}
        for block in normalize(document)
    ]


def has_side(document: Any, side: str) -> bool:
    return any(block.side == side for block in parse(document))


def block_for(document: Any, direction: str) -> Block:
    """This end's block for ``direction`` (Basic's fields when there is none)."""
    for block in parse(document):
        if block.side == "local" and block.direction == direction:
            return block
    return basic_block("local", direction)


def sync_method(document: Any, direction: str) -> str:
    """``automatic`` | ``manual`` | ``disabled`` for this end's ``direction`` (triggers
    bring issues under sync only when it is ``automatic``)."""
    return block_for(document, direction).sync


def allows_automatic(connection: Any, direction: str = "outgoing") -> bool:
    """Whether issues may be put under sync in ``direction`` without an admin asking
    (triggers, anything automatic): always outside Visual mode; in Visual mode only when
    this end's block for ``direction`` says ``automatic`` (``manual``: only
    ``POST …/sync``; ``disabled``: nothing at all). ``connection`` is a stored end (its
    ``mode`` and ``mappings`` are read)."""
    if getattr(connection, "mode", None) != "visual":
        return True
    return sync_method(getattr(connection, "mappings", None), direction) == "automatic"
