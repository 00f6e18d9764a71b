"""The security scan of the packaged template (checkov), and every finding we accept, with why.

checkov runs from a venv of its own (``.venv-scan/``, pinned in ``requirements-scan.txt``,
made by ``make scan-venv``, which ``make test`` and ``make package`` depend on): it pins
boto3/botocore and ``packaging`` far from ``requirements-dev.txt``, so installing it into
``.venv`` would change our pins.

An accepted finding is skipped here, by check id, with its reason; a check that starts
failing for any other reason fails ``make package`` and ``tests/infra/test_scan.py``.

    python -m infra.scan [out/sam.json]
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCAN_VENV = ROOT / ".venv-scan"
CHECKOV = SCAN_VENV / "bin" / "checkov"

# check id -> why this template accepts the finding (read before adding one).
SKIPS: dict[str, str] = {
    "CKV_AWS_116": "Lambda's own DLQ only catches asynchronous invocations. Ours are run by "
    "SQS event sources (each queue has a dead-letter queue with an alarm), by API Gateway "
    "(synchronous: the caller gets the error) and by schedules (the next run, a minute "
    "later, takes over); the script runner is invoked synchronously by apply.",
    "CKV_AWS_117": "No VPC: the functions reach the tenant's Jira and peer nodes over the "
    "internet and nothing private; a VPC would add a NAT gateway per tenant (about "
    "$32/month per AZ) and cold-start latency for no isolation gained.",
    "CKV_AWS_173": "Environment variables hold resource names and non-secret settings only; "
    "secrets are read from Secrets Manager (SecretArn). Lambda encrypts them at rest with "
    "its AWS-managed key.",
    "CKV_AWS_119": "Tables use DynamoDB's encryption at rest (SSESpecification, AWS-owned "
    "key). A customer-managed key per tenant is the KMS work of issue 15's other half; "
    "remove this skip when the tables take that key.",
    "CKV_AWS_27": "Queues are encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which "
    "checkov does not recognise (it looks for KmsMasterKeyId only). Same KMS follow-up as "
    "CKV_AWS_119.",
    "CKV_AWS_158": "Log groups are encrypted at rest by CloudWatch Logs by default; a "
    "customer-managed key needs a key policy for the logs service: same KMS follow-up.",
    "CKV_AWS_73": "X-Ray is a Parameter (Tracing, default PassThrough: traces are billed); "
    "checkov cannot evaluate the Fn::If that turns it on.",
    "CKV_AWS_120": "No API caching: every answer is per caller and live (admin reads, peer "
    "calls, webhooks); a cache would serve stale or another caller's data and costs per hour.",
    "CKV_AWS_18": "The attachment bucket holds transient copies (expire after 14 days), read "
    "and written only by the functions' roles; access logs would need a second bucket per "
    "tenant. CloudTrail S3 data events are the account-level option (operations guide).",
    "CKV_AWS_258": "The outbox_poll function URL is AuthType NONE by design (issue 19): its "
    "callers are peer nodes in other accounts with no IAM identity here, and every call "
    "carries the connection's JWT (per-connection key, audience, expiry, replay-checked jti), "
    "verified by the same route code as behind the API; it serves only a private peer's "
    "pull (chalicelib/api/pull_url.py), any other path is 404 without running a route.",
    "CKV_AWS_21": "No versioning on the attachment bucket: its objects are transient copies; "
    "versions would keep deleted attachments past their 14-day expiry.",
}


@dataclass(frozen=True)
class ScanResult:
    returncode: int
    failed: list[tuple[str, str]]  # (check id, resource)
    passed: int
    output: str


def ensure_scanner() -> Path:
    if not CHECKOV.exists():
        raise FileNotFoundError(
            f"{CHECKOV} is missing: run `make scan-venv` (installs requirements-scan.txt)"
        )
    return CHECKOV


def scan(template: Path) -> ScanResult:
    """checkov over ``template`` with :data:`SKIPS`; the parsed failures."""
    completed = subprocess.run(
        [
            str(ensure_scanner()),
            *("--file", str(template), "--framework", "cloudformation"),
            *("--skip-check", ",".join(sorted(SKIPS))),
            *("--output", "json", "--compact", "--skip-download"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    failed: list[tuple[str, str]] = []
    passed = 0
    try:
        report = json.loads(completed.stdout) if completed.stdout.strip() else {}
    except ValueError:
        report = {}
    for part in report if isinstance(report, list) else [report]:
        results = part.get("results", {}) if isinstance(part, dict) else {}
        failed += [(f["check_id"], f["resource"]) for f in results.get("failed_checks", [])]
        passed += int(part.get("summary", {}).get("passed", 0)) if isinstance(part, dict) else 0
    return ScanResult(completed.returncode, failed, passed, completed.stdout + completed.stderr)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    template = Path(args[0]) if args else ROOT / "out" / "sam.json"
    result = scan(template)
    if result.failed or result.returncode != 0:
        for check, resource in result.failed:
            print(f"checkov: {check} failed for {resource}", file=sys.stderr)
        if not result.failed:
            print(result.output[-4000:], file=sys.stderr)
        return 1
    print(f"checkov: clean ({result.passed} checks passed, {len(SKIPS)} accepted: infra/scan.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
