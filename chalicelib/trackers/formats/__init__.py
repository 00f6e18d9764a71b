"""Rich-text conversion between the body formats trackers use.

* ``"adf"``: Atlassian Document Format, the JSON document of Jira Cloud REST v3;
* ``"wiki"``: Jira wiki markup, the string bodies of Jira Server / Data Center REST v2;
* ``"text"``: plain text.

The converters are total: malformed input (``None``, wrong types, unknown nodes or
marks) degrades to its text, never to an exception, because one odd comment must not
stop a sync. What each direction keeps and loses is listed in this package's ``README.md``.

Media: ADF references an attachment by media id, wiki by file name. Converting to wiki
writes ``!file.png!`` (``[^file.pdf]`` for non-images) from the media node's ``alt``
(Jira Cloud sets it to the file name); converting from wiki gives a ``media`` node of
type ``"file"`` whose ``attrs`` hold only ``alt`` = the file name, a lossless reference
that the Cloud adapter must resolve to the attachment's media id before writing.
"""

from __future__ import annotations

from typing import Any, Literal

from .adf import as_doc
from .adf_to_wiki import adf_to_wiki
from .text import adf_to_text, text_to_adf
from .wiki_to_adf import wiki_to_adf

Format = Literal["adf", "wiki", "text"]
FORMATS: tuple[Format, ...] = ("adf", "wiki", "text")

__all__ = [
    "FORMATS",
    "Format",
    "adf_to_text",
    "adf_to_wiki",
    "convert",
    "text_to_adf",
    "wiki_to_adf",
]


def _to_adf(body_format: str, value: Any) -> dict[str, Any]:
    if body_format == "adf":
        return as_doc(value)
    if body_format == "wiki":
        return wiki_to_adf(value)
    return text_to_adf(value)


def convert(body_format_from: str, value: Any, to: str) -> Any:
    """Convert a body from one format to another (ADF is the hub).

    Same format in and out returns the value unchanged (an ADF value is only coerced
    to a document). Raises ``ValueError`` for a format name outside ``FORMATS``: that
    is a programming error, unlike odd content."""
    for name in (body_format_from, to):
        if name not in FORMATS:
            raise ValueError(f"unknown body format {name!r}; expected one of {FORMATS}")
    if body_format_from == to:
        if to == "adf":
            return as_doc(value)
        return value if isinstance(value, str) else ("" if value is None else str(value))
    document = _to_adf(body_format_from, value)
    if to == "adf":
        return document
    if to == "wiki":
        return adf_to_wiki(document)
    return adf_to_text(document)
