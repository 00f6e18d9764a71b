"""The little ADF the sandbox needs: plain text out of a document, and text into one.

The real ADF <-> wiki converters live in ``chalicelib/trackers/formats``; the sandbox only
stores bodies as each flavour's API gives them, extracts words for ``text ~`` and serves a
text rendering where a REST v2 shape is asked of a Cloud site (webhooks, ``/rest/api/2``).
"""

from __future__ import annotations

from typing import Any


def is_doc(value: Any) -> bool:
    """True for something shaped like an ADF document (lenient: real ADF is open-ended)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and isinstance(value.get("content", []), list)
    )


def to_text(node: Any) -> str:
    """Plain text of an ADF node; unknown nodes give their text, never an exception."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind == "media":
        return str(attrs.get("alt") or attrs.get("id") or "")
    parts = [to_text(child) for child in node.get("content") or []]
    sep = "\n" if kind in ("doc", "bulletList", "orderedList", "table", "blockquote") else ""
    return sep.join(p for p in parts if p) if sep else "".join(parts)


def from_text(text: str) -> dict[str, Any]:
    """A minimal ADF document holding ``text``: one paragraph per line block."""
    content = []
    for block in text.split("\n\n"):
        if not block:
            continue
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}
