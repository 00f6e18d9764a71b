"""The one IAM policy of Twinsync's functions: exactly our tables, queues, bucket, KMS key
and secret.

Chalice's generated policy sees only boto3 calls written in ``app.py``, so it would grant
nothing our ``chalicelib`` code needs; ``autogen_policy`` is off and this module writes the
policy instead, with CloudFormation intrinsics so that it names this stack's resources and
nothing else (no ``*`` resource for any data action).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DYNAMODB_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
]
# Send and change visibility (backoff) from any function; receive/delete/attributes are
# what the SQS event source mapping does with the consuming function's role.
SQS_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
]
S3_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
# Sealing and opening connection keys (chalicelib.connections.sealing); nothing else.
KMS_ACTIONS = ["kms:Decrypt", "kms:Encrypt"]


def _of_type(resources: Mapping[str, Any], kind: str) -> list[str]:
    return sorted(k for k, v in resources.items() if v.get("Type") == kind)


def work_queues(resources: Mapping[str, Any]) -> list[str]:
    """The queues functions use (the ones with a redrive policy, i.e. not the DLQs)."""
    return [
        k
        for k in _of_type(resources, "AWS::SQS::Queue")
        if "RedrivePolicy" in resources[k].get("Properties", {})
    ]


def dead_letter_queues(resources: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            resources[q]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for q in work_queues(resources)
        }
    )


def secret_arn(secret_id: str) -> dict[str, str]:
    """ARN pattern of a secret by name: Secrets Manager appends ``-`` and six characters."""
    return {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
        f":secret:{secret_id}-??????"
    }


def function_policy(
    resources: Mapping[str, Any],
    *,
    secret: Any = None,
    invoke: list[str] | None = None,
) -> dict[str, Any]:
    """Policy document for the functions that do Twinsync's work.

    ``secret`` is the secret's ARN (an intrinsic such as ``{"Ref": "SecretArn"}``, or
    :func:`secret_arn` of a name); ``None`` grants no secret.
    """
    tables = _of_type(resources, "AWS::DynamoDB::Table")
    table_arns: list[Any] = []
    for table in tables:
        table_arns.append({"Fn::GetAtt": [table, "Arn"]})
        if resources[table]["Properties"].get("GlobalSecondaryIndexes"):
            table_arns.append({"Fn::Sub": f"${{{table}.Arn}}/index/*"})
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
                ":log-group:/aws/lambda/${AWS::StackName}-*"
            },
        },
        {"Sid": "Tables", "Effect": "Allow", "Action": DYNAMODB_ACTIONS, "Resource": table_arns},
        {
            "Sid": "Queues",
            "Effect": "Allow",
            "Action": SQS_ACTIONS,
            "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in work_queues(resources)],
        },
        {
            # the health report reads how many messages wait in each dead-letter queue
            "Sid": "DeadLetterDepth",
            "Effect": "Allow",
            "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            "Resource": [{"Fn::GetAtt": [q, "Arn"]} for q in dead_letter_queues(resources)],
        },
        {
            "Sid": "Blobs",
            "Effect": "Allow",
            "Action": S3_OBJECT_ACTIONS,
            "Resource": [
                {"Fn::Sub": f"${{{b}.Arn}}/*"} for b in _of_type(resources, "AWS::S3::Bucket")
            ],
        },
        {
            "Sid": "ConnectionKeys",
            "Effect": "Allow",
            "Action": KMS_ACTIONS,
            "Resource": [{"Fn::GetAtt": [k, "Arn"]} for k in _of_type(resources, "AWS::KMS::Key")],
        },
    ]
    if secret:
        statements.append(
            {
                "Sid": "Secrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": secret,
            }
        )
    if invoke:
        statements.append(
            {
                "Sid": "Sandbox",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [{"Fn::GetAtt": [f, "Arn"]} for f in invoke],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
