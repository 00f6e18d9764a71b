"""One template for every tenant: Parameters instead of copied settings, log groups with
retention, a throttled and logged API, reserved concurrency, and the alarms and dashboard
an operator watches (issue 15). Structural checks run on the merge template and on what
``chalice package`` made of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chalice.utils import to_cfn_resource_name

from infra import metrics
from infra.functions import SANDBOXED
from infra.tenant import PARAMETERS, SETTING_PARAMETERS
from tests.infra.template_facts import QUEUE, dead_letter_queues, functions, of_type

ALARM = "AWS::CloudWatch::Alarm"
TENANT_PARAMETERS = {
    "NodeId",
    "TrackerKind",
    "TrackerUrl",
    "TrackerUser",
    "SecretArn",
    "AlarmEmail",
    "ReservedConcurrency",
    "ApiRateLimit",
    "ApiBurstLimit",
    "LogRetentionDays",
    "Tracing",
}
SANDBOX_IDS = {to_cfn_resource_name(n) for n in SANDBOXED}
PSEUDO = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in of_type(template, ALARM).items()}


def test_the_tenant_settings_are_parameters(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]) >= TENANT_PARAMETERS
    for name, function in functions(template).items():
        if name in SANDBOX_IDS:
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        for var, param in SETTING_PARAMETERS.items():
            assert variables[var] == {"Ref": param}, f"{name}: {var} is {variables[var]!r}"


def test_no_stage_value_of_the_chalice_config_reaches_the_packaged_template(
    packaged: dict[str, Any],
) -> None:
    resources = json.dumps(packaged["Resources"])
    for value in ("acme-prod", "acme.atlassian.net", "twinsync-bot@acme.example"):
        assert value not in resources


def test_parameters_say_what_they_are_for() -> None:
    for name, spec in PARAMETERS.items():
        assert spec["Type"] in ("String", "Number"), name
        if "Default" not in spec:  # a value every tenant must give: explain it
            assert spec.get("Description"), name


def test_every_function_has_its_log_group_with_retention_before_it_runs(
    template: dict[str, Any],
) -> None:
    groups = of_type(template, "AWS::Logs::LogGroup")
    for name, function in functions(template).items():
        group_id = f"{name}LogGroup"
        assert function["DependsOn"] == [group_id], name
        props = groups[group_id]["Properties"]
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        fn_name = function["Properties"]["FunctionName"]["Fn::Sub"]
        assert props["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{fn_name}"}
        assert fn_name.startswith("${AWS::StackName}-")  # the role's Logs grant covers it
    assert groups["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }


def test_every_function_reserves_concurrency_and_follows_the_tracing_parameter(
    template: dict[str, Any],
) -> None:
    for name, function in functions(template).items():
        props = function["Properties"]
        reserved = props["ReservedConcurrentExecutions"]["Fn::If"]
        assert reserved[:2] == ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}], name
        assert props["Tracing"] == {"Fn::If": ["TracingActive", "Active", "PassThrough"]}


def test_the_api_is_throttled_and_access_logged(template: dict[str, Any]) -> None:
    api = template["Resources"]["RestAPI"]["Properties"]
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    (everything,) = api["MethodSettings"]
    assert everything["ResourcePath"] == "/*" and everything["HttpMethod"] == "*"
    assert everything["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert everything["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}


def test_alarms_cover_dlqs_queue_age_errors_peers_and_functions(template: dict[str, Any]) -> None:
    alarms = _alarms(template)
    dlqs = dead_letter_queues(template)
    work = set(of_type(template, QUEUE)) - dlqs
    for dlq in dlqs:
        alarm = alarms[f"{dlq}Alarm"]
        assert alarm["MetricName"] == metrics.SQS_VISIBLE and alarm["Threshold"] == 1
    for queue in work:
        alarm = alarms[f"{queue}AgeAlarm"]
        assert alarm["MetricName"] == metrics.SQS_OLDEST_AGE
        assert alarm["Threshold"] == {"Ref": "QueueAgeAlarmSeconds"}
    assert alarms["OpenErrorsAlarm"]["MetricName"] == metrics.OPEN_ERRORS
    peer = alarms["PeerUnreachableAlarm"]
    assert peer["MetricName"] == metrics.PEER_LAG
    assert peer["EvaluationPeriods"] == {"Ref": "PeerUnreachableMinutes"}
    for alarm in (alarms["OpenErrorsAlarm"], peer):
        assert alarm["Namespace"] == metrics.NAMESPACE
        assert alarm["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": {"Ref": "NodeId"}}]
    fns = set(functions(template))
    for name, metric in (
        ("FunctionErrorsAlarm", metrics.LAMBDA_ERRORS),
        ("FunctionThrottlesAlarm", metrics.LAMBDA_THROTTLES),
    ):
        # the catch-up lane's functions have alarms of their own (at most 9 per alarm)
        stats = [
            m["MetricStat"]["Metric"]
            for alarm in (alarms[name], alarms[f"CatchUp{name}"])
            for m in alarm["Metrics"]
            if "MetricStat" in m
        ]
        assert {m["MetricName"] for m in stats} == {metric}
        assert sorted(m["Dimensions"][0]["Value"]["Ref"] for m in stats) == sorted(fns)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["AlarmDescription"]["Fn::Sub"].startswith("${AWS::StackName}: "), name


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    grants = {s["Principal"].get("Service"): s["Action"] for s in key["KeyPolicy"]["Statement"]}
    assert set(grants["cloudwatch.amazonaws.com"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_the_dashboard_reads_only_named_metrics_of_this_stack(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([A-Za-z0-9:]+)(?:\.[A-Za-z]+)?\}", body))
    known = set(template["Resources"]) | set(template["Parameters"]) | PSEUDO
    assert names and names <= known, names - known
    widgets = json.loads(body)["widgets"]
    ours = {
        series[1]
        for widget in widgets
        for series in widget["properties"]["metrics"]
        if series[0] == metrics.NAMESPACE
    }
    assert ours == set(metrics.NODE_METRICS)


def test_node_metrics_named_in_alarms_are_the_shared_names(template: dict[str, Any]) -> None:
    for alarm in _alarms(template).values():
        if alarm.get("Namespace") == metrics.NAMESPACE:
            assert alarm["MetricName"] in metrics.NODE_METRICS


def test_the_operations_guide_explains_every_alarm_and_parameter(merged: dict[str, Any]) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations-guide.md").read_text()
    for name in merged["Parameters"]:
        assert f"`{name}`" in guide, f"docs/operations-guide.md: Parameter {name}"
    for name in _alarms(merged):
        generic = re.sub(r"^(Ingest|Deliver|Apply|Jobs)", "<Stage>", name)
        assert f"`{generic}`" in guide, f"docs/operations-guide.md: alarm {name}"
