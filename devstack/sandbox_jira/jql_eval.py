"""JQL meaning: checks a parsed query against the site's catalogue and evaluates it.

``compile_query`` resolves every field, operator, value and function *before* anything is
matched, so an unknown field, a misspelt project or an unsupported operator is a Jira-style
error (with Jira's own wording), never a silent match-all. The result is a predicate and a
sort comparator over :class:`IssueDoc`, a flat view of an issue that the store builds.

Jira quirks kept on purpose: ``!=`` and ``NOT IN`` never match an issue whose field is
empty; text search (``~``) is word-based, all words must appear, ``word*`` is a prefix and a
quoted phrase must appear in order; dates are compared in UTC, to the millisecond.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .jql import And as AndNode
from .jql import (
    ChangedValue,
    Clause,
    EmptyValue,
    FieldRef,
    FunctionCall,
    JqlError,
    ListValue,
    Literal,
    Node,
    Query,
    SortKey,
)
from .jql import Not as NotNode
from .jql import Or as OrNode


@dataclass(frozen=True)
class IssueDoc:
    """What JQL can see of one issue (times in epoch milliseconds, UTC)."""

    id: int
    key: str
    project_id: str
    number: int
    issue_type: str
    status: str
    labels: tuple[str, ...] = ()
    priority: str | None = None
    reporter: str | None = None
    assignee: str | None = None
    creator: str | None = None
    created: int = 0
    updated: int = 0
    texts: Mapping[str, str] = field(default_factory=dict)  # summary, description, comment…
    properties: Mapping[str, Any] = field(default_factory=dict)
    resolution: str | None = None
    parent: int | None = None  # the parent issue's id
    custom: Mapping[str, Any] = field(default_factory=dict)  # customfield_NNNNN -> value
    history: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class FieldChange:
    """One changelog item, as ``CHANGED`` searches it (ids and display strings)."""

    field: str  # the field id: status, assignee, priority, resolution, reporter
    from_id: str | None
    from_string: str | None
    to_id: str | None
    to_string: str | None
    author: str | None
    at: int  # epoch ms


@dataclass
class Catalog:
    """The names JQL values resolve against; built by the store for each query."""

    projects: list[tuple[str, str, str]] = field(default_factory=list)  # id, key, name
    users: dict[str, set[str]] = field(default_factory=dict)  # user id -> aliases
    issue_types: list[tuple[str, str]] = field(default_factory=list)  # id, name
    statuses: list[tuple[str, str]] = field(default_factory=list)  # id, name
    priorities: list[tuple[str, str]] = field(default_factory=list)  # id, name; highest first
    issue_keys: dict[str, int] = field(default_factory=dict)  # KEY-1 -> id
    now_ms: int = 0
    current_user: str | None = None
    indexed_properties: set[str] | None = None  # None: every property key is searchable
    custom_fields: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, type
    status_categories: dict[str, str] = field(default_factory=dict)  # status (lower) -> key
    resolutions: list[tuple[str, str]] = field(default_factory=list)  # id, name


Predicate = Callable[[IssueDoc], bool]


@dataclass(frozen=True)
class CompiledQuery:
    predicate: Predicate
    order: SortOrder
    bounded: bool

    def sort(self, docs: Iterable[IssueDoc]) -> list[IssueDoc]:
        return sorted(docs, key=functools.cmp_to_key(self.order.compare))


# --- errors in Jira's words -------------------------------------------------------------


def no_field(name: str) -> JqlError:
    return JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def bad_operator(op: str, name: str) -> JqlError:
    return JqlError(f"The operator '{op}' is not supported by the '{name}' field.")


def bad_value(value: str, name: str) -> JqlError:
    return JqlError(f"The value '{value}' does not exist for the field '{name}'.")


def bad_function(func: str, name: str) -> JqlError:
    return JqlError(f"A value provided by the function '{func}' is invalid for the field '{name}'.")


# --- values -----------------------------------------------------------------------------

_RELATIVE_RE = re.compile(r"^([+-])?\s*((?:\d+\s*[wdhm]\s*)+)$", re.IGNORECASE)
_UNIT_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


def parse_date(text: str, now_ms: int, name: str) -> int:
    """A JQL date literal (absolute or relative like ``-5d``) as epoch milliseconds."""
    value = text.strip()
    match = _RELATIVE_RE.match(value)
    if match:
        total = sum(
            int(n) * _UNIT_MS[u.lower()]
            for n, u in re.findall(r"(\d+)\s*([wdhm])", match.group(2), re.IGNORECASE)
        )
        return now_ms - total if match.group(1) == "-" else now_ms + total
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(parsed.timestamp() * 1000)
    raise JqlError(
        f"Date value '{text}' for field '{name}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )


def _day_bounds(now_ms: int, args: tuple[str, ...], end: bool) -> int:
    base = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    start = base.replace(hour=0, minute=0, second=0, microsecond=0)
    if args:
        shifted = parse_date(args[0], int(start.timestamp() * 1000), "")
        start = datetime.fromtimestamp(shifted / 1000, tz=UTC)
    if end:
        start = start + timedelta(days=1) - timedelta(milliseconds=1)
    return int(start.timestamp() * 1000)


def date_function(call: FunctionCall, catalog: Catalog, name: str) -> int:
    fname = call.name.lower()
    if fname == "now":
        return catalog.now_ms
    if fname in ("startofday", "endofday"):
        return _day_bounds(catalog.now_ms, call.args, end=fname == "endofday")
    raise bad_function(call.name, name)


KNOWN_FUNCTIONS = {"currentuser", "now", "startofday", "endofday"}


def check_function(call: FunctionCall) -> None:
    if call.name.lower() not in KNOWN_FUNCTIONS:
        raise JqlError(f"Unable to find JQL function '{call.name}()'.")


# --- text search ------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD_RE.findall(text.lower())]


def text_matcher(query: str) -> Callable[[str], bool]:
    """Jira-like ``~``: every term must appear; ``term*`` is a prefix; quotes make a phrase."""
    phrases = re.findall(r'"([^"]*)"', query)
    rest = re.sub(r'"[^"]*"', " ", query)
    terms = [t for t in re.split(r"\s+", rest.strip()) if t]
    if not phrases and not terms:
        raise JqlError("The text query is empty.")

    def match(text: str) -> bool:
        doc_words = words(text)
        doc_set = set(doc_words)
        for term in terms:
            low = term.lower()
            if low.endswith("*"):
                prefix = low.rstrip("*")
                if not any(w.startswith(prefix) for w in _WORD_RE.findall(text.lower())):
                    return False
            elif not all(w in doc_set for w in words(low)):
                return False
        for phrase in phrases:
            seq = words(phrase)
            if seq and not any(
                doc_words[i : i + len(seq)] == seq for i in range(len(doc_words) - len(seq) + 1)
            ):
                return False
        return True

    return match


# --- fields -----------------------------------------------------------------------------

EQ_OPS = {"=", "!=", "in", "not in", "is", "is not"}
ORDER_OPS = {"<", ">", "<=", ">="}
TEXT_OPS = {"~", "!~", "is", "is not"}


class FieldSpec:
    """One searchable field: which operators it takes and how values resolve and compare."""

    name = ""
    ops: set[str] = EQ_OPS
    sortable = True
    empty_token: Any = None  # a value that names "empty" (resolution's Unresolved)

    def __init__(self, display: str, catalog: Catalog) -> None:
        self.display = display
        self.catalog = catalog

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        raise NotImplementedError

    def resolve(self, value: Literal) -> list[Any]:
        raise NotImplementedError

    def resolve_function(self, call: FunctionCall) -> list[Any]:
        raise bad_function(call.name, self.display)

    def sort_value(self, doc: IssueDoc) -> Any:
        values = self.doc_values(doc)
        return values[0] if values else None

    def ordered(self, doc_value: Any, op: str, target: Any) -> bool:
        return _compare_op(doc_value, op, target)


def _compare_op(a: Any, op: str, b: Any) -> bool:
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


class ProjectField(FieldSpec):
    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [doc.project_id]

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        found = [
            pid
            for pid, key, name in self.catalog.projects
            if low in (pid, key.lower(), name.lower())
        ]
        if not found:
            raise bad_value(value.value, "project")
        return found

    def sort_value(self, doc: IssueDoc) -> Any:
        keys = {pid: key for pid, key, _ in self.catalog.projects}
        return keys.get(doc.project_id, "")


class KeyField(FieldSpec):
    ops = EQ_OPS | ORDER_OPS

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [doc.id]

    def resolve(self, value: Literal) -> list[Any]:
        text = value.value.strip()
        if text.isdigit():
            return [int(text)]
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*-\d+$", text):
            raise JqlError(f"The issue key '{text}' for field '{self.display}' is invalid.")
        issue_id = self.catalog.issue_keys.get(text.upper())
        if issue_id is None:
            raise JqlError(f"An issue with key '{text}' does not exist for field '{self.display}'.")
        return [issue_id]

    def sort_value(self, doc: IssueDoc) -> Any:
        return [doc.key.rsplit("-", 1)[0], doc.number]

    @functools.cache  # noqa: B019 - one spec lives for one query; the cache goes with it
    def _by_id(self) -> dict[int, list[str]]:
        return {iid: key.rsplit("-", 1) for key, iid in self.catalog.issue_keys.items()}

    def ordered(self, doc_value: Any, op: str, target: Any) -> bool:
        """``key > ABC-5``: issues of the same project with a higher number."""
        by_id = self._by_id()
        a, b = by_id.get(doc_value), by_id.get(target)
        if a is None or b is None or a[0] != b[0]:
            return False
        return _compare_op(int(a[1]), op, int(b[1]))


class NamedField(FieldSpec):
    """A field whose values are named things with ids (issue type, status)."""

    attr = ""

    def table(self) -> list[tuple[str, str]]:
        return getattr(self.catalog, {"issue_type": "issue_types", "status": "statuses"}[self.attr])

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [getattr(doc, self.attr).lower()]

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        found = [name.lower() for tid, name in self.table() if low in (tid, name.lower())]
        if not found:
            raise bad_value(value.value, self.display)
        return found


class IssueTypeField(NamedField):
    attr = "issue_type"


class StatusField(NamedField):
    attr = "status"


class PriorityField(FieldSpec):
    ops = EQ_OPS | ORDER_OPS

    def _rank(self) -> dict[str, int]:
        # higher number = higher priority, so "priority > Low" reads naturally
        count = len(self.catalog.priorities)
        return {name.lower(): count - i for i, (_, name) in enumerate(self.catalog.priorities)}

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [self._rank().get(doc.priority.lower(), 0)] if doc.priority else []

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        rank = self._rank()
        found = [
            rank[name.lower()]
            for pid, name in self.catalog.priorities
            if low in (pid, name.lower())
        ]
        if not found:
            raise bad_value(value.value, "priority")
        return found


class LabelsField(FieldSpec):
    sortable = False

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [label.lower() for label in doc.labels]

    def resolve(self, value: Literal) -> list[Any]:
        return [value.value.lower()]


class UserField(FieldSpec):
    attr = "reporter"

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        value = getattr(doc, self.attr)
        return [value] if value else []

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        found = [uid for uid, aliases in self.catalog.users.items() if low in aliases]
        if not found:
            raise bad_value(value.value, self.display)
        return found

    def resolve_function(self, call: FunctionCall) -> list[Any]:
        if call.name.lower() != "currentuser":
            raise bad_function(call.name, self.display)
        return [self.catalog.current_user] if self.catalog.current_user else []


def user_field(attr_name: str) -> type[UserField]:
    return type(f"{attr_name.title()}Field", (UserField,), {"attr": attr_name})


class DateField(FieldSpec):
    ops = EQ_OPS | ORDER_OPS
    attr = "created"

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [getattr(doc, self.attr)]

    def resolve(self, value: Literal) -> list[Any]:
        return [parse_date(value.value, self.catalog.now_ms, self.display)]

    def resolve_function(self, call: FunctionCall) -> list[Any]:
        return [date_function(call, self.catalog, self.display)]


def date_field(attr_name: str) -> type[DateField]:
    return type(f"{attr_name.title()}Field", (DateField,), {"attr": attr_name})


class TextField(FieldSpec):
    ops = TEXT_OPS
    parts: tuple[str, ...] = ("summary",)
    sortable = False

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [doc.texts.get(p, "") for p in self.parts if doc.texts.get(p)]

    def resolve(self, value: Literal) -> list[Any]:
        return [value.value]


def text_field(*parts: str, sortable: bool = False) -> type[TextField]:
    attrs = {"parts": parts, "sortable": sortable}
    return type("TextField_" + "_".join(parts), (TextField,), attrs)


class PropertyField(FieldSpec):
    ops = EQ_OPS | ORDER_OPS | {"~", "!~"}

    def __init__(self, display: str, catalog: Catalog, fref: FieldRef) -> None:
        super().__init__(display, catalog)
        self.key = fref.property_key or ""
        self.path = fref.property_path

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        node: Any = doc.properties.get(self.key)
        for part in self.path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return []
        items = node if isinstance(node, list) else [node]
        return [_property_scalar(v) for v in items if v is not None]

    def resolve(self, value: Literal) -> list[Any]:
        return [_property_scalar(value.value)]


def _property_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        return text.lower()


CATEGORY_NAMES = {
    "new": ("2", "To Do"),
    "indeterminate": ("4", "In Progress"),
    "done": ("3", "Done"),
}


class StatusCategoryField(FieldSpec):
    """``statusCategory``: by key (``done``), name (``"To Do"``) or id (``3``)."""

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        key = self.catalog.status_categories.get(doc.status.lower())
        return [key] if key else []

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        found = [
            key for key, (cid, name) in CATEGORY_NAMES.items() if low in (key, cid, name.lower())
        ]
        if not found:
            raise bad_value(value.value, self.display)
        return found


UNRESOLVED = "\x00unresolved"


class ResolutionField(FieldSpec):
    """``resolution``: a resolution's name or id, or ``Unresolved`` (no resolution)."""

    empty_token = UNRESOLVED

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [doc.resolution.lower()] if doc.resolution else []

    def resolve(self, value: Literal) -> list[Any]:
        low = value.value.lower()
        if low == "unresolved":
            return [UNRESOLVED]
        found = [
            name.lower() for rid, name in self.catalog.resolutions if low in (rid, name.lower())
        ]
        if not found:
            raise bad_value(value.value, self.display)
        return found


class ParentField(KeyField):
    """``parent = ABC-1``: issues whose parent is that issue (by key or id)."""

    ops = EQ_OPS
    sortable = False

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        return [doc.parent] if doc.parent is not None else []


class CustomField(FieldSpec):
    """A custom field, by name or ``cf[NNNNN]``; operators follow its Jira type: a text
    field is searched with ``~``, a number is compared, a labels field matched exactly."""

    field_id = ""
    kind = "string"

    def __init__(self, display: str, catalog: Catalog) -> None:
        super().__init__(display, catalog)
        self.ops = {
            "string": TEXT_OPS,
            "any": TEXT_OPS,
            "number": EQ_OPS | ORDER_OPS,
            "array": EQ_OPS,
        }[self.kind]
        self.sortable = self.kind != "array"

    def doc_values(self, doc: IssueDoc) -> list[Any]:
        value = doc.custom.get(self.field_id)
        if value is None or value == "" or value == []:
            return []
        items = value if isinstance(value, list) else [value]
        if self.kind == "number":
            return [float(v) for v in items if isinstance(v, int | float)]
        return [str(v).lower() if self.kind == "array" else str(v) for v in items]

    def resolve(self, value: Literal) -> list[Any]:
        if self.kind != "number":
            return [value.value.lower() if self.kind == "array" else value.value]
        try:
            return [float(value.value)]
        except ValueError:
            raise JqlError(
                f"'{value.value}' is an invalid number for the field '{self.display}'."
            ) from None


def custom_field(catalog: Catalog, ref: str) -> type[CustomField] | None:
    match = re.match(r"^cf\[(\d+)\]$", ref, re.IGNORECASE)
    wanted = f"customfield_{match.group(1)}" if match else None
    for fid, name, kind in catalog.custom_fields:
        if fid == wanted or (wanted is None and name.lower() == ref.lower()):
            return type("CustomField_" + fid, (CustomField,), {"field_id": fid, "kind": kind})
    return None


FIELD_TYPES: dict[str, type[FieldSpec]] = {
    "project": ProjectField,
    "key": KeyField,
    "issuekey": KeyField,
    "id": KeyField,
    "issuetype": IssueTypeField,
    "type": IssueTypeField,
    "status": StatusField,
    "statuscategory": StatusCategoryField,
    "resolution": ResolutionField,
    "parent": ParentField,
    "priority": PriorityField,
    "labels": LabelsField,
    "reporter": user_field("reporter"),
    "assignee": user_field("assignee"),
    "creator": user_field("creator"),
    "created": date_field("created"),
    "createddate": date_field("created"),
    "updated": date_field("updated"),
    "updateddate": date_field("updated"),
    "summary": text_field("summary", sortable=True),
    "description": text_field("description"),
    "environment": text_field("environment"),
    "comment": text_field("comment"),
    "text": text_field("summary", "description", "environment", "comment"),
}


def field_spec(fref: FieldRef, catalog: Catalog) -> FieldSpec:
    if fref.property_key is not None:
        indexed = catalog.indexed_properties
        if indexed is not None and fref.property_key not in indexed:
            raise no_field(fref.display())
        return PropertyField(fref.display(), catalog, fref)
    cls = FIELD_TYPES.get(fref.name.lower()) or custom_field(catalog, fref.name)
    if cls is None:
        raise no_field(fref.name)
    return cls(fref.name, catalog)


# --- compiling clauses ------------------------------------------------------------------


EMPTY = object()  # an EMPTY in a list: "resolution in (EMPTY, Done)"


def _resolve_all(spec: FieldSpec, value: Literal | FunctionCall | ListValue) -> list[Any]:
    items: Iterable[Literal | FunctionCall | EmptyValue]
    items = value.items if isinstance(value, ListValue) else (value,)
    out: list[Any] = []
    for item in items:
        if isinstance(item, EmptyValue):
            out.append(EMPTY)
        elif isinstance(item, FunctionCall):
            check_function(item)
            out.extend(spec.resolve_function(item))
        else:
            out.extend(spec.resolve(item))
    return out


def compile_clause(clause: Clause, catalog: Catalog) -> Predicate:
    spec = field_spec(clause.field, catalog)
    op = clause.operator
    value = clause.value
    if op == "changed":
        assert isinstance(value, ChangedValue)
        return compile_changed(spec, clause.field.name.lower(), value, catalog)
    if op not in spec.ops:
        raise bad_operator(op if op in ("~", "!~") else op.upper(), spec.display)
    if op in ("is", "is not") or isinstance(value, EmptyValue):
        if op not in ("=", "!=", "is", "is not"):
            raise bad_operator(op.upper(), spec.display)
        want_empty = op in ("is", "=")
        return lambda doc: (not spec.doc_values(doc)) == want_empty
    if op in ("~", "!~"):
        if not isinstance(value, Literal):
            raise (
                bad_operator(op, spec.display)
                if isinstance(value, ListValue)
                else bad_function(getattr(value, "name", ""), spec.display)
            )
        if isinstance(value, FunctionCall):
            raise bad_function(value.name, spec.display)
        matcher = text_matcher(value.value)
        positive = op == "~"
        return lambda doc: any(matcher(str(v)) for v in spec.doc_values(doc)) == positive
    assert not isinstance(value, ChangedValue | EmptyValue)
    targets = _resolve_all(spec, value)
    if EMPTY in targets or spec.empty_token in targets:
        if op not in ("=", "in"):
            raise bad_operator(op.upper(), spec.display)
        wanted_values = {t for t in targets if t is not EMPTY and t != spec.empty_token}
        return lambda doc: (
            (not spec.doc_values(doc)) or any(v in wanted_values for v in spec.doc_values(doc))
        )
    if op in ORDER_OPS:
        return lambda doc: any(
            spec.ordered(dv, op, t)
            for dv in spec.doc_values(doc)
            for t in targets
            if dv is not None and type(dv) is type(t)
        )
    if op in ("=", "in"):
        wanted = set(targets)
        return lambda doc: any(v in wanted for v in spec.doc_values(doc))
    unwanted = set(targets)  # "!=" and "not in": Jira never matches empty fields here
    return lambda doc: (
        bool(spec.doc_values(doc)) and not any(v in unwanted for v in spec.doc_values(doc))
    )


HISTORY_FIELDS = {"status", "assignee", "reporter", "priority", "resolution"}


def compile_changed(
    spec: FieldSpec, field_id: str, value: ChangedValue, catalog: Catalog
) -> Predicate:
    """``field CHANGED [FROM v] [TO v] [BY u] [AFTER|BEFORE|ON d] [DURING (d1, d2)]``:
    some changelog item of the field meets every predicate (Jira's fields with history)."""
    if field_id not in HISTORY_FIELDS:
        raise bad_operator("CHANGED", spec.display)
    tests: list[Callable[[FieldChange], bool]] = []
    for word, values in value.predicates:
        tests.append(_change_test(spec, word, values, catalog))
    return lambda doc: any(c.field == field_id and all(t(c) for t in tests) for c in doc.history)


def _change_values(spec: FieldSpec, value: Literal | FunctionCall | EmptyValue) -> set[Any]:
    if isinstance(value, EmptyValue):
        return {None}
    out = {str(v).lower() for v in _resolve_all(spec, value)}
    if isinstance(value, Literal):
        out.add(value.value.lower())
    return out


def _change_date(value: Literal | FunctionCall | EmptyValue, catalog: Catalog, name: str) -> int:
    if isinstance(value, EmptyValue):
        raise JqlError(f"EMPTY is not a date for '{name}'.")
    if isinstance(value, FunctionCall):
        check_function(value)
        return date_function(value, catalog, name)
    return parse_date(value.value, catalog.now_ms, name)


def _change_test(
    spec: FieldSpec,
    word: str,
    values: tuple[Literal | FunctionCall | EmptyValue, ...],
    catalog: Catalog,
) -> Callable[[FieldChange], bool]:
    if word in ("from", "to"):
        wanted = _change_values(spec, values[0])
        if word == "from":
            return lambda c: _either(c.from_id, c.from_string) & wanted != set()
        return lambda c: _either(c.to_id, c.to_string) & wanted != set()
    if word == "by":
        users = _change_values(user_field("reporter")(spec.display, catalog), values[0])
        return lambda c: (c.author or "").lower() in users
    if word == "during":
        start = _change_date(values[0], catalog, spec.display)
        end = _change_date(values[1], catalog, spec.display)
        return lambda c: start <= c.at <= end
    when = _change_date(values[0], catalog, spec.display)
    if word == "after":
        return lambda c: c.at > when
    if word == "before":
        return lambda c: c.at < when
    day = when - when % 86_400_000  # ON: that UTC day
    return lambda c: day <= c.at < day + 86_400_000


def _either(ident: str | None, text: str | None) -> set[Any]:
    if ident is None and text is None:
        return {None}
    return {str(ident).lower(), str(text).lower()}


def compile_node(node: Node, catalog: Catalog) -> Predicate:
    if isinstance(node, Clause):
        return compile_clause(node, catalog)
    if isinstance(node, AndNode):
        parts = [compile_node(c, catalog) for c in node.children]
        return lambda doc: all(p(doc) for p in parts)
    if isinstance(node, OrNode):
        parts = [compile_node(c, catalog) for c in node.children]
        return lambda doc: any(p(doc) for p in parts)
    assert isinstance(node, NotNode)
    inner = compile_node(node.child, catalog)
    return lambda doc: not inner(doc)


DEFAULT_ORDER = (SortKey(FieldRef("created"), descending=True),)


class SortOrder:
    """A total order: the query's sort keys, then the issue id (so pages are stable).

    Sort keys are plain JSON values, so a page token can carry the last key it returned.
    """

    def __init__(self, specs: list[tuple[FieldSpec, bool]]) -> None:
        self.specs = specs

    def key(self, doc: IssueDoc) -> list[Any]:
        return [spec.sort_value(doc) for spec, _ in self.specs] + [doc.id]

    def compare_keys(self, a: list[Any], b: list[Any]) -> int:
        for (_, descending), va, vb in zip(self.specs, a, b, strict=False):
            result = _cmp_nullable(va, vb)
            if result:
                return -result if descending else result
        return _cmp_nullable(a[-1], b[-1])

    def compare(self, a: IssueDoc, b: IssueDoc) -> int:
        return self.compare_keys(self.key(a), self.key(b))


def compile_order(order: tuple[SortKey, ...], catalog: Catalog) -> SortOrder:
    specs: list[tuple[FieldSpec, bool]] = []
    for key in order or DEFAULT_ORDER:
        spec = field_spec(key.field, catalog)
        if not spec.sortable:
            raise JqlError(f"Field '{spec.display}' does not support sorting.")
        specs.append((spec, key.descending))
    return SortOrder(specs)


def _cmp_nullable(a: Any, b: Any) -> int:
    if a is None or b is None:  # empty sorts after any value (ascending)
        return (a is None) - (b is None)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        a, b = list(a), list(b)
    elif type(a) is not type(b):
        a, b = str(a), str(b)
    return (a > b) - (a < b)


def compile_query(query: Query, catalog: Catalog) -> CompiledQuery:
    """Check every part of ``query`` against ``catalog``; raises :class:`JqlError`."""
    predicate: Predicate = compile_node(query.where, catalog) if query.where else (lambda _d: True)
    order = compile_order(query.order_by, catalog)
    return CompiledQuery(predicate, order, bounded=query.where is not None)
