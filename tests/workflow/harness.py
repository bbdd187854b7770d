"""Run the real release state machine on moto's interpreter and watch the fleet while it runs."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse
from click.testing import CliRunner

from asg_terminator import approval
from asg_terminator.cli import main
from asg_terminator.history import TERMINAL, continuations, events_of, next_execution, scheduled

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from asg_terminator.simulator import FleetSimulator
    from tests.workflow.conftest import World


@dataclass
class Sample:
    at: float
    asg_name: str
    desired: int
    serving: int


@dataclass
class FloorWatch:
    """Samples every ASG's serving count (InService, Healthy, version readable) as the release runs.

    Also remembers what each instance read at the last sample before it left its ASG, so a test can
    tell whether an instance that was serving the target got terminated.
    """

    autoscaling: Any
    simulator: FleetSimulator
    asg_names: list[str]
    interval: float = 0.02
    samples: list[Sample] = field(default_factory=list)
    last_read: dict[str, str | None] = field(default_factory=dict)
    gone: dict[str, str | None] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        present: set[str] = set()
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=self.asg_names)
        now = time.monotonic()
        for group in groups["AutoScalingGroups"]:
            serving = 0
            for instance in group["Instances"]:
                present.add(instance["InstanceId"])
                read = self.simulator.reads(instance["InstanceId"])
                self.last_read[instance["InstanceId"]] = read
                if instance["LifecycleState"] == "InService" and instance["HealthStatus"] == "Healthy" and read:
                    serving += 1
            self.samples.append(Sample(now, group["AutoScalingGroupName"], group["DesiredCapacity"], serving))
        for instance_id, read in self.last_read.items():
            if instance_id not in present and instance_id not in self.gone:
                self.gone[instance_id] = read

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # moto may be mid-update; the next sample will do
                self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> FloorWatch:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()

    def lowest(self, asg_name: str) -> Sample:
        return min((s for s in self.samples if s.asg_name == asg_name), key=lambda s: s.serving)

    def floor_breaches(self, asg_name: str, min_healthy: int, min_healthy_percent: int = 0) -> list[Sample]:
        def floor(desired: int) -> int:
            return max(min_healthy, math.ceil(min_healthy_percent * desired / 100))

        return [s for s in self.samples if s.asg_name == asg_name and s.serving < floor(s.desired)]


@dataclass
class Execution:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    # A release that continued as new executions: every execution of its chain, first to last
    # (this one last). The other fields describe this, the last one.
    chain: list[Execution] = field(default_factory=list)

    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history if "stateEnteredEventDetails" in e]

    def task_outputs(self, state: str) -> list[Any]:
        """Outputs of a Task state, in order (read from the history, as the console does)."""
        outputs, _current = [], None
        for event in self.history:
            if "stateEnteredEventDetails" in event:
                event["stateEnteredEventDetails"]["name"]
            if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == state:
                outputs.append(json.loads(event["stateExitedEventDetails"]["output"]))
        return outputs

    def terminated(self) -> list[str]:
        # A Terminate that failed (caught: its output carries the failure) terminated nothing.
        # The pending batch names it whole (the ledger's batches only the 20 most recent ids); an id
        # that had already left the group is named too, and counted out of its status.
        done = [o for o in self.task_outputs("Terminate") if "failure" not in o]
        return [i for o in done for i in o["progress"]["pending"]["instance_ids"]]

    def batch_sizes(self) -> list[int]:
        """How many instances each Terminate terminated, in order ("terminated N of M; ...")."""
        pending = [o["progress"].get("pending") for o in self.task_outputs("Terminate")]
        return [int(p["status"].split()[1]) if p else 0 for p in pending]  # a caught failure: none

    def approvals(self) -> list[dict[str, Any]]:
        """The answers the AwaitApproval callback tasks got (their TaskSucceeded outputs)."""
        by_id = {e["id"]: e for e in self.history}
        return [
            json.loads(event["taskSucceededEventDetails"]["output"])
            for event in self.history
            if event["type"] == "TaskSucceeded"
            and (task := scheduled(by_id, event)) is not None
            and task["taskScheduledEventDetails"]["resource"] == approval.CALLBACK
        ]

    def cause_message(self) -> str:
        payload = json.loads(self.cause or "{}")
        return str(payload.get("errorMessage", self.cause))


def run_execution(sfn: Any, machine_arn: str, execution_input: Any, timeout: float = 120) -> Execution:
    """Start a release and wait until it ends, following its chain of executions if it continues."""
    raw = execution_input if isinstance(execution_input, str) else json.dumps(execution_input)
    # Named explicitly: moto's server mode names unnamed executions "None", so a second one collides.
    arn = sfn.start_execution(stateMachineArn=machine_arn, input=raw, name=f"test-{uuid.uuid4().hex[:12]}")[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    first = _wait(sfn, arn, deadline)
    later = continuations(first, lambda a: _wait(sfn, a, deadline), lambda e: next_execution(e.status, e.output))
    chain = [first, *later]
    chain[-1].chain = chain
    return chain[-1]


def wait_for_execution(sfn: Any, arn: str, timeout: float = 90) -> Execution:
    """Wait for an execution started elsewhere (by an event, another thread) to end."""
    return _wait(sfn, arn, time.monotonic() + timeout)


def _wait(sfn: Any, arn: str, deadline: float) -> Execution:
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still {described['status']} at the deadline")
        time.sleep(0.05)
    history = events_of(sfn, arn)
    return Execution(
        arn=arn,
        status=described["status"],
        output=json.loads(described["output"]) if described.get("output") else None,
        error=described.get("error"),
        cause=described.get("cause"),
        history=history,
    )


def throttle(client: Any, operation: str, times: int) -> list[int]:
    """Make the next ``times`` calls of ``operation`` on this client answer Throttling, as AWS does."""
    answered: list[int] = []

    def hook(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(answered) >= times:
            return None
        answered.append(1)
        error = {"Code": "Throttling", "Message": "Rate exceeded"}
        return AWSResponse("https://autoscaling", 400, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    client.meta.events.register(f"before-call.autoscaling.{operation}", hook)
    return answered


@contextlib.contextmanager
def alarm_after_first_termination(autoscaling: Any, asg_name: str, original: list[str], alarm: str) -> Iterator[None]:
    """While the block runs, put ``alarm`` into ALARM as soon as one of ``original`` has left the group."""
    from tests.functional.support import put_alarm

    put_alarm(alarm, "OK")
    stop = threading.Event()

    def fire() -> None:
        while not stop.wait(0.02):
            group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
            if set(original) - {i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]}:
                put_alarm(alarm, "ALARM")
                return

    watcher = threading.Thread(target=fire, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


# -- answering while the release runs, as an operator would from another terminal.


def cli(world: World, *args: str) -> Any:
    endpoint = ["--endpoint-url", world.sfn.meta.endpoint_url, "--region", "us-east-1"]
    return CliRunner().invoke(main, [*args, *endpoint], catch_exceptions=False)


def running_execution(world: World) -> str:
    while True:
        running = world.sfn.list_executions(stateMachineArn=world.machine_arn, statusFilter="RUNNING")["executions"]
        if running:
            return str(running[0]["executionArn"])
        time.sleep(0.05)


def wait_for_approvals(world: World, arn: str, count: int, timeout: float = 60) -> list[approval.Waiting]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        found = approval.waiting(arn, events)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{count} approvals were never requested")


class in_background:  # noqa: N801 - reads as a with-statement
    """Run ``act(execution_arn)`` in a thread once the release has started; re-raise what it raised."""

    def __init__(self, world: World, act: Callable[[str], None]) -> None:
        self._world, self._act = world, act
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._act(running_execution(self._world))
        except BaseException as e:  # surfaced in __exit__
            self._error.append(e)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=30)
        if self._error:
            raise self._error[0]
