"""The CLI is installed as the ``twinsync`` console script and is never deployed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            package, version = line.split("==", 1)
            pins[package.split("[", 1)[0].lower()] = version
    return pins


def test_the_cli_shares_the_pins_it_overlaps_with() -> None:
    """The CLI keeps requests; the deployed app does not (it uses urllib3, issue 19), the
    tests, devstack and bench do: one version for the CLI and the dev/test environment."""
    cli, app, dev = (
        _pins("requirements-cli.txt"),
        _pins("requirements.txt"),
        _pins("requirements-dev.txt"),
    )
    assert {"click", "rich", "requests"} <= set(cli)
    assert "requests" not in app and dev["requests"] == cli["requests"]
    for other in (app, dev):
        assert {p: cli[p] for p in cli if p in other} == {p: other[p] for p in cli if p in other}


def test_the_build_installs_the_cli_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"twinsync": "twinsync_cli.main:main"}
    assert project["tool"]["setuptools"]["packages"] == ["twinsync_cli"]


def test_the_console_script_runs() -> None:
    script = Path(sys.executable).parent / "twinsync"
    assert script.exists(), "run `make venv` (it installs the CLI with pip install -e .)"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "twinsync" in result.stdout
