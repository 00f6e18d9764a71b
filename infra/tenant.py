"""What makes one template fit every tenant: Parameters, and what each function gets from them.

``chalice package`` copies the stage's settings out of ``.chalice/config.json`` into every
function; the merge template overrides each of them with a ``Ref`` to a Parameter, so one
``out/sam.json`` deploys any tenant (``aws cloudformation deploy --parameter-overrides``).
The same Parameters size the tenant: reserved concurrency per function, the API's rate
limits, how long logs are kept, X-Ray on or off.

Log groups (chalice#2079): Lambda creates ``/aws/lambda/<function>`` on first use, with no
retention, outside the stack. Each function here gets an explicit name and its log group is
declared in the template (retention set) and created *before* the function (``DependsOn``),
so Lambda never creates one of its own.
"""

from __future__ import annotations

from typing import Any

from infra.functions import FunctionSpec

NO_VALUE = {"Ref": "AWS::NoValue"}
# What CloudWatch Logs accepts for RetentionInDays.
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]

PARAMETERS: dict[str, dict[str, Any]] = {
    "NodeId": {
        "Type": "String",
        "Description": "This node's id, unique among the nodes it connects to (2-63 letters, "
        "digits, '.', '_' or '-'); also the Node dimension of its metrics.",
        "AllowedPattern": "^[A-Za-z0-9._-]{2,63}$",
    },
    "NodeName": {
        "Type": "String",
        "Default": "",
        "Description": "Name shown to partners (empty: the node id).",
    },
    "PublicUrl": {
        "Type": "String",
        "Default": "",
        "Description": "https URL partners call this node at (empty: a private node that "
        "only calls out).",
        "AllowedPattern": "^(https://\\S+)?$",
    },
    "TrackerKind": {
        "Type": "String",
        "AllowedValues": ["jira_cloud", "jira_server"],
        "Description": "Which tracker this node syncs.",
    },
    "TrackerUrl": {
        "Type": "String",
        "Description": "Base URL of the tracker, e.g. https://acme.atlassian.net.",
        "AllowedPattern": "^https?://\\S+$",
    },
    "TrackerUser": {
        "Type": "String",
        "Default": "",
        "Description": "The integration user (Jira Cloud: its e-mail; required there).",
    },
    "TrackerWebhooks": {
        "Type": "String",
        "AllowedValues": ["true", "false"],
        "Default": "true",
        "Description": "false: the tracker sends no webhooks; the reconcile sweep finds "
        "changes every minute instead of every five.",
    },
    "SecretArn": {
        "Type": "String",
        "Description": "ARN of the Secrets Manager JSON secret with admin_token_sha256, "
        "tracker_token and webhook_secret (docs/operations-guide.md).",
        "AllowedPattern": "^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$",
    },
    "AlarmEmail": {
        "Type": "String",
        "Default": "",
        "Description": "E-mail address subscribed to the alarm topic (empty: none; "
        "subscribe later). The address must confirm the subscription.",
    },
    "LogLevel": {
        "Type": "String",
        "AllowedValues": ["DEBUG", "INFO", "WARNING", "ERROR"],
        "Default": "INFO",
    },
    "ReservedConcurrency": {
        "Type": "Number",
        "Default": 5,
        "MinValue": 0,
        "MaxValue": 1000,
        "Description": "Concurrent executions reserved for (and capping) each function; "
        "0 reserves none. Each tenant takes this times the number of functions from the "
        "account's pool (docs/operations-guide.md, quotas).",
    },
    "ApiRateLimit": {
        "Type": "Number",
        "Default": 50,
        "MinValue": 1,
        "Description": "Steady requests per second the API accepts before answering 429.",
    },
    "ApiBurstLimit": {
        "Type": "Number",
        "Default": 100,
        "MinValue": 1,
        "Description": "Requests the API accepts in a burst above the steady rate.",
    },
    "LogRetentionDays": {
        "Type": "Number",
        "Default": 30,
        "AllowedValues": RETENTION_DAYS,
        "Description": "Days the functions' and the API's logs are kept.",
    },
    "Tracing": {
        "Type": "String",
        "AllowedValues": ["Active", "PassThrough"],
        "Default": "PassThrough",
        "Description": "Active: X-Ray traces every function and the API (billed per trace).",
    },
    "QueueAgeAlarmSeconds": {
        "Type": "Number",
        "Default": 900,
        "MinValue": 60,
        "Description": "Alarm when a work queue's oldest message is older than this.",
    },
    "PeerUnreachableMinutes": {
        "Type": "Number",
        "Default": 15,
        "MinValue": 2,
        "MaxValue": 1440,
        "Description": "Alarm when a peer has not been reached for this many minutes.",
    },
}

PARAMETER_GROUPS = [
    ("Node", ["NodeId", "NodeName", "PublicUrl", "SecretArn", "LogLevel"]),
    ("Tracker", ["TrackerKind", "TrackerUrl", "TrackerUser", "TrackerWebhooks"]),
    (
        "Capacity and logs",
        ["ReservedConcurrency", "ApiRateLimit", "ApiBurstLimit", "LogRetentionDays", "Tracing"],
    ),
    ("Alarms", ["AlarmEmail", "QueueAgeAlarmSeconds", "PeerUnreachableMinutes"]),
]

CONDITIONS: dict[str, Any] = {
    "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
    "ReservesConcurrency": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, 0]}]},
    "TracingActive": {"Fn::Equals": [{"Ref": "Tracing"}, "Active"]},
}

# The stage settings chalice copies from .chalice/config.json -> the Parameter that wins.
SETTING_PARAMETERS = {
    "TWINSYNC_NODE_ID": "NodeId",
    "TWINSYNC_NODE_NAME": "NodeName",
    "TWINSYNC_PUBLIC_URL": "PublicUrl",
    "TWINSYNC_TRACKER_KIND": "TrackerKind",
    "TWINSYNC_TRACKER_URL": "TrackerUrl",
    "TWINSYNC_TRACKER_USER": "TrackerUser",
    "TWINSYNC_TRACKER_WEBHOOKS": "TrackerWebhooks",
    "TWINSYNC_SECRETS_ID": "SecretArn",
    "TWINSYNC_LOG_LEVEL": "LogLevel",
}
SECRET = {"Ref": "SecretArn"}
XRAY_POLICY = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}
API_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"time":"$context.requestTime","method":"$context.httpMethod",'
    '"path":"$context.resourcePath","status":"$context.status",'
    '"length":"$context.responseLength","latencyMs":"$context.responseLatency",'
    '"error":"$context.error.messageString"}'
)


def parameters_section() -> dict[str, Any]:
    return {name: dict(spec) for name, spec in PARAMETERS.items()}


def interface_metadata() -> dict[str, Any]:
    """The console's grouping of the Parameters."""
    return {
        "AWS::CloudFormation::Interface": {
            "ParameterGroups": [
                {"Label": {"default": label}, "Parameters": names}
                for label, names in PARAMETER_GROUPS
            ]
        }
    }


def settings_environment() -> dict[str, Any]:
    return {var: {"Ref": param} for var, param in SETTING_PARAMETERS.items()}


def function_name(spec: FunctionSpec) -> dict[str, str]:
    return {"Fn::Sub": f"${{AWS::StackName}}-{spec.name.replace('_', '-')}"}


def log_group_id(spec: FunctionSpec) -> str:
    return f"{spec.logical_id}LogGroup"


def function_properties(spec: FunctionSpec) -> dict[str, Any]:
    """Name, reserved concurrency and tracing of one function (merged over Chalice's)."""
    return {
        "FunctionName": function_name(spec),
        "ReservedConcurrentExecutions": {
            "Fn::If": ["ReservesConcurrency", {"Ref": "ReservedConcurrency"}, NO_VALUE]
        },
        "Tracing": {"Fn::If": ["TracingActive", "Active", "PassThrough"]},
    }


def role_properties() -> dict[str, Any]:
    """X-Ray's write permission (it has no resource-level form) only when tracing is on."""
    return {"ManagedPolicyArns": {"Fn::If": ["TracingActive", [XRAY_POLICY], NO_VALUE]}}


def log_groups(specs: list[FunctionSpec]) -> dict[str, Any]:
    """One log group per function, named as Lambda names it, plus the API's access log."""
    groups: dict[str, Any] = {}
    for spec in specs:
        name = function_name(spec)["Fn::Sub"]
        groups[log_group_id(spec)] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/{name}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
    groups["ApiAccessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        },
    }
    return groups


def api_properties() -> dict[str, Any]:
    """Name, access log, throttling and tracing of the REST API's stage."""
    return {
        "Name": {"Fn::Sub": "${AWS::StackName}"},
        "AccessLogSetting": {
            "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
            "Format": API_LOG_FORMAT,
        },
        "MethodSettings": [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "MetricsEnabled": True,
                "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
                "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"},
            }
        ],
        "TracingEnabled": {"Fn::If": ["TracingActive", True, False]},
    }
