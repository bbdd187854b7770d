"""State transitions (what Step Functions Standard bills) per release, per batch and per poll.

The real ``state_machines/release.asl.json`` runs on moto's in-process interpreter; every Task state
reaches the real handlers through the loopback Lambda Invoke server, against a simulated fleet on
loopback. Each row releases one ASG of N instances in the same number of batches (max_batch = N / 3,
min_healthy 0, so the floor is 0 and each batch is exactly max_batch instances).

    .venv/bin/python benchmarks/transitions.py [--sizes 3,30,300] [--row-budget 120]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from _common import NEW, OLD, REGION, fake_aws_environment, loopback_only, note, table

from asg_terminator.history import TERMINAL, events_of
from state_machines import build

PRICE_PER_1000 = 0.025  # USD per 1,000 state transitions, Standard workflows
TARGET_PER_BATCH = 12
TARGET_PER_POLL = 3
BATCHES = 3
BOOT_SECONDS = 0.3  # shorter than poll_seconds: most batches are replaced by the first poll
POLL_SECONDS = 1
# The simulator, moto and the interpreter share one process (and 2 cores): loopback answers can take
# seconds under load, and a 2 s probe timeout then reads as "not serving yet" and adds polls that
# measure this harness, not the workflow. A longer timeout keeps the count about the state machine.
PROBE_TIMEOUT_SECONDS = 10
MAX_HISTORY_PAGES = 200
CUT = ("RUNNING", "ABORTED", "KILLED")  # the release outran its budget
# What each loop of the ASL costs, from its builder: a batch enters the deciding states (on the read of
# the check that saw the batch before it replaced: the first read of a release is among the fixed
# states) and the terminating ones; a poll the replacement check's; a re-read WaitBeforeReread and the
# reading states again. The rest of an execution is fixed.
PER_BATCH = len(build.DECIDE + build.TERMINATE)
PER_POLL = len(build.POLL)
REREAD_STATES = [name for name, _ in (build.WAIT_BEFORE_REREAD, *build.READ)]
PER_REREAD = len(REREAD_STATES)


@dataclass
class Row:
    instances: int
    status: str
    seconds: float
    batches: int
    polls: int
    rereads: int
    transitions: int
    events: int
    by_state: Counter[str]
    note: str = ""

    @property
    def target(self) -> int:
        return TARGET_PER_BATCH * self.batches + TARGET_PER_POLL * self.polls


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, following nextToken (bounded)."""
    return events_of(sfn, arn, max_pages=MAX_HISTORY_PAGES)


def release(world: dict[str, Any], instances: int, budget: float, batches: int = BATCHES) -> Row:
    from asg_terminator import stack
    from asg_terminator.fleet import create_asg
    from asg_terminator.lambda_server import substitutions

    sfn, autoscaling, ec2, simulator = world["sfn"], world["autoscaling"], world["ec2"], world["simulator"]
    name = f"bench_{instances}_{uuid.uuid4().hex[:6]}"
    # moto deep-copies a state machine at StartExecution, which fails once an earlier execution of it
    # holds a lock: one state machine per execution.
    machine_arn = stack.create_release_state_machine(sfn, substitutions(REGION), name=f"release-{name}")
    ids = create_asg(autoscaling, ec2, name, instances, max_size=instances * 2)
    simulator.adopt(ids, OLD)
    execution_input = {
        "asg_names": [name],
        "target_version": NEW,
        "version_url": simulator.url_template,
        "min_healthy": 0,
        "min_healthy_percent": 0,
        "max_batch": max(1, instances // batches),
        "poll_seconds": POLL_SECONDS,
        "replacement_timeout_seconds": 600,
        "probe_timeout_seconds": PROBE_TIMEOUT_SECONDS,
    }
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(execution_input))["executionArn"]
    deadline = started + budget
    status = "RUNNING"
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status in TERMINAL:
            break
        time.sleep(0.1)
    seconds = time.monotonic() - started
    if status not in TERMINAL:
        sfn.stop_execution(executionArn=arn, error="BenchmarkBudget", cause=f"over {budget:.0f} s")
    events = history(sfn, arn)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    by_state = Counter(entered)
    return Row(
        instances=instances,
        status=status,
        seconds=seconds,
        batches=by_state["Terminate"],
        polls=by_state["CheckReplacement"],
        rereads=by_state["WaitBeforeReread"],
        transitions=len(entered),
        events=len(events),
        by_state=by_state,
    )


def run_one(instances: int, budget: float, batches: int = BATCHES) -> Row:
    """One row in this process: a fresh moto, Lambda Invoke server and fleet simulator."""
    refused = loopback_only()
    fake_aws_environment()
    logging_quiet()
    import boto3
    from moto import mock_aws

    from asg_terminator import stack
    from asg_terminator.lambda_server import LambdaInvokeServer
    from asg_terminator.simulator import FleetSimulator, asg_instance_lister

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), LambdaInvokeServer() as lambdas:
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = lambdas.url  # the interpreter's Invoke calls come here
        stack.make_moto_atomic()
        os.environ["LEASE_TABLE"] = stack.create_lease_table(boto3.client("dynamodb", region_name=REGION))
        os.environ["FLEET_BUCKET"] = stack.create_fleet_bucket(boto3.client("s3", region_name=REGION))
        os.environ["ALLOWED_VERSION_HOSTS"] = "127.0.0.1"  # the simulator's version URLs, as local up sets it
        autoscaling = boto3.client("autoscaling", region_name=REGION)
        world: dict[str, Any] = {
            "sfn": boto3.client("stepfunctions", region_name=REGION),
            "autoscaling": autoscaling,
            "ec2": boto3.client("ec2", region_name=REGION),
        }
        with FleetSimulator(asg_instance_lister(autoscaling), build=NEW, boot_seconds=BOOT_SECONDS) as simulator:
            world["simulator"] = simulator
            row = release(world, instances, budget, batches)
    if refused:
        row.note = f"refused non-loopback connections: {refused}"
    return row


def run_isolated(instances: int, budget: float, batches: int = BATCHES) -> Row:
    """A row in a child process: moto 5.2.1 deep-copies its whole Step Functions backend at each
    StartExecution, which fails once an earlier execution holds a lock, so one release per process."""
    command = [
        sys.executable,
        __file__,
        "--one",
        str(instances),
        "--batches",
        str(batches),
        "--row-budget",
        str(budget),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget + 90, check=False)
    except subprocess.TimeoutExpired:
        return Row(instances, "KILLED", budget + 90, 0, 0, 0, 0, 0, Counter(), "child process killed")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        note(f"[red]{instances} instances: child process exited {done.returncode}: {last}[/red]")
        return Row(instances, f"ERROR {done.returncode}", 0, 0, 0, 0, 0, 0, Counter(), "see above")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["by_state"] = Counter(record["by_state"])
    return Row(**record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,30,300", help="instances per ASG, one row each")
    parser.add_argument("--row-budget", type=float, default=120.0, help="seconds a release may run before it is cut")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one row, JSON on stdout
    parser.add_argument("--batches", type=int, default=BATCHES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-single-batch", action="store_true", help="skip the extra row releasing 3 instances in one batch"
    )
    args = parser.parse_args()
    if args.one is not None:
        row = run_one(args.one, args.row_budget, args.batches)
        print(json.dumps({**asdict(row), "by_state": dict(row.by_state)}))
        return

    rows: list[Row] = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        row = run_isolated(size, args.row_budget)
        if row.status in CUT and size >= 2 * BATCHES:
            smaller = max(BATCHES, size // 3)
            note(
                f"[yellow]{size} instances: {row.status} after {row.seconds:.0f} s (budget {args.row_budget:.0f} s)"
                f"{': ' + row.note if row.note else ''}; reduced to {smaller} instances[/yellow]"
            )
            row = run_isolated(smaller, args.row_budget)
            row.note = f"reduced from {size}"
        rows.append(row)
    if not args.no_single_batch:
        row = run_isolated(3, args.row_budget, batches=1)
        row.note = row.note or "max_batch 3: one batch"
        rows.append(row)

    table(
        f"transitions.py - one ASG per release, {BATCHES} batches unless noted "
        f"(min_healthy 0, max_batch = instances / {BATCHES}), "
        f"poll_seconds {POLL_SECONDS}, boot {BOOT_SECONDS:g} s, probe timeout {PROBE_TIMEOUT_SECONDS} s; "
        f"moto {moto_version()} interpreter, real handlers",
        [
            "instances",
            "status",
            "run s",
            "batches",
            "polls",
            "re-reads",
            "transitions",
            "per batch",
            "events",
            "USD / release",
            f"target {TARGET_PER_BATCH}/batch + {TARGET_PER_POLL}/poll",
            "meets",
        ],
        [
            [
                f"{r.instances}" + (f" ({r.note})" if r.note else ""),
                r.status,
                f"{r.seconds:.1f}",
                r.batches,
                r.polls,
                r.rereads,
                r.transitions,
                f"{r.transitions / r.batches:.1f}" if r.batches else "-",
                r.events,
                f"{r.transitions * PRICE_PER_1000 / 1000:.5f}",
                r.target,
                "-" if r.status != "SUCCEEDED" else "yes" if r.transitions <= r.target else "NO",
            ]
            for r in rows
        ],
        caption=(
            "transitions: *StateEntered events in the execution history (Task, Choice, Wait, Pass and Map states "
            "alike); polls: CheckReplacement runs; re-reads: WaitBeforeReread (SelectBatch chose to wait; each costs "
            f"{' + '.join(REREAD_STATES)} = {PER_REREAD}); "
            f"USD at ${PRICE_PER_1000} per 1,000 transitions; "
            f"target: {TARGET_PER_BATCH} x batches + {TARGET_PER_POLL} x polls for the whole execution, "
            "fixed per-release states included."
        ),
    )
    fixed = sorted(
        {
            r.transitions - PER_BATCH * r.batches - PER_POLL * r.polls - PER_REREAD * r.rereads
            for r in rows
            if r.status == "SUCCEEDED"
        }
    )
    if len(fixed) == 1:
        f = fixed[0]
        least = math.ceil(f / (TARGET_PER_BATCH - PER_BATCH)) if TARGET_PER_BATCH > PER_BATCH else None
        note(
            f"model: transitions = {f} fixed + {PER_BATCH} x batches + {PER_POLL} x polls + {PER_REREAD} x re-reads "
            f"(fits every row above). Against {TARGET_PER_BATCH} x batches + {TARGET_PER_POLL} x polls, the fixed "
            f"{f} must be paid from {TARGET_PER_BATCH - PER_BATCH} spare transitions per batch: the target holds from "
            f"{least} batches up, not below (1 batch: {f + PER_BATCH} + 3p > {TARGET_PER_BATCH} + 3p), and each "
            f"re-read costs {PER_REREAD - TARGET_PER_POLL} more than a poll's allowance."
        )
    elif fixed:
        note(
            f"the fixed part differs between rows ({fixed}): a loop costs more than {PER_BATCH}/{PER_POLL}/{PER_REREAD}"
        )
    states = sorted({s for r in rows for s in r.by_state}, key=lambda s: (-max(r.by_state[s] for r in rows), s))
    table(
        "state entries per release (columns: instances)",
        ["state", *[f"{r.instances}" + (f" ({r.note})" if r.note else "") for r in rows]],
        [[s, *[r.by_state[s] for r in rows]] for s in states],
    )


def logging_quiet() -> None:
    """The handlers log every decision; the tables are the output here."""
    import logging

    logging.getLogger("asg_terminator").setLevel(logging.WARNING)
    # moto's interpreter logs an ERROR whenever an IsPresent test finds the path absent (RouteInput).
    logging.getLogger("moto").setLevel(logging.CRITICAL)


def moto_version() -> str:
    from importlib import metadata

    return metadata.version("moto")


if __name__ == "__main__":
    main()
