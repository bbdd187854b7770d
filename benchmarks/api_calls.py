"""AWS API calls per release loop, by operation, for ASGs of 10, 100 and 1,000 instances (moto).

Calls are counted with a botocore ``before-call`` hook on boto3's default session, which the
handlers' clients (``tasks.runtime``, built with ``boto3.client``) inherit when they are created:
one count per API call (a paginator counts one per page; botocore's own retries are not counted).
The benchmark's own clients (creating the ASGs) use a separate session and are not counted.

    .venv/bin/python benchmarks/api_calls.py [--sizes 10,100,1000] [--batch-percent 10]
"""

from __future__ import annotations

import argparse
import os
import socket
from collections import Counter
from typing import Any

from _common import NEW, OLD, REGION, Stopwatch, fake_aws_environment, loopback_only, note, table

RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:bench"
COLUMNS = (
    "DescribeAutoScalingGroups",
    "DescribeInstances",
    "TerminateInstanceInAutoScalingGroup",
    "PutObject",  # the fleet read stored (a claim check: tasks/adapters/s3.py)
    "GetObject",  # and read back
)


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.ids_per_describe: list[int] = []

    def __call__(self, model: Any = None, params: Any = None, **kwargs: Any) -> None:
        if model is not None:
            self.calls[model.name] += 1
            if model.name == "DescribeInstances":
                body = (params or {}).get("body") or {}  # the serialized request: EC2's query form
                self.ids_per_describe.append(sum(1 for k in body if str(k).startswith("InstanceId.")))

    def take(self) -> tuple[Counter[str], list[int]]:
        taken = (self.calls, self.ids_per_describe)
        self.calls, self.ids_per_describe = Counter(), []
        return taken


def closed_loopback_port() -> int:
    """A loopback port nothing listens on: CheckReplacement's probes are refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--batch-percent", type=int, default=10, help="share of the ASG one Terminate replaces")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    refused = loopback_only()
    fake_aws_environment()
    import logging

    import boto3
    from moto import mock_aws

    from asg_terminator import stack
    from asg_terminator.fleet import create_asg
    from tasks import contracts, runtime
    from tasks.domain.fleet import Decision, Progress
    from tasks.handlers import check_replacement, discover, lock_asg, terminate

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    counter = CallCounter()
    probe_url = f"http://127.0.0.1:{closed_loopback_port()}/{{InstanceId}}/version"
    settings = {
        **contracts.defaults("validate_input.input"),
        "target_version": NEW,
        "version_url": probe_url,
        "probe_timeout_seconds": 0.5,
    }

    rows: list[list[Any]] = []
    stack.make_moto_atomic()  # Terminate makes ten terminations at once: moto must take them one by one
    with mock_aws():
        # mock_aws patches boto3.DEFAULT_SESSION to None while active: hook the default session in here.
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", counter)
        # tasks.runtime caches its clients per cold start: have them built now, from the hooked session.
        own = boto3.Session(region_name=REGION)  # the benchmark's own clients: not counted
        os.environ["LEASE_TABLE"] = stack.create_lease_table(own.client("dynamodb"))
        os.environ["FLEET_BUCKET"] = stack.create_fleet_bucket(own.client("s3"))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"  # the simulator's version URLs, as local up sets it
        runtime.cold_start()
        autoscaling, ec2 = own.client("autoscaling"), own.client("ec2")
        for size in sizes:
            name = f"bench_api_{size}"
            create_asg(autoscaling, ec2, name, size, max_size=size * 2)
            counter.take()
            measured: list[tuple[str, tuple[Counter[str], list[int]], float]] = []

            with Stopwatch() as clock:
                fleet = discover.handler({"asg_name": name, "release_id": RELEASE_ID, "version_url": probe_url}, None)
            measured.append(("Discover", counter.take(), clock.seconds))

            with Stopwatch() as clock:
                runtime.fleet_reader().discover(name, probe_url)
            measured.append(("FleetReader.discover", counter.take(), clock.seconds))

            stored = runtime.fleet_records().read(fleet).fleet
            counter.take()  # the benchmark's own read of the record: not a step's
            batch = tuple(i.id for i in stored.instances[: max(1, size * args.batch_percent // 100)])
            decided = Decision("terminate", f"{name} => {len(batch)} instances to terminate", batch, fleet["key"])
            progress = Progress(target_version=NEW, versions_before={OLD: size}, decision=decided)
            release_id = f"arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:{name}"
            lock = {"asg_name": name, "release_id": release_id, "takes_over": None, "settings": settings}
            lock_asg.handler(lock, None)  # the lease Terminate's fences renew (benchmarks/lease.py counts them)
            counter.take()
            with Stopwatch() as clock:
                pending = terminate.handler(
                    {"asg_name": name, "release_id": release_id, "progress": progress.to_record()}, None
                )
            measured.append((f"Terminate ({len(batch)} ids)", counter.take(), clock.seconds))

            with Stopwatch() as clock:
                check = {"asg_name": name, "release_id": release_id, "settings": settings, "progress": pending}
                check_replacement.handler(check, None)
            measured.append(("CheckReplacement", counter.take(), clock.seconds))

            loop = Counter[str]()
            for step, (calls, _), _ in measured:
                if step != "FleetReader.discover":
                    loop.update(calls)
            for step, (calls, ids), seconds in measured:
                rows.append(
                    [
                        size,
                        step,
                        *(calls[c] for c in COLUMNS),
                        "+".join(map(str, ids)) or "-",
                        sum(calls.values()),
                        f"{seconds:.2f}",
                    ]
                )
            rows.append([size, "one loop, one poll", *(loop[c] for c in COLUMNS), "", sum(loop.values()), ""])
            others = {op for _, (calls, _), _ in measured for op in calls} - set(COLUMNS)
            if others:
                note(f"{size} instances: other operations called: {', '.join(sorted(others))}")

    table(
        "api_calls.py - AWS API calls per step (botocore before-call hook), ASGs under moto",
        [
            "instances",
            "step",
            "DescribeAuto-\nScalingGroups",
            "DescribeInstances",
            "TerminateInstance-\nInAutoScalingGroup",
            "ids per\nDescribeInstances",
            "total",
            "moto s",
        ],
        rows,
        left=2,
        caption=(
            "Discover, Terminate, CheckReplacement: the real handlers (schemas checked). FleetReader.discover: the "
            "read CheckReplacement makes, alone. one loop = Discover + Terminate + one CheckReplacement; ReadVersions "
            "(a GetObject and a PutObject of the fleet record) and SelectBatch (a GetObject) are not run here; each "
            "further poll adds one CheckReplacement (the check that sees its batch replaced also stores its read, a "
            "PutObject, and the next batch is chosen from it with no Discover). "
            "CheckReplacement's version probes go to a closed 127.0.0.1 port. moto s: wall time in moto "
            "(in-process), not AWS latency. moto pages DescribeInstances every 100 reservations even when "
            "InstanceIds are given (each replacement is its own reservation there); AWS does not combine "
            "MaxResults with InstanceIds, so a second call with the same ids (1000+1000) is moto's paging."
        ),
    )
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
