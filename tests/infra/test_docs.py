"""The deploy guide's configuration reference covers every variable the settings read."""

from __future__ import annotations

import re

from infra.package import ROOT


def test_configuration_reference_lists_every_setting() -> None:
    source = (ROOT / "chalicelib" / "config.py").read_text()
    read = set(re.findall(r'"(TWINSYNC_[A-Z0-9_]+)"', source))
    table = (ROOT / "docs" / "deploy.md").read_text().split("## Configuration reference")[1]
    documented = set(re.findall(r"^\| `(TWINSYNC_[A-Z0-9_]+)`", table, flags=re.MULTILINE))
    assert read, "no variables found in chalicelib/config.py"
    assert read - documented == set(), "add them to docs/deploy.md"
