"""The tenant's alarms, their encrypted topic, and its dashboard (merged by :mod:`infra.merge`).

Every alarm names what broke and what to do first (docs/operations-guide.md, "Alarms",
has the runbook for each). Metric names come from :mod:`infra.metrics` only.

The topic is encrypted with a key of its own: CloudWatch cannot publish to a topic
encrypted with the AWS-managed ``alias/aws/sns`` key (its policy cannot grant the
CloudWatch service), so alarms would fire into nothing. The key grants CloudWatch alarms
of this account only what publishing needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra import metrics
from infra.functions import FunctionSpec

TOPIC = "AlarmTopic"
TOPIC_KEY = "AlarmTopicKey"
DASHBOARD = "Dashboard"
# An alarm with metric math holds at most 10 metrics (one is the expression).
MAX_MATH_METRICS = 9
CATCH_UP_SUFFIX = "_catchup"
NODE = [{"Name": metrics.DIMENSION, "Value": {"Ref": "NodeId"}}]


def _actions() -> dict[str, Any]:
    return {"AlarmActions": [{"Ref": TOPIC}], "OKActions": [{"Ref": TOPIC}]}


def _alarm(description: str, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": {"Fn::Sub": f"${{AWS::StackName}}: {description}"},
            "TreatMissingData": "notBreaching",
            **props,
            **_actions(),
        },
    }


def topic() -> dict[str, Any]:
    """The key, the topic, and the optional e-mail subscription."""
    return {
        TOPIC_KEY: {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "Description": {"Fn::Sub": "${AWS::StackName}: encrypts the alarm topic"},
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "Account",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
                                }
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudWatchAlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                            },
                        },
                    ],
                },
            },
        },
        TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "DisplayName": {"Fn::Sub": "${AWS::StackName} alarms"},
                "KmsMasterKeyId": {"Ref": TOPIC_KEY},
            },
        },
        "AlarmEmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {
                "TopicArn": {"Ref": TOPIC},
                "Protocol": "email",
                "Endpoint": {"Ref": "AlarmEmail"},
            },
        },
    }


def dead_letter_queues(resources: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for q in resources.values()
            if q.get("Type") == "AWS::SQS::Queue" and "RedrivePolicy" in q.get("Properties", {})
        }
    )


def work_queues(resources: Mapping[str, Any]) -> list[str]:
    return sorted(
        k
        for k, q in resources.items()
        if q.get("Type") == "AWS::SQS::Queue" and "RedrivePolicy" in q.get("Properties", {})
    )


def _queue(queue: str) -> list[dict[str, Any]]:
    return [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]


def queue_alarms(resources: Mapping[str, Any]) -> dict[str, Any]:
    """Any message in a DLQ; a work queue whose oldest message waits too long."""
    alarms: dict[str, Any] = {}
    for dlq in dead_letter_queues(resources):
        alarms[f"{dlq}Alarm"] = _alarm(
            f"messages in ${{{dlq}.QueueName}} failed every retry without being recorded "
            "as an error; inspect, fix, redrive.",
            Namespace=metrics.SQS,
            MetricName=metrics.SQS_VISIBLE,
            Dimensions=_queue(dlq),
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
    for queue in work_queues(resources):
        alarms[f"{queue}AgeAlarm"] = _alarm(
            f"the oldest message in ${{{queue}.QueueName}} waits longer than "
            "${QueueAgeAlarmSeconds} s: its consumer is failing, throttled or too slow.",
            Namespace=metrics.SQS,
            MetricName=metrics.SQS_OLDEST_AGE,
            Dimensions=_queue(queue),
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold={"Ref": "QueueAgeAlarmSeconds"},
            ComparisonOperator="GreaterThanThreshold",
        )
    return alarms


def node_alarms() -> dict[str, Any]:
    """Open error records; a peer that has not been reached for N minutes."""
    return {
        "OpenErrorsAlarm": _alarm(
            "issues are in error (an error record is open); read GET /api/v1/health and the "
            "connection's errors, fix the cause, retry or resolve.",
            Namespace=metrics.NAMESPACE,
            MetricName=metrics.OPEN_ERRORS,
            Dimensions=NODE,
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        "PeerUnreachableAlarm": _alarm(
            "a private peer has left changes unpulled for ${PeerUnreachableMinutes} minutes; "
            "GET /api/v1/health names it (a public peer that does not answer shows as the "
            "deliver queue's age and open errors).",
            Namespace=metrics.NAMESPACE,
            MetricName=metrics.PEER_LAG,
            Dimensions=NODE,
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods={"Ref": "PeerUnreachableMinutes"},
            DatapointsToAlarm={"Ref": "PeerUnreachableMinutes"},
            Threshold=60,
            ComparisonOperator="GreaterThanThreshold",
        ),
    }


def _sum_over_functions(metric: str, specs: list[FunctionSpec]) -> list[dict[str, Any]]:
    if len(specs) > MAX_MATH_METRICS:
        raise ValueError(f"{len(specs)} functions: split the {metric} alarm")
    queries: list[dict[str, Any]] = [
        {
            "Id": f"m{i}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": metrics.LAMBDA,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": spec.logical_id}}],
                },
                "Period": 300,
                "Stat": "Sum",
            },
        }
        for i, spec in enumerate(specs)
    ]
    ids = ",".join(q["Id"] for q in queries)
    queries.append(
        {"Id": "total", "Expression": f"SUM([{ids}])", "Label": metric, "ReturnData": True}
    )
    return queries


def function_alarms(specs: list[FunctionSpec]) -> dict[str, Any]:
    """Lambda errors (crashes, timeouts) and throttles, summed over the tenant's functions;
    the catch-up lane's functions (``*_catchup``, ADR 0003) in alarms of their own (an
    alarm sums at most :data:`MAX_MATH_METRICS` functions)."""
    catch_up = [s for s in specs if s.name.endswith(CATCH_UP_SUFFIX)]
    alarms = _function_alarms("", "", [s for s in specs if s not in catch_up])
    if catch_up:
        alarms.update(_function_alarms("CatchUp", "a catch-up lane function ", catch_up))
    return alarms


def _function_alarms(prefix: str, which: str, specs: list[FunctionSpec]) -> dict[str, Any]:
    return {
        f"{prefix}FunctionErrorsAlarm": _alarm(
            f"{which or 'a function '}crashed or timed out (Lambda Errors); the dashboard shows "
            "which, its log group shows why.",
            Metrics=_sum_over_functions(metrics.LAMBDA_ERRORS, specs),
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        f"{prefix}FunctionThrottlesAlarm": _alarm(
            f"{which or 'a function '}was throttled: the ReservedConcurrency parameter (or the "
            "account's concurrency) is too low for the load.",
            Metrics=_sum_over_functions(metrics.LAMBDA_THROTTLES, specs),
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
    }


# --- dashboard -------------------------------------------------------------------------------


def _widget(title: str, series: list[list[Any]], *, x: int, y: int, stat: str) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": 300,
            "view": "timeSeries",
            "metrics": series,
        },
    }


def _node(name: str) -> list[Any]:
    return [metrics.NAMESPACE, name, metrics.DIMENSION, "${NodeId}"]


def _per_queue(name: str, queues: list[str]) -> list[list[Any]]:
    return [[metrics.SQS, name, "QueueName", f"${{{q}.QueueName}}"] for q in queues]


def _per_function(name: str, fns: list[str]) -> list[list[Any]]:
    return [[metrics.LAMBDA, name, "FunctionName", f"${{{f}}}"] for f in fns]


def dashboard_body(resources: Mapping[str, Any], specs: list[FunctionSpec]) -> str:
    """The dashboard as a ``Fn::Sub`` string (``${...}`` are the stack's names)."""
    queues = work_queues(resources)
    dlqs = dead_letter_queues(resources)
    fns = [spec.logical_id for spec in specs]
    rows = [
        ("Changes synced", [_node(metrics.CHANGES_SYNCED)], "Sum"),
        ("Sync latency (p90, ms)", [_node(metrics.SYNC_LATENCY)], "p90"),
        ("Open errors", [_node(metrics.OPEN_ERRORS)], "Maximum"),
        ("Peer lag (s)", [_node(metrics.PEER_LAG)], "Maximum"),
        (
            "Tracker calls and 429s",
            [_node(metrics.TRACKER_CALLS), _node(metrics.TRACKER_THROTTLED)],
            "Sum",
        ),
        ("Queue records: oldest when taken (s)", [_node(metrics.OLDEST_MESSAGE_AGE)], "Maximum"),
        ("Bulk jobs: issues per minute", [_node(metrics.JOB_ISSUES_PER_MINUTE)], "Sum"),
        ("Queue: oldest message (s)", _per_queue(metrics.SQS_OLDEST_AGE, queues), "Maximum"),
        ("Dead-letter queues: messages", _per_queue(metrics.SQS_VISIBLE, dlqs), "Maximum"),
        ("Function errors", _per_function(metrics.LAMBDA_ERRORS, fns), "Sum"),
        ("Function throttles", _per_function(metrics.LAMBDA_THROTTLES, fns), "Sum"),
        ("Function duration (p90, ms)", _per_function(metrics.LAMBDA_DURATION, fns), "p90"),
        (
            "API: requests, 4xx, 5xx",
            [
                [metrics.API, name, "ApiName", "${AWS::StackName}", "Stage", "api"]
                for name in (metrics.API_COUNT, metrics.API_4XX, metrics.API_5XX)
            ],
            "Sum",
        ),
    ]
    widgets = [
        _widget(title, series, x=12 * (i % 2), y=6 * (i // 2), stat=stat)
        for i, (title, series, stat) in enumerate(rows)
    ]
    return json.dumps({"widgets": widgets}, separators=(",", ":"))


def dashboard(resources: Mapping[str, Any], specs: list[FunctionSpec]) -> dict[str, Any]:
    return {
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": {"Fn::Sub": "${AWS::StackName}"},
                "DashboardBody": {"Fn::Sub": dashboard_body(resources, specs)},
            },
        }
    }


def observability(resources: Mapping[str, Any], specs: list[FunctionSpec]) -> dict[str, Any]:
    """Everything this module adds to the template's Resources."""
    return {
        **topic(),
        **queue_alarms(resources),
        **node_alarms(),
        **function_alarms(specs),
        **dashboard(resources, specs),
    }
