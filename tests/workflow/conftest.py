"""Fixtures for workflow tests: the real ASL on moto's interpreter, the real handlers behind a
loopback Lambda Invoke server, and a simulated fleet on loopback.

Every workflow test also runs against an external Step Functions endpoint (AWS Step Functions Local,
LocalStack) when one is named; here, with no Docker engine, those runs are skipped:

    docker run --rm --network host -e LAMBDA_ENDPOINT=http://127.0.0.1:9001 amazon/aws-stepfunctions-local
    ASG_TERMINATOR_SFN_ENDPOINT=http://127.0.0.1:8083 ASG_TERMINATOR_LAMBDA_PORT=9001 make check

The external interpreter calls our Lambda Invoke server on that port; the handlers' own AWS calls
(Auto Scaling, EC2) still land in moto in this process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from asg_terminator import stack
from asg_terminator.eventbridge import StatusChangeDelivery, invoke
from asg_terminator.fleet import create_asg
from asg_terminator.lambda_server import ACCOUNT, LambdaInvokeServer, function_name, substitutions
from asg_terminator.simulator import FaultPlan, FleetSimulator, MetricsPlan, asg_instance_lister
from tasks import runtime
from tests.workflow.harness import Execution, FloorWatch, run_execution

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tasks.domain.lease import Lease

REGION = "us-east-1"
EXTERNAL_SFN = os.environ.get("ASG_TERMINATOR_SFN_ENDPOINT")
LAMBDA_PORT = int(os.environ.get("ASG_TERMINATOR_LAMBDA_PORT", "0"))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def lambdas(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaInvokeServer]:
    """Every Task state reaches our real handlers through the Lambda Invoke HTTP API."""
    stack.make_moto_atomic()
    monkeypatch.setenv("LEASE_TABLE", stack.create_lease_table(boto3.client("dynamodb", region_name=REGION)))
    monkeypatch.setenv("FLEET_BUCKET", stack.create_fleet_bucket(boto3.client("s3", region_name=REGION)))
    monkeypatch.setenv("ALLOWED_VERSION_HOSTS", "127.0.0.1")  # the simulator's version URLs, as local up sets it
    monkeypatch.setenv("IN_FLIGHT_SECONDS", "1")  # moto's steps end within it (70 s in AWS: the Lambda timeout)
    monkeypatch.setenv("CAPACITY_LAG_SECONDS", "1")  # moto's reads do not lag
    runtime.settings.cache_clear()
    with LambdaInvokeServer(port=LAMBDA_PORT if EXTERNAL_SFN else 0) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
        yield server
    runtime.settings.cache_clear()


@dataclass
class World:
    sfn: Any
    autoscaling: Any
    ec2: Any
    machine_arn: str
    lambdas: LambdaInvokeServer
    simulator: FleetSimulator | None = None

    def fleet(
        self,
        build: str,
        boot_seconds: float = 0.3,
        faults: FaultPlan | None = None,
        build_source: Callable[[], str | None] | None = None,
        metrics: MetricsPlan | None = None,
    ) -> FleetSimulator:
        """``metrics``: each serving instance publishes its metrics to moto's CloudWatch (canary_analysis)."""
        lister = asg_instance_lister(self.autoscaling)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION) if metrics else None
        self.simulator = FleetSimulator(
            lister,
            build=build,
            boot_seconds=boot_seconds,
            faults=faults,
            build_source=build_source,
            metrics=metrics,
            cloudwatch=cloudwatch,
        ).start()
        return self.simulator

    def asg(self, name: str, instances: int, version: str, **kwargs: Any) -> list[str]:
        assert self.simulator is not None, "start the fleet simulator first"
        ids = create_asg(self.autoscaling, self.ec2, name, instances, **kwargs)
        self.simulator.adopt(ids, version)
        return ids

    def release(self, execution_input: dict[str, Any], timeout: float = 120) -> tuple[Execution, FloorWatch]:
        assert self.simulator is not None
        names = execution_input.get("asg_names") or []
        defaults = {"version_url": self.simulator.url_template, "poll_seconds": 1}
        full = {**defaults, **execution_input}
        with FloorWatch(self.autoscaling, self.simulator, list(names)) as watch:
            execution = run_execution(self.sfn, self.machine_arn, full, timeout=timeout)
        return execution, watch

    def release_raw(
        self, execution_input: dict[str, Any], watch_asgs: list[str], timeout: float = 120
    ) -> tuple[Execution, FloorWatch]:
        """Run exactly this input (an EventBridge event, say), watching the named ASGs."""
        assert self.simulator is not None
        with FloorWatch(self.autoscaling, self.simulator, watch_asgs) as watch:
            execution = run_execution(self.sfn, self.machine_arn, execution_input, timeout=timeout)
        return execution, watch

    def group(self, name: str) -> dict[str, Any]:
        """The ASG as DescribeAutoScalingGroups shows it."""
        found: dict[str, Any] = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ][0]
        return found

    def lease(self, name: str) -> Lease | None:
        """The ASG's lease item, as the functions read it."""
        return runtime.leases().get(name)

    def status_changes(self) -> StatusChangeDelivery:
        """Deliver 'Step Functions Execution Status Change' events to Cleanup, as local up does in
        EventBridge's place (moto emits none). Use as a with-block."""
        deliver = invoke(self.lambdas.invoke, function_name("Cleanup"))
        return StatusChangeDelivery(self.sfn, self.machine_arn, deliver, REGION, ACCOUNT, interval=0.2)

    def versions(self, name: str) -> list[str | None]:
        assert self.simulator is not None
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return sorted((self.simulator.reads(i["InstanceId"]) or "unreadable") for i in group["Instances"])


@pytest.fixture(params=["moto", "external"])
def interpreter(request: pytest.FixtureRequest) -> str | None:
    """The Step Functions endpoint: moto's interpreter in process, or an external one."""
    if request.param == "external":
        if not EXTERNAL_SFN:
            pytest.skip("no external Step Functions endpoint (set ASG_TERMINATOR_SFN_ENDPOINT)")
        return EXTERNAL_SFN
    return None


@pytest.fixture
def world(lambdas: LambdaInvokeServer, interpreter: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=interpreter)
    machine_arn = stack.create_release_state_machine(sfn, substitutions(REGION))
    monkeypatch.setenv("STATE_MACHINE_ARN", machine_arn)  # as the template sets it on StartRelease and Cleanup
    runtime.settings.cache_clear()
    w = World(
        sfn=sfn,
        autoscaling=boto3.client("autoscaling", region_name=REGION),
        ec2=boto3.client("ec2", region_name=REGION),
        machine_arn=machine_arn,
        lambdas=lambdas,
    )
    yield w
    if w.simulator is not None:
        w.simulator.stop()
