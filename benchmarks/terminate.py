"""How long Terminate takes for one batch at AWS-like latency: one call at a time, and ten at a time.

Each termination is a fenced call: a DynamoDB UpdateItem (the lease), then
TerminateInstanceInAutoScalingGroup. The real Terminate handler runs against moto in this process;
botocore ``before-call`` hooks add AWS-like latency to each call (``--terminate-ms``, ``--fence-ms``),
as moto answers in about a millisecond. The two rows of each batch size run side by side in one run:
``TERMINATE_CONCURRENCY`` set to 1 (how Terminate worked before) and to its default. ideal s: the
calls in waves of the concurrency, at the injected latency, with no overhead.

    .venv/bin/python benchmarks/terminate.py [--batches 10,100] [--terminate-ms 150] [--fence-ms 10]
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from _common import NEW, OLD, REGION, Stopwatch, fake_aws_environment, loopback_only, note, table

RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="10,100")
    parser.add_argument("--terminate-ms", type=float, default=150.0)
    parser.add_argument("--fence-ms", type=float, default=10.0)
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
    from tasks import contracts, ownership, runtime
    from tasks.domain.fleet import Decision, Progress
    from tasks.handlers import lock_asg, terminate

    default = ownership.TERMINATE_CONCURRENCY
    latency = {"TerminateInstanceInAutoScalingGroup": args.terminate_ms / 1000, "UpdateItem": args.fence_ms / 1000}

    timing = [False]  # the latency applies to Terminate only, not to setting up

    def slow(model: Any = None, **_: Any) -> None:
        if timing[0] and model is not None and model.name in latency:
            time.sleep(latency[model.name])

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    settings = {**contracts.defaults("validate_input.input"), "target_version": NEW, "suspend_processes": []}
    rows: list[list[Any]] = []
    with mock_aws():
        stack.make_moto_atomic()  # moto serves concurrent terminations one by one, as the local stack does
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", slow)  # before any client: clients copy the hooks
        own = boto3.Session(region_name=REGION)
        os.environ["LEASE_TABLE"] = stack.create_lease_table(own.client("dynamodb"))
        runtime.cold_start()
        autoscaling, ec2 = own.client("autoscaling"), own.client("ec2")
        for size in batches:
            for concurrency in (1, default):
                name = f"bench-terminate-{size}-{concurrency}"
                ids = create_asg(autoscaling, ec2, name, size, max_size=3 * size)
                lock_asg.handler(
                    {"asg_name": name, "release_id": RELEASE_ID, "takes_over": None, "settings": settings}, None
                )
                batch = tuple(ids)
                progress = Progress(
                    target_version=NEW,
                    versions_before={OLD: size},
                    decision=Decision("terminate", f"{name} => {size} instances to terminate", batch),
                ).to_record()
                ownership.TERMINATE_CONCURRENCY = concurrency
                timing[0] = True
                try:
                    with Stopwatch() as clock:
                        after = terminate.handler(
                            {"asg_name": name, "release_id": RELEASE_ID, "progress": progress}, None
                        )
                finally:
                    timing[0] = False
                    ownership.TERMINATE_CONCURRENCY = default
                done = len(after["batches"][-1])
                ideal = math.ceil(size / concurrency) * (args.terminate_ms + args.fence_ms) / 1000
                rows.append(
                    [
                        size,
                        concurrency,
                        f"{clock.seconds:.2f}",
                        f"{ideal:.2f}",
                        f"{clock.seconds / ideal:.2f}x",
                        f"{done}/{size}",
                    ]
                )
    by_size = {(r[0], r[1]): float(r[2]) for r in rows}
    for row in rows:
        row.append(f"{by_size[(row[0], 1)] / float(row[2]):.1f}x")
    table(
        f"terminate.py - one batch's Terminate, {args.terminate_ms:.0f} ms per termination and {args.fence_ms:.0f} ms "
        f"per fence (injected), real handler under moto",
        ["batch", "concurrency", "wall s", "ideal s", "wall/ideal", "terminated", "speed-up"],
        rows,
        caption=(
            "concurrency 1: one termination at a time (before); the default bounds the threads to "
            f"{default}. A failure starts no further termination; those under way end first (see ownership.terminate)."
        ),
    )
    if refused:
        note(f"[red]refused non-loopback connections: {refused}[/red]")


if __name__ == "__main__":
    main()
