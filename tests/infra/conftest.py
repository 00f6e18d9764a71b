"""Templates under test: the merge template (fast, pure) and the packaged one (runs Chalice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.package import Package, build, merge_template


@pytest.fixture(scope="session")
def merged() -> dict[str, Any]:
    """The merge template, built without running ``chalice package``."""
    template, _ = merge_template("prod")
    return template


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """``chalice package`` once per session (a few seconds; wheels come from PyPI)."""
    return build("prod", tmp_path_factory.mktemp("package") / "out")


@pytest.fixture(scope="session")
def packaged(package: Package) -> dict[str, Any]:
    return json.loads(Path(package.template).read_text())


@pytest.fixture(params=["merged", "packaged"])
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each structural check runs on both: the merge template and what Chalice made of it."""
    return request.getfixturevalue(request.param)
