"""Build the template merged into ``chalice package``: our resources plus per-function wiring.

``chalice package --merge-template`` deep-merges dictionaries and lets our value win
everywhere else. Two consequences shape this module:

* an intrinsic that overrides one of Chalice's must be the *same* intrinsic: Chalice
  writes an SQS event's queue as ``{"Fn::Sub": ...}``, so ours is
  ``{"Fn::Sub": "${IngestQueue.Arn}"}``; a ``Fn::GetAtt`` would merge into one invalid
  object holding both keys;
* a key cannot be removed by merging, so what must be *absent* (settings and secret
  references in a sandboxed function's environment) is enforced on the packaged template
  afterwards by :func:`harden_sandboxed`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from infra import tenant
from infra.alarms import observability
from infra.functions import FunctionSpec
from infra.policy import function_policy

BATCH_FAILURES = ["ReportBatchItemFailures"]
# A sandboxed function keeps only these variables (none names a resource or a secret).
SANDBOX_ENV_KEEP = frozenset({"TWINSYNC_LOG_LEVEL"})
SANDBOX_FUNCTION_VAR = "TWINSYNC_SCRIPT_FUNCTION"


def _error_body(code: str, message: str) -> str:
    body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
    # API Gateway substitutes $context variables; messageString is already a quoted string.
    return body.replace('"@MESSAGE@"', "$context.error.messageString")


# Gateway answers that never reach our function, in the contract's error shape. An unknown
# path, or a method a path does not have, is MISSING_AUTHENTICATION_TOKEN (403) by default.
GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": (
        "404",
        "not_found",
        "No route matches this method and path.",
    ),
    "RESOURCE_NOT_FOUND": ("404", "not_found", "@MESSAGE@"),
    "ACCESS_DENIED": ("403", "forbidden", "@MESSAGE@"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large", "The request body is too large."),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type", "@MESSAGE@"),
    "THROTTLED": ("429", "rate_limited", "Too many requests; retry later."),
    "QUOTA_EXCEEDED": ("429", "rate_limited", "Too many requests; retry later."),
    "INTEGRATION_FAILURE": ("502", "internal_error", "The node failed; retry later."),
    "INTEGRATION_TIMEOUT": ("504", "timeout", "The node did not answer in time; retry later."),
    "DEFAULT_4XX": (None, "invalid_request", "@MESSAGE@"),
    "DEFAULT_5XX": (None, "internal_error", "@MESSAGE@"),
}


def gateway_responses() -> dict[str, Any]:
    """The ``x-amazon-apigateway-gateway-responses`` extension of the API definition."""
    responses: dict[str, Any] = {}
    for kind, (status, code, message) in GATEWAY_ERRORS.items():
        response: dict[str, Any] = {
            "responseTemplates": {"application/json": _error_body(code, message)}
        }
        if status:
            response["statusCode"] = status
        responses[kind] = response
    return responses


def resource_environment(resources_template: Mapping[str, Any]) -> dict[str, Any]:
    """``{TWINSYNC_… variable: intrinsic}`` from the Outputs (Description names the variable)."""
    return {
        out["Description"]: out["Value"]
        for out in resources_template.get("Outputs", {}).values()
        if out.get("Description", "").startswith("TWINSYNC_")
    }


def function_urls(specs: Iterable[FunctionSpec]) -> dict[str, Any]:
    """A function URL per function that has one, with the two grants Lambda needs before
    it answers on a URL of type NONE (since October 2025: ``InvokeFunctionUrl`` and
    ``InvokeFunction`` through the URL). NONE, not AWS_IAM: the caller is a peer node in
    another account with no IAM identity here; every call carries the connection's JWT,
    which the app checks exactly as behind the API (``chalicelib/api/pull_url.py``)."""
    resources: dict[str, Any] = {}
    for spec in specs:
        if not spec.url_variable:
            continue
        function = {"Fn::GetAtt": [spec.logical_id, "Arn"]}
        resources[spec.url_id] = {
            "Type": "AWS::Lambda::Url",
            "Properties": {"TargetFunctionArn": function, "AuthType": "NONE"},
        }
        resources[f"{spec.url_id}Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunctionUrl",
                "FunctionName": function,
                "Principal": "*",
                "FunctionUrlAuthType": "NONE",
            },
        }
        resources[f"{spec.url_id}InvokePermission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": function,
                "Principal": "*",
                "InvokedViaFunctionUrl": True,
            },
        }
    return resources


def url_environment(specs: Iterable[FunctionSpec]) -> dict[str, Any]:
    """``{variable: the function URL}`` for the functions that advertise the URLs."""
    return {
        s.url_variable: {"Fn::GetAtt": [s.url_id, "FunctionUrl"]} for s in specs if s.url_variable
    }


def _function_override(
    spec: FunctionSpec,
    env: Mapping[str, Any],
    sandbox_ids: list[str],
    urls: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    props: dict[str, Any] = {"Timeout": spec.timeout, **tenant.function_properties(spec)}
    if spec.memory is not None:
        props["MemorySize"] = spec.memory
    if not spec.sandboxed:
        variables = {**tenant.settings_environment(), **env}
        if not spec.url_variable:  # a URL's own function cannot name it (a cycle)
            variables.update(urls or {})
        if sandbox_ids:
            variables[SANDBOX_FUNCTION_VAR] = {"Ref": sandbox_ids[0]}
        props["Environment"] = {"Variables": variables}
    if spec.queue and spec.event_source:
        props["Events"] = {
            spec.event_source: {
                "Properties": {
                    # Same intrinsic kind as Chalice's value, or the merge breaks it.
                    "Queue": {"Fn::Sub": f"${{{spec.queue}.Arn}}"},
                    "FunctionResponseTypes": BATCH_FAILURES,
                }
            }
        }
    # The log group exists (with its retention) before Lambda could create one itself.
    return {"DependsOn": [tenant.log_group_id(spec)], "Properties": props}


def build_merge_template(
    resources_template: Mapping[str, Any], specs: Iterable[FunctionSpec]
) -> dict[str, Any]:
    """The merge template: ``infra/resources.json`` plus everything the functions need.

    Tenant settings are Parameters (:mod:`infra.tenant`); alarms, their topic and the
    dashboard come from :mod:`infra.alarms`.
    """
    specs = list(specs)
    merged = copy.deepcopy(dict(resources_template))
    merged["Parameters"] = {**merged.get("Parameters", {}), **tenant.parameters_section()}
    merged["Conditions"] = {**merged.get("Conditions", {}), **tenant.CONDITIONS}
    merged["Metadata"] = {**merged.get("Metadata", {}), **tenant.interface_metadata()}
    resources: dict[str, Any] = merged["Resources"]
    env = resource_environment(resources_template)
    sandbox_ids = [s.logical_id for s in specs if s.sandboxed]
    policy = function_policy(resources, secret=tenant.SECRET, invoke=sandbox_ids)
    resources.update(observability(resources, specs))
    resources.update(tenant.log_groups(specs))
    resources.update(function_urls(specs))
    urls = url_environment(specs)
    for spec in specs:
        resources[spec.logical_id] = _function_override(spec, env, sandbox_ids, urls)
        policies: list[Any] = []
        if not spec.sandboxed:
            policies = [{"PolicyName": f"{spec.role_id}Policy", "PolicyDocument": policy}]
        resources[spec.role_id] = {"Properties": {"Policies": policies, **tenant.role_properties()}}
    if any(s.logical_id == "APIHandler" for s in specs):
        resources["RestAPI"] = {
            "Properties": {
                **tenant.api_properties(),
                "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()},
            }
        }
    merged["Outputs"] = {
        **merged.get("Outputs", {}),
        "AlarmTopicArn": {
            "Description": "SNS topic of the alarms: subscribe the operator",
            "Value": {"Ref": "AlarmTopic"},
        },
        **{
            f"{s.logical_id}FunctionUrl": {
                "Description": f"Function URL of {s.name} (advertised to private peers)",
                "Value": {"Fn::GetAtt": [s.url_id, "FunctionUrl"]},
            }
            for s in specs
            if s.url_variable
        },
        "DashboardName": {
            "Description": "CloudWatch dashboard of this tenant",
            "Value": {"Ref": "Dashboard"},
        },
    }
    return merged


def harden_sandboxed(template: dict[str, Any], specs: Iterable[FunctionSpec]) -> None:
    """Strip a sandboxed function's environment down to :data:`SANDBOX_ENV_KEEP`.

    Chalice gives every function the stage's variables; a merge cannot delete them.
    """
    resources = template["Resources"]
    for spec in specs:
        if not spec.sandboxed or spec.logical_id not in resources:
            continue
        props = resources[spec.logical_id]["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        kept = {k: v for k, v in variables.items() if k in SANDBOX_ENV_KEEP}
        if kept:
            props["Environment"] = {"Variables": kept}
        else:
            props.pop("Environment", None)
