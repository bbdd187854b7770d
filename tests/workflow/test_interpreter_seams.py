"""The seams we rely on in moto's Step Functions interpreter. If moto moves them, these fail first,
with a message saying what moved, rather than every workflow test timing out obscurely."""

from __future__ import annotations

import json
import re
from importlib import metadata

import boto3

from asg_terminator.lambda_server import LambdaInvokeServer, function_arn
from asg_terminator.paths import ROOT
from tests.workflow.conftest import REGION
from tests.workflow.harness import run_execution


def test_moto_is_the_pinned_version() -> None:
    pinned = re.search(r"moto\[[^\]]*\]==([\w.]+)", (ROOT / "pyproject.toml").read_text())
    assert pinned, "pyproject.toml no longer pins moto"
    assert metadata.version("moto") == pinned.group(1), (
        "moto differs from the pinned version: re-check tests/workflow/test_interpreter_seams.py "
        "and asg_terminator/localstack.py against the new interpreter before moving the pin"
    )


def test_interpreter_invokes_lambda_through_the_endpoint_and_names_errors_by_class(lambdas: LambdaInvokeServer) -> None:
    class NamedStepError(Exception):
        pass

    def ok(event: dict, context: object) -> dict:
        return {"seen": event["n"] + 1}

    def fails(event: dict, context: object) -> dict:
        raise NamedStepError("the cause text")

    lambdas.handlers.update({"seam-ok": ok, "seam-fails": fails})
    definition = {
        "StartAt": "Ok",
        "States": {
            "Ok": {
                "Type": "Task",
                "Resource": function_arn("Ok", REGION).replace("asg-terminator-Ok", "seam-ok"),
                "TimeoutSeconds": 10,
                "ResultPath": "$.ok",
                "Next": "Fails",
            },
            "Fails": {
                "Type": "Task",
                "Resource": function_arn("F", REGION).replace("asg-terminator-F", "seam-fails"),
                "TimeoutSeconds": 10,
                "Catch": [{"ErrorEquals": ["NamedStepError"], "ResultPath": "$.caught", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="seams", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/seams"
    )["stateMachineArn"]

    execution = run_execution(sfn, arn, {"n": 1}, timeout=30)

    assert execution.status == "SUCCEEDED", (
        f"moto's interpreter no longer reaches AWS_ENDPOINT_URL_LAMBDA as before: {execution.error} {execution.cause}"
    )
    assert lambdas.invocations[-2:] == ["seam-ok", "seam-fails"]
    assert execution.output["ok"] == {"seen": 2}
    assert execution.output["caught"]["Error"] == "NamedStepError"
    assert json.loads(execution.output["caught"]["Cause"])["errorMessage"] == "the cause text"
    types = [e["type"] for e in execution.history]
    assert "LambdaFunctionScheduled" in types and "LambdaFunctionFailed" in types


def test_a_state_machine_runs_again_after_an_execution_ended(aws: None) -> None:
    """moto 5.2.1 could not start a second execution once one had ended (it deep-copies the state
    machine with its finished executions); the local stack runs many releases on one machine."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name="again", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/seams"
    )["stateMachineArn"]

    statuses = [run_execution(sfn, arn, {"n": n}, timeout=10).status for n in range(3)]

    assert statuses == ["SUCCEEDED"] * 3


def test_moto_dynamodb_item_operations_are_serialized_as_dynamodb_applies_them(aws: None) -> None:
    """moto checks a write's condition and then writes, unlocked, so two threads' conditional puts on
    one absent item can both pass (once in a loaded CI run of tests/functional/test_lease_race.py);
    DynamoDB lets one. The local stack wraps those methods in one lock: they must still be there."""
    from moto.dynamodb.models import DynamoDBBackend

    from asg_terminator import stack

    stack.make_moto_atomic()
    for name in stack.ITEM_OPERATIONS:
        assert hasattr(getattr(DynamoDBBackend, name), "__wrapped__"), f"moto's DynamoDBBackend.{name} moved"
    from moto.autoscaling.models import AutoScalingBackend

    stack.make_moto_scale()
    from moto.ec2.models.core import TaggedEC2Resource

    assert hasattr(TaggedEC2Resource.get_tags, "__wrapped__"), "moto's TaggedEC2Resource.get_tags moved"
    served = stack.autoscaling_operations()  # Terminate makes ten terminations at once, each one locked
    assert {"terminate_instance", "set_desired_capacity", "describe_auto_scaling_groups"} <= set(served)
    assert all(hasattr(getattr(AutoScalingBackend, name), "__wrapped__") for name in served)
    client = boto3.client("dynamodb", region_name=REGION)
    table = stack.create_lease_table(client)
    item = {"asg_name": {"S": "web"}, "holder": {"S": "a"}}
    client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(asg_name)")
    try:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(asg_name)")
        raise AssertionError("a conditional put went through the wrapper unchecked")
    except client.exceptions.ConditionalCheckFailedException:
        pass
