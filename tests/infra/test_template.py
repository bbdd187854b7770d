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
        assert value == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in machine["Policies"] if "LambdaInvokePolicy" in p}
    assert invoked == {f"{s}Function" for s in STEPS}


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
