"""adf -> wiki -> adf on every ADF sample in the shared reference data."""

from __future__ import annotations

import pytest

from chalicelib.trackers.formats import adf_to_wiki, wiki_to_adf
from tests.shared_data import jira_data

from .helpers import SAMPLE_NAMES, comparable_text, load_sample, signature

pytestmark = pytest.mark.skipif(not SAMPLE_NAMES, reason="shared ADF samples absent")


@pytest.fixture(params=SAMPLE_NAMES or ["none"])
def sample(request: pytest.FixtureRequest) -> dict:
    jira_data("adf", "samples", request.param)
    return load_sample(request.param)


def test_text_survives_adf_wiki_adf(sample: dict) -> None:
    back = wiki_to_adf(adf_to_wiki(sample))
    assert comparable_text(back) == comparable_text(sample)


def test_supported_structure_survives_adf_wiki_adf(sample: dict) -> None:
    back = wiki_to_adf(adf_to_wiki(sample))
    assert signature(back) == signature(sample)


def test_wiki_written_from_a_sample_is_a_fixed_point(sample: dict) -> None:
    wiki = adf_to_wiki(sample)
    assert adf_to_wiki(wiki_to_adf(wiki)) == wiki


def test_samples_cover_what_the_converter_claims() -> None:
    seen = set()
    for name in SAMPLE_NAMES:
        seen.update(signature(load_sample(name)))
    for kind in (
        "heading:1",
        "bulletList",
        "orderedList",
        "codeBlock:python",
        "blockquote",
        "panel:info",
        "table",
        "tableHeader",
        "rule",
        "mention:5fb82376aca10c006949f35b",
    ):
        assert kind in seen


def test_normalisation_drops_only_the_mention_display_name() -> None:
    doc = {
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "mention", "attrs": {"id": "abc", "text": "@Alice"}}],
            }
        ],
    }
    assert comparable_text(doc) == "@abc"
    assert signature(doc) == ["mention:abc"]
