"""The policy file for a plain ``chalice deploy`` (``.chalice/policy-<stage>.json``).

``chalice deploy`` cannot use CloudFormation intrinsics, so this writes the same
statements as :mod:`infra.policy` with the physical names that ``infra/resources.json``
gets when it is deployed as a stack named ``stack``. The packaged template ignores this
file (the merge template replaces each role's policy), but Chalice still reads it.

    python -m infra.deploy_policy --stage prod [--stack twinsync]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.policy import (
    DYNAMODB_ACTIONS,
    KMS_ACTIONS,
    S3_OBJECT_ACTIONS,
    SQS_ACTIONS,
    work_queues,
)

ROOT = Path(__file__).resolve().parent.parent
# chalice deploy binds the SQS handlers to the literal queue names in app.py
# ("twinsync-ingest.fifo"), which the resources get only in a stack named "twinsync".
DEFAULT_STACK = "twinsync"


def _physical_name(props: Mapping[str, Any], key: str, stack: str) -> str:
    return props[key]["Fn::Sub"].replace("${AWS::StackName}", stack)


def static_policy(
    resources_template: Mapping[str, Any],
    *,
    stack: str,
    app_name: str,
    stage: str,
    secret_id: str | None,
) -> dict[str, Any]:
    """Policy document naming the resources of stack ``stack`` (any region and account)."""
    resources = resources_template["Resources"]
    table_arns: list[str] = []
    for _, res in sorted(resources.items()):
        if res["Type"] != "AWS::DynamoDB::Table":
            continue
        arn = f"arn:aws:dynamodb:*:*:table/{_physical_name(res['Properties'], 'TableName', stack)}"
        table_arns.append(arn)
        if res["Properties"].get("GlobalSecondaryIndexes"):
            table_arns.append(f"{arn}/index/*")
    queue_arns = [
        f"arn:aws:sqs:*:*:{_physical_name(resources[q]['Properties'], 'QueueName', stack)}"
        for q in work_queues(resources)
    ]
    buckets = [k for k, v in sorted(resources.items()) if v["Type"] == "AWS::S3::Bucket"]
    # A bucket without BucketName is named "<stack>-<logical id>-<random>", lower case.
    bucket_arns = [f"arn:aws:s3:::{stack.lower()}-{b.lower()}-*/*" for b in buckets]
    # A key's ARN holds a random id; the stack's key is the one its alias names.
    aliases = [
        _physical_name(v["Properties"], "AliasName", stack)
        for _, v in sorted(resources.items())
        if v["Type"] == "AWS::KMS::Alias"
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:*:*:log-group:/aws/lambda/{app_name}-{stage}-*",
        },
        {"Sid": "Tables", "Effect": "Allow", "Action": DYNAMODB_ACTIONS, "Resource": table_arns},
        {"Sid": "Queues", "Effect": "Allow", "Action": SQS_ACTIONS, "Resource": queue_arns},
        {"Sid": "Blobs", "Effect": "Allow", "Action": S3_OBJECT_ACTIONS, "Resource": bucket_arns},
        {
            "Sid": "ConnectionKeys",
            "Effect": "Allow",
            "Action": KMS_ACTIONS,
            "Resource": "arn:aws:kms:*:*:key/*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases}},
        },
    ]
    if secret_id:
        statements.append(
            {
                "Sid": "Secrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": f"arn:aws:secretsmanager:*:*:secret:{secret_id}-??????",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def main(argv: list[str] | None = None) -> int:
    from infra.package import chalice_config, load_resources, stage_variable

    parser = argparse.ArgumentParser(prog="python -m infra.deploy_policy", description=__doc__)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--stack", default=DEFAULT_STACK)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", args.stack):
        parser.error("--stack must be a CloudFormation stack name")
    policy = static_policy(
        load_resources(),
        stack=args.stack,
        app_name=chalice_config()["app_name"],
        stage=args.stage,
        secret_id=stage_variable(args.stage, "TWINSYNC_SECRETS_ID"),
    )
    target = ROOT / ".chalice" / f"policy-{args.stage}.json"
    target.write_text(json.dumps(policy, indent=2) + "\n")
    print(f"wrote {target} for the resources stack {args.stack!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
