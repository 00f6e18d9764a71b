"""The merge template's pieces, without running Chalice: sandboxing, discovery, policy files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice import Chalice

from infra.deploy_policy import DEFAULT_STACK, static_policy
from infra.functions import FunctionSpec, UnknownQueue, discover
from infra.merge import SANDBOX_FUNCTION_VAR, build_merge_template, harden_sandboxed
from infra.package import ROOT, _split_requirements, load_resources, stage_variable

MOTO_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return load_resources()


def _app_with_script_runner() -> Chalice:
    app = Chalice(app_name="twinsync")

    @app.route("/x")
    def x() -> dict[str, str]:
        return {}

    @app.on_sqs_message(queue="twinsync-apply.fifo")
    def apply(event: Any) -> None:
        return None

    @app.lambda_function()
    def script_runner(event: Any, context: Any) -> None:
        return None

    return app


def test_discover_names_functions_as_chalice_does(resources: dict[str, Any]) -> None:
    specs = {s.name: s for s in discover(_app_with_script_runner(), resources["Resources"])}
    assert specs["api_handler"].logical_id == "APIHandler"
    assert specs["api_handler"].role_id == "ApiHandlerRole"
    assert specs["apply"].queue == "ApplyQueue"
    assert specs["apply"].event_source == "ApplySqsEventSource"
    assert specs["script_runner"].logical_id == "ScriptRunner"
    assert specs["script_runner"].sandboxed


def test_a_handler_on_an_unknown_queue_stops_packaging(resources: dict[str, Any]) -> None:
    app = Chalice(app_name="twinsync")

    @app.on_sqs_message(queue="twinsync-elsewhere.fifo")
    def lost(event: Any) -> None:
        return None

    with pytest.raises(UnknownQueue, match=r"twinsync-elsewhere\.fifo"):
        discover(app, resources["Resources"])


def test_sandboxed_function_gets_no_policy_and_no_settings(resources: dict[str, Any]) -> None:
    specs = discover(_app_with_script_runner(), resources["Resources"])
    merged = build_merge_template(resources, specs)
    res = merged["Resources"]
    assert res["ScriptRunnerRole"]["Properties"]["Policies"] == []
    assert "Environment" not in res["ScriptRunner"]["Properties"]
    # Workers find the sandbox by name and may invoke it, and only it.
    assert res["Apply"]["Properties"]["Environment"]["Variables"][SANDBOX_FUNCTION_VAR] == {
        "Ref": "ScriptRunner"
    }
    statements = res["ApplyRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    invoke = next(s for s in statements if s["Action"] == ["lambda:InvokeFunction"])
    assert invoke["Resource"] == [{"Fn::GetAtt": ["ScriptRunner", "Arn"]}]


def test_harden_sandboxed_strips_the_stage_variables_chalice_adds() -> None:
    spec = FunctionSpec(name="script_runner", timeout=10, sandboxed=True)
    variables = {
        "TWINSYNC_SECRETS_ID": "twinsync/x",
        "TWINSYNC_TRACKER_USER": "bot",
        "TWINSYNC_LOG_LEVEL": "INFO",
    }
    template = {
        "Resources": {"ScriptRunner": {"Properties": {"Environment": {"Variables": variables}}}}
    }
    harden_sandboxed(template, [spec])
    props = template["Resources"]["ScriptRunner"]["Properties"]
    assert props["Environment"]["Variables"] == {"TWINSYNC_LOG_LEVEL": "INFO"}


def test_resources_template_stays_creatable_in_moto(resources: dict[str, Any]) -> None:
    """devstack creates it in moto: DynamoDB/SQS/S3/KMS only, outputs named by variable."""
    assert {r["Type"] for r in resources["Resources"].values()} <= MOTO_TYPES
    for output in resources["Outputs"].values():
        assert output["Description"].startswith("TWINSYNC_")


def test_chalice_deploy_policy_file_is_generated_from_the_template(
    resources: dict[str, Any],
) -> None:
    on_disk = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    expected = static_policy(
        resources,
        stack=DEFAULT_STACK,
        app_name="twinsync",
        stage="prod",
        secret_id=stage_variable("prod", "TWINSYNC_SECRETS_ID"),
    )
    assert on_disk == expected, "run: python -m infra.deploy_policy --stage prod"
    for statement in on_disk["Statement"]:
        targets = statement["Resource"]
        if statement["Sid"] == "ConnectionKeys":
            # a key's ARN holds a random id: the key is the one the stack's alias names
            assert targets == "arn:aws:kms:*:*:key/*"
            aliases = statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
            assert aliases == ["alias/twinsync-connection-keys"]
            continue
        for arn in targets if isinstance(targets, list) else [targets]:
            assert arn != "*"
            assert "twinsync" in arn.split(":")[-1] or "/twinsync" in arn, arn


def test_requirements_split_vendors_pynamodb_without_its_dependencies() -> None:
    text = "# runtime\npynamodb==6.1.0\nrequests==2.34.2\n"
    kept, vendored = _split_requirements(text, bundle_botocore=False)
    assert vendored == ["pynamodb==6.1.0"]
    assert "pynamodb" not in kept and "requests==2.34.2" in kept
    kept, vendored = _split_requirements(text, bundle_botocore=True)
    assert vendored == [] and "pynamodb==6.1.0" in kept
