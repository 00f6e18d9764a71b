"""Total accessors and builders for ADF nodes.

Tracker bodies come from outside and may be anything; every reader here returns an
empty value for a missing or mistyped part instead of raising, so the converters can
degrade instead of failing a sync.
"""

from __future__ import annotations

import json
from typing import Any

Node = dict[str, Any]

INLINE_TYPES = frozenset(
    {
        "text",
        "hardBreak",
        "mention",
        "emoji",
        "date",
        "status",
        "inlineCard",
        "mediaInline",
        "placeholder",
        "inlineExtension",
    }
)


def doc(content: list[Node] | None = None) -> Node:
    """An ADF document (version 1) with the given block content."""
    return {"type": "doc", "version": 1, "content": list(content or [])}


def as_doc(value: Any) -> Node:
    """Coerce whatever a tracker handed us into a document node (never raises)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return doc([paragraph([text(value)])]) if value else doc()
    if isinstance(value, list):
        return doc([n for n in value if isinstance(n, dict)])
    if not isinstance(value, dict):
        return doc()
    if node_type(value) == "doc":
        return value
    return doc([value])


def node_type(node: Any) -> str:
    """The node's ``type``, or "" when absent or not a string."""
    kind = node.get("type") if isinstance(node, dict) else None
    return kind if isinstance(kind, str) else ""


def children(node: Any) -> list[Node]:
    """The node's ``content`` items that are nodes (dicts)."""
    content = node.get("content") if isinstance(node, dict) else None
    if not isinstance(content, list):
        return []
    return [c for c in content if isinstance(c, dict)]


def attrs(node: Any) -> dict[str, Any]:
    """The node's ``attrs`` dict (empty when missing)."""
    value = node.get("attrs") if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def attr_str(node: Any, key: str) -> str:
    """One attribute as a string ("" when missing or null)."""
    value = attrs(node).get(key)
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def marks(node: Any) -> list[Node]:
    """The node's marks that are well-formed (dicts with a string type)."""
    value = node.get("marks") if isinstance(node, dict) else None
    if not isinstance(value, list):
        return []
    return [m for m in value if node_type(m)]


def text_of(node: Any) -> str:
    """The ``text`` of a text node ("" for anything else)."""
    value = node.get("text") if isinstance(node, dict) else None
    return value if isinstance(value, str) else ""


def is_inline(node: Any) -> bool:
    """Whether the node is one ADF places inside paragraphs."""
    return node_type(node) in INLINE_TYPES


def text(value: str, node_marks: list[Node] | None = None) -> Node:
    """A text node; marks only when there are some (ADF rejects empty text anyway)."""
    node: Node = {"type": "text", "text": value}
    if node_marks:
        node["marks"] = node_marks
    return node


def paragraph(inline: list[Node] | None = None) -> Node:
    """A paragraph holding inline nodes."""
    return {"type": "paragraph", "content": list(inline or [])}


def block(kind: str, content: list[Node], **node_attrs: Any) -> Node:
    """A container node; ``attrs`` only when given."""
    node: Node = {"type": kind, "content": content}
    if node_attrs:
        node["attrs"] = node_attrs
    return node


def mark_key(mark: Node) -> str:
    """A hashable identity for a mark (type plus attrs), used to compare mark sets."""
    return json.dumps([node_type(mark), attrs(mark)], sort_keys=True, default=str)
