"""Normalisations under which a round trip through wiki markup must be lossless.

Wiki markup cannot say everything ADF can, so "adf -> wiki -> adf preserves the
document" is checked on two projections:

* ``comparable_text``: the plain text (``adf_to_text``) with runs of whitespace
  collapsed, after dropping what wiki cannot carry by design: a mention's display
  name (wiki writes ``[~accountid:ID]``; the text becomes ``@ID``).
* ``signature``: the pre-order sequence of the node types the converters promise to
  keep, with the attributes that matter (heading level, code language, panel type
  after the panel-macro mapping, media name, mention id, card URL). It does not look
  inside table cells (a wiki cell holds one line: its blocks are flattened to text
  joined by line breaks) nor at the non-list blocks of a list item (same reason), and
  it ignores paragraphs and hard breaks (expand titles, task items, captions and
  flattened blocks legitimately become paragraphs or line breaks).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from chalicelib.trackers.formats import adf_to_text
from chalicelib.trackers.formats.wiki_syntax import MACRO_TO_PANEL, PANEL_TO_MACRO
from tests.shared_data import JIRA_DATA

SAMPLES_DIR = JIRA_DATA / "adf" / "samples"
SAMPLE_NAMES = sorted(p.name for p in SAMPLES_DIR.glob("*.json")) if SAMPLES_DIR.exists() else []

_KEPT = {
    "heading": lambda a: f"heading:{a.get('level')}",
    "bulletList": None,
    "orderedList": None,
    "listItem": None,
    "codeBlock": lambda a: f"codeBlock:{a.get('language') or ''}",
    "blockquote": None,
    "panel": lambda a: "panel:" + MACRO_TO_PANEL[PANEL_TO_MACRO.get(a.get("panelType"), "panel")],
    "table": None,
    "tableRow": None,
    "tableHeader": None,
    "tableCell": None,
    "rule": None,
    "media": lambda a: "media:" + str(a.get("alt") or a.get("url") or ""),
    "mention": lambda a: f"mention:{a.get('id')}",
    "inlineCard": lambda a: f"inlineCard:{a.get('url')}",
}
_OPAQUE = {"tableHeader", "tableCell"}
_ITEM_KEPT = {"paragraph", "bulletList", "orderedList"}


def load_sample(name: str) -> dict[str, Any]:
    return json.loads(Path(SAMPLES_DIR / name).read_text())


def _without_mention_names(node: Any) -> Any:
    node = copy.deepcopy(node)

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            if n.get("type") == "mention" and isinstance(n.get("attrs"), dict):
                n["attrs"].pop("text", None)
            for child in n.get("content") or []:
                walk(child)

    walk(node)
    return node


def comparable_text(doc: Any) -> str:
    return " ".join(adf_to_text(_without_mention_names(doc)).split())


def signature(doc: Any) -> list[str]:
    out: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node.get("type")
        if kind in _KEPT:
            label = _KEPT[kind]
            out.append(label(node.get("attrs") or {}) if label else str(kind))
        if kind in _OPAQUE:
            return
        for child in node.get("content") or []:
            if not isinstance(child, dict):
                continue
            if kind == "listItem" and child.get("type") not in _ITEM_KEPT:
                continue
            walk(child)

    walk(doc)
    return out
