"""What the lease costs per batch: DynamoDB calls and their time, beside each fleet-changing step's own.

The real handlers run against moto in this process, for batches of 1, 10 and 100 instances (each
in an ASG twice that size with one target group): LockAsg once per release, then one batch's Drain
and Terminate, then UnlockAsg. DynamoDB calls are counted, and timed, with botocore ``before-call``
and ``after-call`` hooks on the session the handlers' clients come from. Times are moto's
(in-process), not AWS latency: the call counts are what carries over.

    .venv/bin/python benchmarks/lease.py [--batches 1,10,100]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from typing import Any

from _common import NEW, OLD, REGION, Stopwatch, fake_aws_environment, loopback_only, note, table

RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:bench"


class DynamoTimer:
    """Counts DynamoDB calls by operation and adds up the time spent in them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        self._started = threading.local()

    def before(self, model: Any = None, **kwargs: Any) -> None:
        if model is not None and model.service_model.service_name == "dynamodb":
            self._started.at = time.perf_counter()
            self.calls[model.name] += 1

    def after(self, model: Any = None, **kwargs: Any) -> None:
        if model is not None and model.service_model.service_name == "dynamodb":
            self.seconds += time.perf_counter() - self._started.at

    def take(self) -> tuple[Counter[str], float]:
        taken = (self.calls, self.seconds)
        self.calls, self.seconds = Counter(), 0.0
        return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,10,100")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",") if b.strip()]

    refused = loopback_only()
    fake_aws_environment()
    import logging
    import os

    import boto3
    from moto import mock_aws

    from asg_terminator import stack
    from asg_terminator.fleet import create_asg
    from tasks import contracts, runtime
    from tasks.domain.fleet import Decision, Progress
    from tasks.handlers import drain, lock_asg, terminate, unlock_asg

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    timer = DynamoTimer()
    settings = {**contracts.defaults("validate_input.input"), "target_version": NEW}
    rows: list[list[Any]] = []
    per_batch: list[list[Any]] = []
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", timer.before)
        boto3.DEFAULT_SESSION.events.register("after-call", timer.after)
        own = boto3.Session(region_name=REGION)
        os.environ["LEASE_TABLE"] = stack.create_lease_table(own.client("dynamodb"))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"  # the simulator's version URLs, as local up sets it
        runtime.cold_start()
        autoscaling, ec2, elbv2 = own.client("autoscaling"), own.client("ec2"), own.client("elbv2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        for size in batches:
            name = f"bench-lease-{size}"
            ids = create_asg(autoscaling, ec2, name, 2 * size, max_size=4 * size)
            group_arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
                "TargetGroupArn"
            ]
            autoscaling.attach_load_balancer_target_groups(AutoScalingGroupName=name, TargetGroupARNs=[group_arn])
            batch = tuple(ids[:size])
            progress = Progress(
                target_version=NEW,
                versions_before={OLD: 2 * size},
                decision=Decision("terminate", f"{name} => {size} instances to terminate", batch),
            ).to_record()
            steps = [
                ("LockAsg", lock_asg.handler, {"takes_over": None, "settings": settings}),
                ("Drain", drain.handler, {"progress": progress, "alarm_names": []}),
                ("Terminate", terminate.handler, {"progress": progress}),
                ("UnlockAsg", unlock_asg.handler, {}),
            ]
            timer.take()
            batch_calls, batch_lease, batch_total = 0, 0.0, 0.0
            for step, handler, extra in steps:
                with Stopwatch() as clock:
                    handler({"asg_name": name, "release_id": RELEASE_ID, **extra}, None)
                calls, seconds = timer.take()
                rows.append(
                    [
                        size,
                        step,
                        " ".join(f"{op} {n}" for op, n in sorted(calls.items())),
                        sum(calls.values()),
                        f"{seconds * 1000:.1f}",
                        f"{clock.seconds * 1000:.1f}",
                        f"{seconds / clock.seconds:.0%}",
                    ]
                )
                if step in ("Drain", "Terminate"):
                    batch_calls += sum(calls.values())
                    batch_lease += seconds
                    batch_total += clock.seconds
            per_batch.append(
                [
                    size,
                    batch_calls,
                    f"{batch_calls / size:.2f}",
                    f"{batch_lease * 1000:.1f}",
                    f"{batch_lease / batch_total:.0%}",
                ]
            )

    table(
        "lease.py - DynamoDB calls (the lease) per step, real handlers under moto",
        ["batch", "step", "DynamoDB calls", "calls", "lease ms", "step ms", "lease share"],
        rows,
        left=3,
        caption=(
            "LockAsg and UnlockAsg run once per ASG and release (take: GetItem + PutItem; each fence an UpdateItem; "
            "let go: GetItem + DeleteItem). Drain and Terminate run once per batch: one renewal before the "
            "deregistration, one before each termination and one after the batch. ms: wall time in moto, in process."
        ),
    )
    table(
        "lease.py - what the lease costs per batch (Drain + Terminate)",
        ["batch", "DynamoDB calls", "per instance", "lease ms", "share of the two steps"],
        per_batch,
    )
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
