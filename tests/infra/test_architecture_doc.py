"""docs/architecture.md matches the code: the layers it draws are the ones ``make lint``
checks, and every module it names exists."""

from __future__ import annotations

import configparser
import re

from infra.package import ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text()


def _checked_layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"]
    return [line.strip() for line in layers.splitlines() if line.strip()]


def _drawn_layers() -> list[str]:
    drawing = DOC.split("## The layers", 1)[1].split("```", 2)[1]
    rows = [line.split("  ")[0].strip() for line in drawing.splitlines() if line.strip()]
    return rows


def _names(row: str) -> list[str]:
    return [n.strip().removeprefix("chalicelib.") for n in re.split(r"[|:]", row)]


def test_the_layers_drawn_are_the_layers_checked() -> None:
    checked = [_names(row) for row in _checked_layers()]
    drawn = [_names(row) for row in _drawn_layers()]
    assert drawn == checked


def test_every_module_the_page_names_exists() -> None:
    named = set(re.findall(r"`((?:chalicelib/)?[a-z_]+(?:/[a-z_]+)*\.py)", DOC))
    missing = []
    for path in sorted(named):
        full = path if path.startswith("chalicelib/") or path == "app.py" else f"chalicelib/{path}"
        if not (ROOT / full).exists() and not (ROOT / path).exists():  # bench/, tests/
            missing.append(path)
    assert named, "the page names no modules"
    assert missing == [], f"docs/architecture.md names modules that do not exist: {missing}"
