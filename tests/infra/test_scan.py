"""The security scanner (checkov) passes on the packaged template, with every accepted
finding written down in ``infra/scan.py`` with its reason; and it is not a no-op.

checkov lives in ``.venv-scan/`` (``make scan-venv``; ``make test`` makes it): a missing
scanner fails these tests rather than skipping them.
"""

from __future__ import annotations

import json
from pathlib import Path

from infra.package import Package
from infra.scan import SKIPS, scan


def test_packaged_template_passes_the_security_scan(package: Package) -> None:
    result = scan(Path(package.template))
    assert result.failed == [], result.failed
    assert result.returncode == 0, result.output[-3000:]
    assert result.passed > 100  # it did look at the template


def test_every_accepted_finding_says_why() -> None:
    for check, reason in SKIPS.items():
        assert check.startswith("CKV_"), check
        assert len(reason.split()) >= 12, f"{check}: say why it is accepted"


def test_the_scanner_catches_what_we_do_not_accept(tmp_path: Path) -> None:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Forever": {"Type": "AWS::Logs::LogGroup", "Properties": {}},  # no retention
            "Plain": {"Type": "AWS::SNS::Topic", "Properties": {}},  # not encrypted
        },
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(template))
    failed = {check for check, _ in scan(path).failed}
    assert {"CKV_AWS_66", "CKV_AWS_26"} <= failed
