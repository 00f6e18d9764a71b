"""Read facts out of a CloudFormation/SAM template: what the structural tests ask about."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

FUNCTION = "AWS::Serverless::Function"
QUEUE = "AWS::SQS::Queue"
TABLE = "AWS::DynamoDB::Table"
_SUB_ARN = re.compile(r"^\$\{(?P<id>[A-Za-z0-9]+)\.Arn\}")


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Function resources; in the merge template, those that carry function properties."""
    found = of_type(template, FUNCTION)
    if found:
        return found
    return {
        k: v
        for k, v in template["Resources"].items()
        if "Type" not in v and "Timeout" in v.get("Properties", {})
    }


def referenced_id(value: Any) -> str | None:
    """The logical id an ARN-valued intrinsic points at (``GetAtt`` or ``Sub ${X.Arn}``)."""
    if isinstance(value, dict) and len(value) == 1:
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            match = _SUB_ARN.match(value["Fn::Sub"])
            return match["id"] if match else None
        if "Ref" in value:
            return value["Ref"]
    return None


def sqs_events(function: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, event in function.get("Properties", {}).get("Events", {}).items():
        if event.get("Type", "SQS") == "SQS" and "Queue" in event.get("Properties", {}):
            yield name, event["Properties"]


def dead_letter_queues(template: dict[str, Any]) -> set[str]:
    return {
        referenced_id(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) or ""
        for q in of_type(template, QUEUE).values()
        if "RedrivePolicy" in q["Properties"]
    }


def role_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Properties", {}).get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        yield from statements if isinstance(statements, list) else [statements]


def roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = of_type(template, "AWS::IAM::Role")
    if found:
        return found
    return {
        k: v
        for k, v in template["Resources"].items()
        if "Type" not in v and "Policies" in v.get("Properties", {})
    }


def intrinsic_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in ``node`` that holds an intrinsic function key."""
    if isinstance(node, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in node):
            yield node
        for value in node.values():
            yield from intrinsic_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from intrinsic_objects(item)
