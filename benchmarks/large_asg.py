"""A release of one large ASG that converges: 10,000 instances through the handlers, 4,000 through `local up`.

``--via handlers`` (default 10,000 instances) runs the real handlers in the order the ASL chains
them (LockAsg, then Discover, ReadVersions, SelectBatch, Drain, Terminate, CheckReplacement until
replaced, SelectBatch again on the check's read until converged, then UnlockAsg), in this process
against moto, the fleet simulator answering every instance's /version on loopback. Each state's
payload is built as the ASL builds it and measured. ``--via local-up`` (default 4,000 instances)
starts the stack `asg-terminator local up` serves (asg_terminator/localstack.py: moto's server and
interpreter running the real ASL, the handlers behind its Lambda Invoke API), creates the ASG
through its endpoint and uploads the build to the artifacts bucket, which starts the release (as the
demo does); the times and payload sizes are read from the execution's history.

``--outdated`` instances run the old build, the others the target already (default: one batch at
the cap of 500, so a run takes minutes: moto's DescribeInstances takes about 4 s per 1,000 instances
here, with its tag lookup made linear as the local stack makes it (stack.make_moto_scale), and every
read and every replacement check describes them all). Times are this machine's and moto's, printed,
never asserted.

    .venv/bin/python benchmarks/large_asg.py [--via handlers|local-up] [--instances N] [--outdated M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

from _common import NEW, OLD, REGION, fake_aws_environment, loopback_only, note, table

RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:large"
IMAGE = "ami-12c6146b"  # skips moto's DescribeImages
BOOT_SECONDS = 3.0
# The simulator lists the group this often: one DescribeAutoScalingGroups of every instance, about
# 0.4 s of moto per 1,000, on the cores the handlers run on (a replacement is seen booting that late).
WATCH_SECONDS = 10.0


def size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class Steps:
    """Per step: how long each call took and the largest state it saw."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.largest: dict[str, int] = {}

    def run(self, step: str, handler: Any, event: dict[str, Any], state: dict[str, Any] | None = None) -> Any:
        started = time.perf_counter()
        result = handler(event, None)
        self.times.setdefault(step, []).append(time.perf_counter() - started)
        seen = max(size(event), size(result), size(state) if state is not None else 0)
        self.largest[step] = max(self.largest.get(step, 0), seen)
        return result

    def rows(self) -> list[list[str]]:
        return [
            [
                step,
                str(len(t)),
                f"{statistics.mean(t):.2f}",
                f"{max(t):.2f}",
                f"{sum(t):.1f}",
                f"{self.largest.get(step, 0) / 1024:.1f}",
            ]
            for step, t in self.times.items()
        ]


def through_handlers(instances: int, outdated: int, max_batch: int | None) -> None:
    import boto3
    from moto import mock_aws

    from asg_terminator import stack
    from asg_terminator.fleet import create_asg
    from asg_terminator.simulator import FleetSimulator, asg_instance_lister
    from tasks import runtime
    from tasks.handlers import (
        check_replacement,
        discover,
        drain,
        lock_asg,
        read_versions,
        select_batch,
        terminate,
        unlock_asg,
        validate_input,
    )

    steps = Steps()
    with mock_aws():
        stack.make_moto_atomic()
        stack.make_moto_scale()  # as the local stack does: moto's tag lookup is quadratic in the instances
        os.environ["LEASE_TABLE"] = stack.create_lease_table(boto3.client("dynamodb", region_name=REGION))
        os.environ["FLEET_BUCKET"] = stack.create_fleet_bucket(boto3.client("s3", region_name=REGION))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"  # the simulator's version URLs, as local up sets it
        runtime.cold_start()
        autoscaling, ec2 = boto3.client("autoscaling", region_name=REGION), boto3.client("ec2", region_name=REGION)
        started = time.perf_counter()
        ids = create_asg(autoscaling, ec2, "large", instances, max_size=instances * 2, image_id=IMAGE)
        note(f"created {instances} instances in moto in {time.perf_counter() - started:.0f} s")
        lister = asg_instance_lister(autoscaling, ["large"])
        with FleetSimulator(lister, NEW, boot_seconds=BOOT_SECONDS, watch_interval=WATCH_SECONDS) as simulator:
            simulator.adopt(ids[:outdated], OLD)
            simulator.adopt(ids[outdated:], NEW)
            given = {
                "asg_names": ["large"],
                "target_version": NEW,
                "version_url": simulator.url_template,
                "min_healthy_percent": 50,
                "max_batch": max_batch,
                "probe_timeout_seconds": 5,
                "suspend_processes": [],
            }
            release = steps.run("ValidateInput", validate_input.handler, given)
            settings, progress = release["settings"], release["asgs"][0]["progress"]
            item = {"asg_name": "large", "release_id": RELEASE_ID, "settings": settings, "takes_over": None}
            steps.run("LockAsg", lock_asg.handler, item, {**item, "progress": progress})
            began = time.perf_counter()
            state: dict[str, Any] = {**item, "progress": progress}
            for _ in range(50):
                if "fleet" not in state:  # after a batch, SelectBatch decides on the last check's read
                    read = {"asg_name": "large", "release_id": RELEASE_ID, "version_url": settings["version_url"]}
                    fleet = steps.run("Discover", discover.handler, read, state)
                    state = {**state, "fleet": fleet}
                    probe = {"fleet": fleet, "probe_timeout_seconds": settings["probe_timeout_seconds"]}
                    state["fleet"] = steps.run("ReadVersions", read_versions.handler, probe, state)
                select = {k: state[k] for k in ("asg_name", "release_id", "settings", "progress", "fleet")}
                state = {**item, **steps.run("SelectBatch", select_batch.handler, select)}
                del state["takes_over"]
                action = state["progress"]["decision"]["action"]
                if action == "converged":
                    break
                if action != "terminate":
                    time.sleep(1)
                    continue
                ledger = {"asg_name": "large", "release_id": RELEASE_ID, "progress": state["progress"]}
                state["drain"] = steps.run("Drain", drain.handler, {**ledger, "alarm_names": []}, state)
                state["progress"] = steps.run("Terminate", terminate.handler, ledger, state)
                while state["progress"]["pending"] is not None:
                    time.sleep(1)  # poll_seconds
                    check = {k: state[k] for k in ("asg_name", "release_id", "settings", "progress")}
                    state = steps.run("CheckReplacement", check_replacement.handler, check, state)
            released = time.perf_counter() - began
            steps.run("UnlockAsg", unlock_asg.handler, {"asg_name": "large", "release_id": RELEASE_ID}, state)
            served = [simulator.reads(i) for i in lister()]
    report = state["progress"]
    table(
        f"large_asg.py --via handlers: one ASG of {instances} instances, {outdated} on {OLD}, released to {NEW}",
        ["step", "calls", "mean s", "max s", "total s", "largest state KiB"],
        steps.rows(),
        caption=(
            "The real handlers in the ASL's order against moto (S3, DynamoDB, EC2, Auto Scaling) and the fleet "
            "simulator on loopback; largest state: the step's input, output or the per-ASG state around it, "
            "as the ASL builds it (compact JSON). Discover and CheckReplacement times are mostly moto's "
            "DescribeInstances."
        ),
    )
    read_times = [a + b for a, b in zip(steps.times["Discover"], steps.times["ReadVersions"], strict=True)]
    note(
        f"{report['decision']['message']}; {report['versions_before']} -> {report['versions_after']}, "
        f"{len(steps.times['Terminate'])} batches, release {released:.0f} s; read (Discover + ReadVersions) "
        f"{statistics.mean(read_times):.1f} s a loop, decide (SelectBatch) "
        f"{statistics.mean(steps.times['SelectBatch']):.2f} s; every instance now serves {set(served)}"
    )


def through_local_up(instances: int, outdated: int, max_batch: int | None) -> None:
    from asg_terminator.fleet import create_asg
    from asg_terminator.localstack import LocalStack
    from asg_terminator.simulator import FleetSimulator, asg_instance_lister

    stack = LocalStack(port=0)
    endpoint = stack.start()
    try:
        autoscaling, ec2 = endpoint.client("autoscaling"), endpoint.client("ec2")
        sfn = endpoint.client("stepfunctions")
        started = time.perf_counter()
        ids = create_asg(autoscaling, ec2, "large", instances, max_size=instances * 2, image_id=IMAGE)
        note(f"created {instances} instances through the endpoint in {time.perf_counter() - started:.0f} s")
        lister = asg_instance_lister(autoscaling, ["large"])
        with FleetSimulator(lister, NEW, boot_seconds=BOOT_SECONDS, watch_interval=WATCH_SECONDS) as simulator:
            simulator.adopt(ids[:outdated], OLD)
            simulator.adopt(ids[outdated:], NEW)
            # An upload of the build starts the release, as on the stack (the ASG opts in for app "large").
            stack.release_defaults = {
                "version_url": simulator.url_template,
                "min_healthy_percent": 50,
                "max_batch": max_batch,
                "poll_seconds": 5,
                "probe_timeout_seconds": 5,
                "suspend_processes": [],
            }
            stack.start_functions_env()
            endpoint.client("s3").put_object(Bucket=stack.artifact_bucket, Key=f"large/{NEW}/app.tar.gz", Body=b"x")
            waited = time.perf_counter()
            while not stack.started and time.perf_counter() - waited < 60:
                time.sleep(0.5)
            arn = stack.started[-1]["execution_arn"]
            began = time.perf_counter()
            while True:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING" or time.perf_counter() - began > 3600:
                    break
                time.sleep(5)
            elapsed = time.perf_counter() - began
            served = {simulator.reads(i) for i in lister()}
            events = []
            kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
            while True:
                page = sfn.get_execution_history(**kwargs)
                events += page["events"]
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
    finally:
        stack.stop()
    entered: dict[str, Any] = {}
    durations: dict[str, list[float]] = {}
    largest: dict[str, int] = {}
    for event in events:
        for kind in ("stateEnteredEventDetails", "stateExitedEventDetails"):
            details = event.get(kind)
            if not details:
                continue
            name = details["name"]
            payload = details.get("input") if kind == "stateEnteredEventDetails" else details.get("output")
            largest[name] = max(largest.get(name, 0), len((payload or "").encode("utf-8")))
            if kind == "stateEnteredEventDetails":
                entered[name] = event["timestamp"]
            elif name in entered:
                durations.setdefault(name, []).append((event["timestamp"] - entered.pop(name)).total_seconds())
    rows = [
        [name, str(len(t)), f"{statistics.mean(t):.2f}", f"{max(t):.2f}", f"{largest.get(name, 0) / 1024:.1f}"]
        for name, t in durations.items()
    ]
    table(
        f"large_asg.py --via local-up: one ASG of {instances} instances, {outdated} on {OLD}, released to {NEW}",
        ["state", "entered", "mean s", "max s", "largest input/output KiB"],
        rows,
        caption="From the execution's history on the local stack (moto's interpreter, the real ASL and handlers).",
    )
    output = json.loads(described.get("output") or "{}")
    asgs = output.get("asgs") or [{}]
    note(
        f"execution {described['status']} in {elapsed:.0f} s ({len(events)} history events); "
        f"{asgs[0].get('versions_before')} -> {asgs[0].get('versions_after')}, {asgs[0].get('batch_count')} batches; "
        f"every instance now serves {served}; largest state {max(largest.values()) / 1024:.1f} KiB"
        + ("" if described["status"] == "SUCCEEDED" else f"; {described.get('error')}: {described.get('cause')}")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--via", choices=("handlers", "local-up"), default="handlers")
    parser.add_argument("--instances", type=int, default=None, help="default: 10,000 (handlers), 4,000 (local-up)")
    parser.add_argument("--outdated", type=int, default=500, help="instances on the old build (the rest: the target)")
    parser.add_argument("--max-batch", type=int, default=None, help="default: none (the cap of 500 and the floor)")
    args = parser.parse_args()
    refused = loopback_only()
    fake_aws_environment()
    import logging

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if args.via == "handlers":
        through_handlers(args.instances or 10_000, args.outdated, args.max_batch)
    else:
        through_local_up(args.instances or 4_000, args.outdated, args.max_batch)
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
