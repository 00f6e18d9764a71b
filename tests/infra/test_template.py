"""What cfn-lint does not check in the deploy template: timeouts, batch failures, DLQs,
TTL, least privilege, sandboxing, settings coverage, and the gateway's error shape.

Structural checks run on both the merge template (pure, fast) and the template
``chalice package`` produces from it (session fixture, a few seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from chalice.utils import to_cfn_resource_name

from chalicelib.config import ConfigError, load_settings
from chalicelib.queues import BatchPolicy
from infra.functions import SANDBOXED
from infra.package import Package, lint
from tests.conftest import node_env
from tests.infra.template_facts import (
    QUEUE,
    TABLE,
    dead_letter_queues,
    functions,
    intrinsic_objects,
    of_type,
    referenced_id,
    role_statements,
    roles,
    sqs_events,
)

CONSUMERS = {
    "Ingest": "IngestQueue",
    "Deliver": "DeliverQueue",
    "Apply": "ApplyQueue",
    "IngestCatchup": "IngestCatchupQueue",
    "DeliverCatchup": "DeliverCatchupQueue",
    "ApplyCatchup": "ApplyCatchupQueue",
    "Jobs": "JobsQueue",
}
TTL = {
    "InvitationsTable": "purge_at",
    "EntriesTable": "purge_at",
    "EventsTable": "purge_at",
    "KeysTable": "expires_at",
}
DATA_SERVICES = ("dynamodb:", "sqs:", "s3:", "kms:", "secretsmanager:", "lambda:")


def required_resource_variables() -> set[str]:
    """The TWINSYNC_* resource variables the settings refuse to start without."""
    with pytest.raises(ConfigError) as caught:
        load_settings(node_env())
    return {p.split()[0] for p in caught.value.problems if p.endswith(" is required")}


def test_sqs_handlers_consume_our_queues(template: dict[str, Any]) -> None:
    bound = {
        name: referenced_id(props["Queue"])
        for name, function in functions(template).items()
        for _, props in sqs_events(function)
    }
    assert bound == CONSUMERS


def test_visibility_timeout_at_least_six_times_consumer_timeout(
    template: dict[str, Any],
) -> None:
    queues = of_type(template, QUEUE)
    for name, function in functions(template).items():
        timeout = function["Properties"]["Timeout"]
        for _, props in sqs_events(function):
            queue = queues[referenced_id(props["Queue"]) or ""]
            visibility = queue["Properties"]["VisibilityTimeout"]
            assert visibility >= 6 * timeout, f"{name}: {visibility} s < 6 x {timeout} s"


def test_every_sqs_event_reports_batch_item_failures(template: dict[str, Any]) -> None:
    events = [p for f in functions(template).values() for _, p in sqs_events(f)]
    assert len(events) == len(CONSUMERS)
    for props in events:
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_every_work_queue_has_a_fifo_dead_letter_queue_with_an_alarm(
    template: dict[str, Any],
) -> None:
    queues = of_type(template, QUEUE)
    dlqs = dead_letter_queues(template)
    assert dlqs, "no dead-letter queue at all"
    alarmed = {
        referenced_id(d["Value"])
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in a["Properties"]["Dimensions"]
    }
    for name, queue in queues.items():
        if name in dlqs:
            assert name in alarmed, f"no alarm on {name}"
            continue
        redrive = queue["Properties"]["RedrivePolicy"]
        target = queues[referenced_id(redrive["deadLetterTargetArn"]) or ""]
        assert target["Properties"]["FifoQueue"] is queue["Properties"]["FifoQueue"]
        # The DLQ takes what the workers did not give up on cleanly, right after their
        # last try (chalicelib.queues.BatchPolicy): nothing is retried past it unseen.
        assert redrive["maxReceiveCount"] == BatchPolicy().max_attempts


def test_ttl_on_tables_that_expire_rows(template: dict[str, Any]) -> None:
    ttl = {
        name: table["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for name, table in of_type(template, TABLE).items()
        if table["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")
    }
    assert ttl == TTL


def test_policy_names_only_our_own_resources(template: dict[str, Any]) -> None:
    ours = set(template["Resources"])
    checked = 0
    for role_name, role in roles(template).items():
        for statement in role_statements(role):
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            assert "*" not in resources, f"{role_name} {statement['Sid']}: Resource '*'"
            for action in statement["Action"]:
                assert not action.endswith(":*"), f"{role_name}: wildcard action {action}"
                if not action.startswith(DATA_SERVICES):
                    continue
                checked += 1
                for resource in resources:
                    if action.startswith("secretsmanager:"):
                        assert resource == {"Ref": "SecretArn"}, resource  # a Parameter
                        continue
                    assert referenced_id(resource) in ours, f"{role_name} {action}: {resource}"
    assert checked, "no data action granted at all"


def test_every_function_gets_every_resource_variable(template: dict[str, Any]) -> None:
    required = required_resource_variables()
    assert len(required) == 15
    ours = set(template["Resources"])
    sandboxed = {to_cfn_resource_name(n) for n in SANDBOXED}  # no settings at all (test_merge)
    for name, function in functions(template).items():
        if name in sandboxed:
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        missing = required - set(variables)
        assert not missing, f"{name} lacks {sorted(missing)}"
        for var in required:
            assert referenced_id(variables[var]) in ours, f"{name}: {var}"


def test_intrinsics_survive_the_merge(template: dict[str, Any]) -> None:
    """A merged intrinsic with two keys (e.g. Fn::Sub and Fn::GetAtt) is invalid."""
    for obj in intrinsic_objects(template["Resources"]):
        assert len(obj) == 1, obj


def test_gateway_errors_answer_in_the_contract_shape(template: dict[str, Any]) -> None:
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    unknown = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown["statusCode"] == "404"
    assert json.loads(unknown["responseTemplates"]["application/json"])["error"]["code"] == (
        "not_found"
    )
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for kind, response in responses.items():
        text = response["responseTemplates"]["application/json"]
        error = json.loads(text.replace("$context.error.messageString", '"m"'))["error"]
        assert set(error) == {"code", "message"}, kind
        assert error["code"].islower() and error["message"], kind


# Only the packaged template: what Chalice made, and what cfn-lint says about it.


def test_packaged_functions_use_their_own_roles(packaged: dict[str, Any]) -> None:
    for name, function in functions(packaged).items():
        role = referenced_id(function["Properties"]["Role"])
        assert role in roles(packaged), f"{name}: {role}"
        assert function["Properties"]["Runtime"] == "python3.11"


def test_packaged_template_passes_cfn_lint(package: Package) -> None:
    result = lint(package.template)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip_relies_on_the_runtime_botocore(package: Package) -> None:
    """ADR 0001: PynamoDB is vendored without its dependencies."""
    with zipfile.ZipFile(Path(package.zip)) as archive:
        tops = {n.split("/")[0] for n in archive.namelist()}
    assert {"app.py", "chalicelib", "pynamodb"} <= tops
    assert not tops & {"botocore", "boto3", "s3transfer"}


def test_the_private_poller_is_small_and_every_function_runs_on_arm64(
    packaged: dict[str, Any],
) -> None:
    """Issue 19: poll_peers runs all the time on a private node; Graviton is ~20% cheaper."""
    found = functions(packaged)
    small = {"PollPeers", "OutboxPoll"}  # the two ends of a private node's long polls
    assert {found[n]["Properties"]["MemorySize"] for n in small} == {128}
    assert {n: f["Properties"]["Architectures"] for n, f in found.items()} == {
        n: ["arm64"] for n in found
    }
    assert {f["Properties"]["MemorySize"] for n, f in found.items() if n not in small} == {512}


def test_the_package_carries_native_wheels_for_arm64(package: Package) -> None:
    """The stage's lambda_architecture makes Chalice fetch aarch64 wheels (cryptography)."""
    with zipfile.ZipFile(package.zip) as archive:
        tags = {
            name.split("/")[0]: line.split(":", 1)[1].strip()
            for name in archive.namelist()
            if name.endswith(".dist-info/WHEEL")
            for line in archive.read(name).decode().splitlines()
            if line.startswith("Tag:")
        }
    native = {dist: tag for dist, tag in tags.items() if not tag.endswith("-any")}
    assert any(dist.startswith("cryptography-") for dist in native), tags
    assert {dist: tag for dist, tag in native.items() if "aarch64" not in tag} == {}


def test_the_outbox_poll_function_answers_on_a_url_the_others_advertise(
    template: dict[str, Any],
) -> None:
    """Issue 19: a private peer's long poll is held by a 128 MB function on a function URL,
    public (AuthType NONE, the app checks the peer's JWT) through both grants Lambda needs,
    and every other settings-bearing function knows the URL (the API advertises it)."""
    resources = template["Resources"]
    url = resources["OutboxPollUrl"]
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"]["AuthType"] == "NONE"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": ["OutboxPoll", "Arn"]}
    grants = {
        r["Properties"]["Action"]: r["Properties"]
        for r in of_type(template, "AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == {"Fn::GetAtt": ["OutboxPoll", "Arn"]}
    }
    assert grants["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert grants["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    sandboxed = {to_cfn_resource_name(n) for n in SANDBOXED}
    for name, function in functions(template).items():
        if name in sandboxed:
            continue
        variables = function["Properties"]["Environment"]["Variables"]
        if name == "OutboxPoll":  # naming its own URL would be a cycle
            assert "TWINSYNC_OUTBOX_URL" not in variables
        else:
            assert variables["TWINSYNC_OUTBOX_URL"] == {
                "Fn::GetAtt": ["OutboxPollUrl", "FunctionUrl"]
            }, name


def test_the_zip_carries_the_bytecode_lambda_cannot_write(package: Package, tmp_path: Path) -> None:
    """Issue 19: Lambda's code directory is read-only, so the zip brings each module's
    bytecode (unchecked hash-based, PEP 552) and a cold start compiles nothing. Proof of
    use: in the unzipped package, a module whose source is broken still imports from its
    ``.pyc``."""
    with zipfile.ZipFile(package.zip) as archive:
        names = set(archive.namelist())
        sources = {n for n in names if n.endswith(".py")}
        tag = sys.implementation.cache_tag
        missing = {
            s
            for s in sources
            if f"{s.rsplit('/', 1)[0] + '/' if '/' in s else ''}__pycache__/"
            f"{s.rsplit('/', 1)[-1][:-3]}.{tag}.pyc" not in names
        }
        # a vendored file that does not compile (a test fixture) may lack one; ours may not
        assert not {s for s in missing if s.startswith(("chalicelib/", "app.py"))}
        assert len(missing) < len(sources) / 100, sorted(missing)[:10]
        header = archive.read(f"chalicelib/__pycache__/version.{tag}.pyc")[:8]
        assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source unchecked
        archive.extractall(tmp_path)
    (tmp_path / "chalicelib" / "version.py").write_text(
        "raise SystemExit('compiled from source')\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import chalicelib.version"],
        cwd=tmp_path,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
