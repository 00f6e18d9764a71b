"""Cloud's check of ADF bodies (REST v3 description, environment, comments) (issue 14).

Jira Cloud refuses a v3 body that is not a document it can store with
``400 {"errorMessages": ["INVALID_INPUT"], "errors": {}}``: it must be a ``doc`` of
``version`` 1 whose top level holds block nodes, every node a known type in a place that
type may be (no text straight under ``doc``, no paragraph in a ``text``…), text nodes not
empty, marks known, and every ``media`` of a file naming media the site has.

The node types and their nesting come from Atlassian's full ADF JSON schema
(``data/jira/adf/adf-schema-full-v1.json``; ``tests/sandbox/test_adf_check.py`` checks
:data:`CHILDREN` against it), widened where real documents Cloud accepts go beyond it
(:data:`BEYOND_SCHEMA`): that schema is stricter than Cloud, and most real ADF fails it.
Attributes are not checked, nor where marks may go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import JiraError
from .store import Store

INLINE = frozenset(
    {
        "date",
        "emoji",
        "hardBreak",
        "inlineCard",
        "inlineExtension",
        "mediaInline",
        "mention",
        "placeholder",
        "status",
        "text",
    }
)
# what an expand, a bodied extension or a layout column may hold
NESTABLE = frozenset(
    {
        "blockCard",
        "blockquote",
        "bulletList",
        "codeBlock",
        "decisionList",
        "embedCard",
        "extension",
        "heading",
        "mediaGroup",
        "mediaSingle",
        "orderedList",
        "panel",
        "paragraph",
        "rule",
        "table",
        "taskList",
    }
)
TOP_LEVEL = NESTABLE | {"bodiedExtension", "expand", "layoutSection"}
CELL = (NESTABLE - {"table"}) | {"nestedExpand"}
LEAVES = (
    "blockCard",
    "date",
    "embedCard",
    "emoji",
    "extension",
    "hardBreak",
    "inlineCard",
    "inlineExtension",
    "media",
    "mediaInline",
    "mention",
    "placeholder",
    "rule",
    "status",
    "text",
)

# node type -> the node types its content may hold
CHILDREN: dict[str, frozenset[str]] = {
    "doc": TOP_LEVEL,
    "paragraph": INLINE,
    "heading": INLINE,
    "caption": INLINE - {"inlineExtension", "mediaInline"},
    "decisionItem": INLINE,
    "taskItem": INLINE,
    "codeBlock": frozenset({"text"}),
    "blockquote": frozenset({"paragraph"}),
    "bulletList": frozenset({"listItem"}),
    "orderedList": frozenset({"listItem"}),
    "listItem": frozenset({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle"}),
    "panel": frozenset({"paragraph", "heading", "bulletList", "orderedList", "blockCard"}),
    "expand": NESTABLE,
    "nestedExpand": frozenset({"paragraph", "heading", "mediaGroup", "mediaSingle"}),
    "bodiedExtension": NESTABLE,
    "layoutSection": frozenset({"layoutColumn"}),
    "layoutColumn": TOP_LEVEL - {"layoutSection"},
    "decisionList": frozenset({"decisionItem"}),
    "taskList": frozenset({"taskItem", "taskList"}),
    "mediaGroup": frozenset({"media"}),
    "mediaSingle": frozenset({"media", "caption"}),
    "table": frozenset({"tableRow"}),
    "tableRow": frozenset({"tableCell", "tableHeader"}),
    "tableCell": CELL,
    "tableHeader": CELL,
    **{leaf: frozenset() for leaf in LEAVES},
}
# where real documents that Cloud stores go beyond the schema (the samples show them)
BEYOND_SCHEMA: dict[str, frozenset[str]] = {
    "blockquote": frozenset(
        {"bulletList", "orderedList", "codeBlock", "mediaGroup", "mediaSingle"}
    ),
    "panel": frozenset(
        {"codeBlock", "mediaGroup", "mediaSingle", "rule", "decisionList", "taskList"}
    ),
    "expand": frozenset({"nestedExpand"}),
    "nestedExpand": CELL - {"nestedExpand"},
}
for _parent, _extra in BEYOND_SCHEMA.items():
    CHILDREN[_parent] = CHILDREN[_parent] | _extra

MARKS = frozenset(
    {
        "alignment",
        "annotation",
        "backgroundColor",  # newer than the schema; real documents carry it
        "border",
        "breakout",
        "code",
        "dataConsumer",
        "em",
        "fragment",
        "indentation",
        "link",
        "strike",
        "strong",
        "subsup",
        "textColor",
        "underline",
    }
)
MEDIA_TYPES = ("file", "link", "external")

MediaKnown = Callable[[str], bool]


class InvalidAdf(ValueError):
    """Why a document is refused (the answer itself says only INVALID_INPUT, as Cloud)."""


def invalid_input() -> JiraError:
    return JiraError(400, ["INVALID_INPUT"])


def problem(doc: Any, media_known: MediaKnown) -> str | None:
    """What is wrong with ``doc`` as Cloud sees it, or ``None`` when Cloud would take it."""
    try:
        _check_doc(doc, media_known)
    except InvalidAdf as exc:
        return str(exc)
    return None


def check(doc: Any, media_known: MediaKnown) -> None:
    """Cloud's 400 ``INVALID_INPUT`` unless ``doc`` is a document Cloud would store."""
    if problem(doc, media_known) is not None:
        raise invalid_input()


def _check_doc(doc: Any, media_known: MediaKnown) -> None:
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise InvalidAdf("not a doc")
    version = doc.get("version")
    if version != 1 or isinstance(version, bool):
        raise InvalidAdf(f"doc version {version!r}, not 1")
    _check_content(doc, "doc", media_known, "doc")


def _check_content(node: dict[str, Any], kind: str, media_known: MediaKnown, path: str) -> None:
    content = node.get("content", [])
    if not isinstance(content, list):
        raise InvalidAdf(f"{path}: content is not a list")
    allowed = CHILDREN[kind]
    for i, child in enumerate(content):
        where = f"{path}/{i}"
        if not isinstance(child, dict) or not isinstance(child.get("type"), str):
            raise InvalidAdf(f"{where}: not a node")
        child_kind = child["type"]
        if child_kind not in CHILDREN:
            raise InvalidAdf(f"{where}: unknown node type {child_kind!r}")
        if child_kind not in allowed:
            raise InvalidAdf(f"{where}: {child_kind} may not be in {kind}")
        _check_node(child, child_kind, media_known, where)


def _check_node(node: dict[str, Any], kind: str, media_known: MediaKnown, path: str) -> None:
    if kind == "text" and not (isinstance(node.get("text"), str) and node["text"]):
        raise InvalidAdf(f"{path}: empty text node")
    marks = node.get("marks", [])
    if not isinstance(marks, list):
        raise InvalidAdf(f"{path}: marks is not a list")
    for mark in marks:
        if not isinstance(mark, dict) or mark.get("type") not in MARKS:
            raise InvalidAdf(f"{path}: unknown mark {mark!r}")
    if kind == "media":
        _check_media(node, media_known, path)
    _check_content(node, kind, media_known, path)


def _check_media(node: dict[str, Any], media_known: MediaKnown, path: str) -> None:
    attrs = node.get("attrs")
    if not isinstance(attrs, dict) or attrs.get("type") not in MEDIA_TYPES:
        raise InvalidAdf(f"{path}: media without a type of {', '.join(MEDIA_TYPES)}")
    if attrs["type"] == "external":
        if not attrs.get("url"):
            raise InvalidAdf(f"{path}: external media without a url")
        return
    media_id = attrs.get("id")
    if not isinstance(media_id, str) or not media_id or not media_known(media_id):
        raise InvalidAdf(f"{path}: media {media_id!r} does not exist")


# --- the sandbox's media, and the requests that carry bodies -----------------------------


def _media_ids(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if node.get("type") == "media":
            media_id = (node.get("attrs") or {}).get("id")
            if isinstance(media_id, str):
                yield media_id
        for child in node.get("content") or ():
            yield from _media_ids(child)
    elif isinstance(node, list):
        for child in node:
            yield from _media_ids(child)


def site_media(store: Store) -> MediaKnown:
    """Media the site has: each attachment (its media id is its id here) and media already
    in documents it stores (a body sent back with the media Jira put in it)."""

    def known(media_id: str) -> bool:
        if media_id in store.attachments:
            return True
        bodies: list[Any] = [c.body for c in store.comments.values()]
        for issue in store.issues.values():
            bodies += [issue.description, issue.environment]
        return any(media_id in _media_ids(body) for body in bodies)

    return known


def _fields_bodies(raw: dict[str, Any]) -> Iterable[Any]:
    fields = raw.get("fields")
    if isinstance(fields, dict):
        for name in ("description", "environment"):
            yield fields.get(name)
    update = raw.get("update")
    if isinstance(update, dict):
        for name in ("description", "environment"):
            for op in update.get(name) or ():
                if isinstance(op, dict):
                    yield op.get("set")


def check_request(store: Store, version: int, raw: Any, *, comment: bool = False) -> None:
    """Cloud's 400 ``INVALID_INPUT`` when an ADF body of a v3 issue or comment request is
    not a document Cloud would store. Only values shaped as a ``doc`` are checked here;
    other values get the field errors of :mod:`.fields`."""
    if store.flavour != "cloud" or version != 3 or not isinstance(raw, dict):
        return
    bodies = [raw.get("body")] if comment else list(_fields_bodies(raw))
    media = site_media(store)
    for body in bodies:
        if isinstance(body, dict) and body.get("type") == "doc":
            check(body, media)
