"""Media Jira Cloud could not resolve (wiki `!file.png!`) is written as text, not a 400."""

from chalicelib.trackers.formats import wiki_to_adf
from chalicelib.trackers.formats.media import resolve_unknown_media


def test_media_from_wiki_becomes_a_named_placeholder():
    doc = resolve_unknown_media(wiki_to_adf("Before\n\n!screenshot.png!\n\nAfter"))
    texts = [n["content"][0]["text"] for n in doc["content"] if n["type"] == "paragraph"]
    assert texts == ["Before", "[attachment: screenshot.png]", "After"]
    assert "mediaSingle" not in str(doc)


def test_media_with_an_id_is_kept():
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "mediaSingle",
                "content": [
                    {"type": "media", "attrs": {"id": "abc", "type": "file", "collection": "c"}}
                ],
            }
        ],
    }
    assert resolve_unknown_media(doc) == doc


def test_non_documents_pass_through():
    assert resolve_unknown_media(None) is None
    assert resolve_unknown_media("text") == "text"
