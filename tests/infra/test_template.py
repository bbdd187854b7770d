"""The SAM template: it lints clean, transforms, deploys exactly our ASL and one function per step."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from asg_terminator.deploy import code_zip, packaged_template
from asg_terminator.paths import RELEASE_ASL, SAM_TEMPLATE
from tasks.handlers import FUNCTIONS, STEPS, module_name


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(SAM_TEMPLATE.read_text())
    return parsed


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    from cfnlint.api import lint_file

    matches = lint_file(SAM_TEMPLATE)
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_one_function_per_step_with_its_handler(template: dict[str, Any]) -> None:
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert sorted(functions) == sorted(f"{name}Function" for name in FUNCTIONS)
    for name in FUNCTIONS:
        assert functions[f"{name}Function"]["Properties"]["Handler"] == f"tasks.handlers.{module_name(name)}.handler"


def test_the_state_machine_deploys_our_asl_with_every_substitution(template: dict[str, Any]) -> None:
    machine = template["Resources"]["ReleaseStateMachine"]["Properties"]
    assert (SAM_TEMPLATE.parent / machine["DefinitionUri"]).resolve() == RELEASE_ASL.resolve()
    used = set(re.findall(r"\$\{(\w+)\}", RELEASE_ASL.read_text()))
    assert used == set(machine["DefinitionSubstitutions"]) == {f"{s}FunctionArn" for s in STEPS}
    for key, value in machine["DefinitionSubstitutions"].items():
        # A published version, not the function's unqualified ARN (nor the alias, which a stack
        # update moves): an execution runs the code it started with to its end.
        assert value == {"Ref": f"{key.removesuffix('Arn')}.Version"}
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in machine["Policies"] if "LambdaInvokePolicy" in p}
    assert invoked == {f"{s}Function" for s in STEPS}


def test_every_task_states_function_publishes_a_version_on_any_change(template: dict[str, Any]) -> None:
    for name in STEPS:
        properties = template["Resources"][f"{name}Function"]["Properties"]
        assert properties["AutoPublishAlias"] == "live", name
        # Without it SAM publishes only when the code changes: a new setting (EventBusName, say)
        # would never reach the version the state machine calls.
        assert properties["AutoPublishAliasAllProperties"] is True, name
    # The EventBridge targets run outside any execution, on the latest code.
    for name in set(FUNCTIONS) - set(STEPS):
        assert "AutoPublishAlias" not in template["Resources"][f"{name}Function"]["Properties"], name


def test_no_wildcard_actions_and_terminate_only_in_opted_in_groups(template: dict[str, Any]) -> None:
    statements = [
        (name, s)
        for name, resource in template["Resources"].items()
        for policy in resource.get("Properties", {}).get("Policies", [])
        if isinstance(policy, dict) and "Statement" in policy
        for s in policy["Statement"]
    ]
    for name, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), name
    terminating = [
        (n, s) for n, s in statements if "autoscaling:TerminateInstanceInAutoScalingGroup" in str(s["Action"])
    ]
    # Terminate replaces instances; UnlockAsg and Cleanup give a surge back instance by instance (with
    # decrement), and so does LockAsg for a release that ended without giving it back.
    assert {n for n, _ in terminating} == {
        "TerminateFunction",
        "UnlockAsgFunction",
        "CleanupFunction",
        "LockAsgFunction",
    }
    tagging = [(n, s) for n, s in statements if "autoscaling:CreateOrUpdateTags" in str(s["Action"])]
    assert {n for n, _ in tagging} == {"LockAsgFunction"}
    for _, statement in terminating + tagging:
        condition = json.dumps(statement["Condition"])
        assert "autoscaling:ResourceTag/asg-terminator:" in condition
    assert "ec2:TerminateInstances" not in SAM_TEMPLATE.read_text()


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def test_the_packaged_template_transforms_through_the_sam_translator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks boto3 for a region
    from samtranslator.translator.transform import transform

    packaged = packaged_template("s3://bucket/code.zip", "s3://bucket/release.asl.json")
    parameters = {
        "SubnetIds": ["subnet-1"],
        "SecurityGroupId": "sg-1",
        "AWS::Region": "us-east-1",
        "AWS::Partition": "aws",
        "AWS::AccountId": "123456789012",
        "AWS::StackName": "rel",
    }
    output = transform(packaged, parameters, _NoManagedPolicies())  # type: ignore[arg-type]

    resources = output["Resources"]
    machine = next(r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    assert machine["Properties"]["DefinitionS3Location"] == {"Bucket": "bucket", "Key": "release.asl.json"}
    assert set(machine["Properties"]["DefinitionSubstitutions"]) == {f"{s}FunctionArn" for s in STEPS}
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == len(FUNCTIONS)
    for key, value in machine["Properties"]["DefinitionSubstitutions"].items():
        version = resources[value["Ref"]]
        assert version["Type"] == "AWS::Lambda::Version", key
        assert version["Properties"]["FunctionName"] == {"Ref": key.removesuffix("Arn")}
        assert version["DeletionPolicy"] == "Retain"  # a running execution still calls the version it began with
    assert all(f["Properties"]["Code"] == {"S3Bucket": "bucket", "S3Key": "code.zip"} for f in functions)
    rules = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    patterns = [r["Properties"]["EventPattern"] for r in rules if r["Properties"].get("EventPattern")]
    upload = {"source": ["aws.s3"], "detail-type": ["Object Created"]}
    assert any(upload.items() <= p.items() for p in patterns)
    ended = next(p for p in patterns if p["source"] == ["aws.states"])
    assert ended["detail-type"] == ["Step Functions Execution Status Change"]
    assert ended["detail"]["status"] == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert ended["detail"]["stateMachineArn"] == [{"Ref": "ReleaseStateMachine"}]
    assert any(r["Properties"].get("ScheduleExpression") for r in rules)


def test_the_code_package_holds_the_tasks_package_and_its_schemas() -> None:
    names = zipfile.ZipFile(io.BytesIO(code_zip(None))).namelist()
    assert "tasks/handlers/read_versions.py" in names
    assert "tasks/schemas/read_versions.input.json" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]


FLEET_CHANGES = (
    "autoscaling:SetDesiredCapacity",
    "autoscaling:SuspendProcesses",
    "autoscaling:ResumeProcesses",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:RegisterTargets",
    "ssm:PutParameter",
)


def _actions(resource: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for policy in resource.get("Properties", {}).get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            found += [(a, statement["Resource"]) for a in actions]
    return found


def test_every_function_that_changes_the_fleet_may_renew_the_lease_that_fences_it(template: dict[str, Any]) -> None:
    changing = {n: r for n, r in template["Resources"].items() if any(a in FLEET_CHANGES for a, _ in _actions(r))}
    assert set(changing) == {
        "LockAsgFunction",
        "DrainFunction",
        "TerminateFunction",
        "RollBackFunction",
        "UnlockAsgFunction",
        "CleanupFunction",
    }
    for name, resource in changing.items():
        assert ("dynamodb:UpdateItem", {"Fn::GetAtt": ["LeaseTable", "Arn"]}) in _actions(resource), name


def test_the_lease_table_and_its_name_reach_every_function(template: dict[str, Any]) -> None:
    table = template["Resources"]["LeaseTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "asg_name", "KeyType": "HASH"}]
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["LEASE_TABLE"] == {"Ref": "LeaseTable"}
    dynamo = {a for r in template["Resources"].values() for a, _ in _actions(r) if a.startswith("dynamodb:")}
    assert all(
        resource == {"Fn::GetAtt": ["LeaseTable", "Arn"]}
        for r in template["Resources"].values()
        for action, resource in _actions(r)
        if action in dynamo
    )


# -- Least authority (issue 13): each over-grant narrowed, the narrowing held here statement by statement.


def _function_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name.removesuffix("Function"), statement)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy.get("Statement", [])
    ]


def _named(statement: dict[str, Any]) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])


GROUP_CHANGES = {
    "autoscaling:SetDesiredCapacity",
    "autoscaling:SuspendProcesses",
    "autoscaling:ResumeProcesses",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "autoscaling:DeleteTags",
}
TARGET_GROUP_CHANGES = {"elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"}


def _opt_in(key_prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    # An empty asg-terminator:app no longer opts in: StringLike "?*" needs one character at least
    # ("Null": false, as before, let an empty value through).
    return (
        {"StringEquals": {f"{key_prefix}asg-terminator:enabled": "true"}},
        {"StringLike": {f"{key_prefix}asg-terminator:app": "?*"}},
    )


@pytest.mark.parametrize(
    ("changes", "key_prefix"),
    [(GROUP_CHANGES, "autoscaling:ResourceTag/"), (TARGET_GROUP_CHANGES, "aws:ResourceTag/")],
    ids=["auto-scaling-groups", "target-groups"],
)
def test_every_change_is_only_on_resources_tagged_to_opt_in(
    template: dict[str, Any], changes: set[str], key_prefix: str
) -> None:
    by_schedule, by_app = _opt_in(key_prefix)
    ways: dict[tuple[str, str], list[str]] = {}
    for function, statement in _function_statements(template):
        for action in set(_named(statement)) & changes:
            condition = statement.get("Condition", {})
            way = [w for w, c in (("schedule", by_schedule), ("app", by_app)) if c.items() <= condition.items()]
            assert len(way) == 1, f"{function} {statement['Sid']}: {action} without one opt-in condition"
            ways.setdefault((function, action), []).extend(way)
    assert ways, "no statement changes anything"
    # Each granted change on either kind of opt-in, and no other way.
    assert {k: sorted(v) for k, v in ways.items()} == {k: ["app", "schedule"] for k in ways}
    assert '"Null"' not in SAM_TEMPLATE.read_text()


def test_tags_are_written_and_deleted_only_for_the_holders_copy(template: dict[str, Any]) -> None:
    tagging = [
        s
        for _, s in _function_statements(template)
        if {"autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"} & set(_named(s))
    ]
    assert len(tagging) == 6  # LockAsg writes, UnlockAsg and Cleanup delete: on either opt-in
    for statement in tagging:
        assert statement["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["asg-terminator:release"]}


RELEASE_EXECUTIONS = (
    {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-release:*"},
    {
        "Fn::Sub": [
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${Name}:*",
            {"Name": {"Fn::GetAtt": ["ReleaseStateMachine", "Name"]}},
        ]
    },
)


def test_execution_lookups_are_only_on_the_release_state_machines_executions(template: dict[str, Any]) -> None:
    assert template["Resources"]["ReleaseStateMachine"]["Properties"]["Name"] == {
        "Fn::Sub": "${AWS::StackName}-release"
    }
    looking = {f: s["Resource"] for f, s in _function_statements(template) if "states:DescribeExecution" in _named(s)}
    assert set(looking) == {"LockAsg", "Cleanup", "StartRelease", "ContinueAsNewExecution"}
    assert all(resource in RELEASE_EXECUTIONS for resource in looking.values()), looking


def test_notifications_go_only_to_the_stacks_one_bus(template: dict[str, Any]) -> None:
    assert template["Parameters"]["EventBusName"]["Default"] == "default"
    assert template["Globals"]["Function"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == {"Ref": "EventBusName"}
    sending = {f: s["Resource"] for f, s in _function_statements(template) if "events:PutEvents" in _named(s)}
    assert set(sending) == {"LockAsg", "CheckReplacement", "PassCheckpoint", "AwaitApproval", "Summarize"}
    bus = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"}
    assert all(resource == bus for resource in sending.values()), sending


def test_the_pin_is_read_and_written_only_under_asg_terminator(template: dict[str, Any]) -> None:
    pinning = [s for _, s in _function_statements(template) if any(a.startswith("ssm:") for a in _named(s))]
    assert pinning
    under = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/asg-terminator/*"}
    assert all(s["Resource"] == under for s in pinning)


# -- docs/permissions.md's table says what each role grants: the same actions, row by row.

PERMISSIONS = SAM_TEMPLATE.parent.parent / "docs" / "permissions.md"
_ROW = re.compile(r"^\| `(?P<function>\w+)` \| (?P<actions>[^|]*) \|")
_ACTION = re.compile(r"`([a-z0-9-]+:[A-Z]\w+)`")


def _documented() -> dict[str, set[str]]:
    rows = (_ROW.match(line) for line in PERMISSIONS.read_text().splitlines())
    return {m["function"]: set(_ACTION.findall(m["actions"])) for m in rows if m}


def test_the_permissions_table_names_exactly_what_each_role_grants(template: dict[str, Any]) -> None:
    granted: dict[str, set[str]] = {name: set() for name in FUNCTIONS}
    for function, statement in _function_statements(template):
        granted[function].update(_named(statement))
    documented = _documented()
    assert set(documented) == set(FUNCTIONS)
    assert {f: sorted(a) for f, a in documented.items()} == {f: sorted(a) for f, a in granted.items()}
