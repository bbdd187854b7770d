"""`asg-terminator deploy` end to end against moto's CloudFormation: the stack it creates runs our
ASL with every function substituted, and a second deploy updates it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from asg_terminator.deploy import DEPLOY_SERVICES, deploy, state_machine_arn
from asg_terminator.paths import RELEASE_ASL
from tasks.handlers import FUNCTIONS, STEPS, module_name

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        clients: dict[str, Any] = {
            name: boto3.client(name) for name in (*DEPLOY_SERVICES, "ec2", "stepfunctions", "lambda")
        }  # type: ignore[call-overload]
        clients["s3"].create_bucket(Bucket="deploy-bucket")
        yield clients


def network(ec2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="versions", Description="reads /version", VpcId=vpc)["GroupId"]
    return {"SubnetIds": subnet, "SecurityGroupId": group}


def test_deploy_creates_a_stack_running_our_asl_then_updates_it(aws: dict[str, Any]) -> None:
    parameters = network(aws["ec2"])
    said: list[str] = []

    status = deploy("asg-terminator", "deploy-bucket", parameters, aws, None, say=said.append)

    assert status == "CREATE_COMPLETE"
    assert state_machine_arn(aws["cloudformation"], "asg-terminator").startswith("arn:aws:states:")
    functions = {f["FunctionName"]: f for f in aws["lambda"].list_functions()["Functions"]}
    assert {f["Handler"] for f in functions.values()} == {
        f"tasks.handlers.{module_name(name)}.handler" for name in FUNCTIONS
    }
    assert all(f["Runtime"] == "python3.12" for f in functions.values())
    # moto's CloudFormation does not load a definition from S3, so read what the stack was given:
    body = aws["cloudformation"].get_template(StackName="asg-terminator")["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    machine = next(
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    location = machine["DefinitionS3Location"]
    uploaded = aws["s3"].get_object(Bucket=location["Bucket"], Key=location["Key"])["Body"].read()
    assert uploaded == RELEASE_ASL.read_bytes()
    # Each Task state calls its function's published version (AutoPublishAlias), never $LATEST.
    versions = {k: v["Ref"] for k, v in machine["DefinitionSubstitutions"].items()}
    assert set(versions) == {f"{step}FunctionArn" for step in STEPS}
    assert all(template["Resources"][v]["Type"] == "AWS::Lambda::Version" for v in versions.values())
    assert any("uploaded s3://deploy-bucket/asg-terminator/" in line for line in said)

    status = deploy("asg-terminator", "deploy-bucket", {**parameters, "ScheduleState": "DISABLED"}, aws, None)

    assert status == "UPDATE_COMPLETE"
