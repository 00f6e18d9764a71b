"""Where the shared Jira reference data lives (beside the checkout, never copied in)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
JIRA_DATA = SHARED / "data" / "jira"


def jira_data(*parts: str) -> Path:
    """Path of a file under ``../shared/data/jira``; skips the test if the data is absent."""
    path = JIRA_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared Jira reference data not found at {path}")
    return path
