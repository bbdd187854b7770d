"""Helpers for functional tests: step records with real shapes, and tiny HTTP servers on loopback.

Every server here binds 127.0.0.1:0 and nothing in this package connects anywhere else.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3

from asg_terminator.fleet import create_asg
from asg_terminator.loopback import LoopbackServer, QuietHandler
from tasks.domain import notifications
from tasks.domain.fleet import Instance, Progress, iso

REGION = "us-east-1"
OLD = "1.0.266"
NEW = "1.0.274"
RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test"

# ---------------------------------------------------------------------------------------------
# Step records
# ---------------------------------------------------------------------------------------------


def empty_progress() -> dict[str, Any]:
    """The ledger a release starts each ASG with (every key present, as ValidateInput builds it)."""
    return Progress().to_record()


def ago(seconds: float) -> str:
    return iso(datetime.now(UTC) - timedelta(seconds=seconds))


def instance_record(
    instance_id: str,
    version: str | None,
    *,
    az: str = "us-east-1a",
    lifecycle: str = "InService",
    health: str = "Healthy",
    reason: str | None = None,
) -> dict[str, Any]:
    """A record as ReadVersions writes it: the usual values left out."""
    return Instance(instance_id, az, lifecycle, health, version=version, reason=reason).to_record()


def fleet_record(instances: list[dict[str, Any]], desired: int | None = None, name: str = "web") -> dict[str, Any]:
    count = len(instances) if desired is None else desired
    return {"asg_name": name, "desired": count, "min_size": 0, "max_size": count * 2, "instances": instances}


# asg_terminator.fleet.create_asg looks an AMI up with DescribeImages, which costs moto about a second
# per test; moto does not check the image a launch template names, so a fixed id keeps the suite fast.
def stored(record: dict[str, Any], release_id: str = RELEASE_ID, written_by: str = "ReadVersions") -> dict[str, Any]:
    """A fleet record put in the stack's fleet bucket (moto) as Discover or ReadVersions puts it: its ``fleet_ref``."""
    from tasks import runtime
    from tasks.domain.fleet import Fleet

    return runtime.fleet_records().put(release_id, written_by, Fleet.from_record(record))


def fetched(ref: dict[str, Any]) -> dict[str, Any]:
    """The fleet record a ``fleet_ref`` names, read back from the bucket (and checked as the functions check it)."""
    from tasks import runtime

    return runtime.fleet_records().read(ref).fleet.to_record()


def discover_fleet(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Discover's handler (``release_id`` added when the event has none), its stored read fetched back."""
    from tasks.handlers.discover import handler

    return fetched(handler({"release_id": RELEASE_ID, **event}, context))


def read_fleet(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """ReadVersions' handler on a fleet record (stored first, as Discover stores it), its stored read fetched back."""
    from tasks.handlers.read_versions import handler

    return fetched(handler({**event, "fleet": stored(event["fleet"], written_by="Discover")}, context))


IMAGE_ID = "ami-12c6146b"


def create_group(
    autoscaling: Any,
    ec2: Any,
    name: str,
    instances: int,
    zones: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c"),
    max_size: int | None = None,
    tags: dict[str, str] | None = None,
    opted_in: bool = True,
) -> list[str]:
    """An ASG of ``instances`` InService instances (tags propagated at launch); returns their ids.
    It opts in to releases (``asg-terminator:app``) unless ``opted_in`` is False or ``tags`` choose."""
    create_asg(autoscaling, ec2, name, instances, zones, max_size, tags, image_id=IMAGE_ID, opted_in=opted_in)
    return sorted(group_ids(autoscaling, name))


def group(autoscaling: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][
        0
    ]
    return found


def leased(asg_name: str, release_id: str = RELEASE_ID, **settings: Any) -> str:
    """Take the ASG's lease with the real LockAsg handler (suspending nothing unless asked), as a
    release does before it changes the fleet; returns the release's id."""
    from tasks import contracts
    from tasks.handlers.lock_asg import handler

    chosen = {**contracts.defaults("validate_input.input"), "suspend_processes": [], **settings}
    handler({"asg_name": asg_name, "release_id": release_id, "takes_over": None, "settings": chosen}, None)
    return release_id


def group_ids(autoscaling: Any, name: str) -> set[str]:
    return {i["InstanceId"] for i in group(autoscaling, name)["Instances"]}


def put_alarm(name: str, state: str | None = None) -> None:
    """A CloudWatch metric alarm (in moto), optionally forced into ``state``."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    if state:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"set to {state} by the test")


def subscribe_to_releases() -> Callable[[], list[dict[str, Any]]]:
    """An SQS queue (in moto) subscribed to every asg-terminator event on the default bus; returns a
    reader that takes every event delivered since the last read."""
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="releases")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="releases", EventPattern=json.dumps({"source": [notifications.SOURCE]}))
    events.put_targets(Rule="releases", Targets=[{"Id": "queue", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            received += [json.loads(m["Body"]) for m in batch]
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            sqs.delete_message_batch(QueueUrl=queue, Entries=entries)
        return received

    return read


# ---------------------------------------------------------------------------------------------
# Loopback HTTP servers
# ---------------------------------------------------------------------------------------------

Behaviour = Callable[[BaseHTTPRequestHandler, threading.Event], None]


def _write(handler: BaseHTTPRequestHandler, data: bytes) -> bool:
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        _write(handler, body)

    return behave


def redirect(status: int, location: str) -> Behaviour:
    return answer(status, b"moved", {"Location": location})


def delayed(seconds: float, then: Behaviour) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if stop.wait(seconds):
            return
        then(handler, stop)

    return behave


def drip(raw: bytes, every: float = 0.2, at_most: float = 2.0, head: bytes = b"") -> Behaviour:
    """Write ``head`` at once, then ``raw`` one byte every ``every`` s, for at most ``at_most`` s."""

    def behave(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.close_connection = True
        if head and not _write(handler, head):
            return
        budget = int(at_most / every)
        for byte in raw[:budget]:
            if stop.wait(every) or not _write(handler, bytes([byte])):
                return

    return behave


def stall_after_headers(seconds: float) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.close_connection = True
        _write(handler, b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n")
        stop.wait(seconds)

    return behave


class Loopback(LoopbackServer):
    """An HTTP server on 127.0.0.1:0 that answers each path with a behaviour and records every request."""

    def __init__(self, routes: dict[str, Behaviour] | None = None, default: Behaviour | None = None) -> None:
        self.routes = dict(routes or {})
        self.default = default or answer(404, b"no such path")
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        super().__init__(self._handler())

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self._stop.set()  # a delayed or dripping behaviour lets go of its connection
        super().stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                behaviour = server.routes.get(self.path, server.default)
                try:
                    behaviour(self, server._stop)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port on loopback that completes TCP handshakes (the kernel's backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def target_group(autoscaling: Any, asg_name: str, delay_seconds: int = 1) -> str:
    """A target group (in moto) attached to the ASG, which registers its instances; returns its ARN."""
    ec2, elbv2 = boto3.client("ec2", region_name=REGION), boto3.client("elbv2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    name = f"{asg_name}-tg".replace("_", "-")[:32]
    arn: str = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
        "TargetGroupArn"
    ]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay_seconds)}]
    )
    autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=asg_name, TargetGroupARNs=[arn])
    return arn
