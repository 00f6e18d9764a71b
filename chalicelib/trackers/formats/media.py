"""Media references Jira Cloud cannot resolve become visible text instead of a 400.

Wiki markup (and ADF written by another site) refers to an attachment by file name; Jira
Cloud's ADF needs the media id of an attachment on *this* site, which the REST API does
not expose. A media node without an id is therefore written as a short paragraph naming
the file (the attachment itself is synced separately, so it is on the issue).
"""

from __future__ import annotations

from typing import Any

MEDIA_BLOCKS = ("mediaSingle", "mediaGroup")


def _media_names(node: dict[str, Any]) -> list[str] | None:
    """File names of a media block's children, or None if every child has an id."""
    names: list[str] = []
    unresolved = False
    for child in node.get("content") or []:
        if not isinstance(child, dict) or child.get("type") != "media":
            continue
        attrs = child.get("attrs") or {}
        if not attrs.get("id") and attrs.get("type") != "external":
            unresolved = True
        names.append(str(attrs.get("alt") or attrs.get("id") or "attachment"))
    return names if unresolved else None


def _placeholder(names: list[str]) -> dict[str, Any]:
    text = ", ".join(names) or "attachment"
    return {"type": "paragraph", "content": [{"type": "text", "text": f"[attachment: {text}]"}]}


def resolve_unknown_media(doc: Any) -> Any:
    """``doc`` with every media block lacking an id replaced by a placeholder paragraph."""
    if not isinstance(doc, dict):
        return doc

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node.get("type") in MEDIA_BLOCKS:
            names = _media_names(node)
            if names is not None:
                return _placeholder(names)
        content = node.get("content")
        if isinstance(content, list):
            return {**node, "content": [walk(child) for child in content]}
        return node

    return walk(doc)
