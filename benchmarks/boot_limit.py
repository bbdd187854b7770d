"""Releases against their boot limit: no surge at a 50 % floor, and surges of 25 %, 50 % and 100 %.

A wave of replacements cannot finish faster than one boot, so the physical limit of a release is
the waves the floor and the surge allow, times the boot time:

    limit = ceil(outdated / (surge + headroom)) boots, headroom = serving - floor

Each case is one ASG of 4 instances on the old build, released onto the new one with 4 s boots
(poll_seconds 1, as in the demo). The four run side by side in one run: one local stack (moto's
server and interpreter, the real state machine and handlers, the fleet simulator on loopback), one
execution per case, all started at once. ``boots`` is the ASG's release time (from LockAsg, where the
surge launches, to AsgConverged) over the boot time; ``once s`` is what of it every release spends
once, whatever its waves (the issue's goal: each case within 1.15x of its limit, plus these per-release
states), and ``waves ratio`` the rest over the limit; ``outside s`` is the rest of the execution
(ValidateInput, UnlockAsg, Summarize, and the interpreter's own start and end). ``launched`` counts the instances the
release launched: one per outdated instance is all a release needs.

    .venv/bin/python benchmarks/boot_limit.py [--boot 4] [--instances 4] [--one-at-a-time]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from _common import NEW, OLD, fake_aws_environment, loopback_only, note, table

from asg_terminator.fleet import create_asg
from asg_terminator.history import TERMINAL, events_of
from asg_terminator.localstack import LocalStack
from asg_terminator.simulator import FleetSimulator, asg_instance_lister
from tasks.domain.capacity import surge_size

POLL_SECONDS = 1


@dataclass(frozen=True)
class Case:
    name: str
    max_surge: int | str
    min_healthy: int = 0
    min_healthy_percent: int = 0

    def floor(self, desired: int) -> int:
        return max(self.min_healthy, math.ceil(self.min_healthy_percent * desired / 100))

    def limit(self, instances: int) -> int:
        """ceil(outdated / (surge + headroom)) boots, before anything is surged."""
        surge = surge_size(self.max_surge, instances, 2 * instances)
        return math.ceil(instances / (surge + instances - self.floor(instances)))


def cases(instances: int) -> list[Case]:
    return [
        Case("no surge, floor 50%", 0, min_healthy_percent=50),
        Case("surge 25%, floor 100%", "25%", min_healthy=instances),
        Case("surge 50%, floor 100%", "50%", min_healthy=instances),
        Case("surge 100% (blue/green)", "100%", min_healthy=instances),
    ]


class Launches:
    """Every instance id each ASG has had, sampled every 200 ms (an instance lives for seconds at least; a
    sample is a DescribeAutoScalingGroups call to the same endpoint the releases use)."""

    def __init__(self, autoscaling: Any, names: list[str]) -> None:
        self.autoscaling, self.names = autoscaling, names
        self.seen: dict[str, set[str]] = {n: set() for n in names}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=self.names)
            except Exception:  # the endpoint may be busy; the next sample will do
                continue
            for group in groups["AutoScalingGroups"]:
                self.seen[group["AutoScalingGroupName"]].update(i["InstanceId"] for i in group["Instances"])

    def __enter__(self) -> Launches:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait(sfn: Any, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] in TERMINAL or time.monotonic() > deadline:
            return described
        time.sleep(0.2)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    # bounded: a release of 4 instances writes a few hundred events
    return events_of(sfn, arn, max_pages=20)


def first_entered(events: list[dict[str, Any]], *names: str) -> dict[str, Any]:
    """When each of the states ``names`` was first entered (those never entered left out)."""
    entered: dict[str, Any] = {}
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details is not None and details["name"] in names:
            entered.setdefault(details["name"], event["timestamp"])
    return entered


def released_in(events: list[dict[str, Any]]) -> float:
    """From LockAsg entered (the surge launches there) to AsgConverged entered, in seconds."""
    entered = first_entered(events, "LockAsg", "AsgConverged")
    if len(entered) < 2:
        return math.nan
    return float((entered["AsgConverged"] - entered["LockAsg"]).total_seconds())


def per_release(events: list[dict[str, Any]], surged: bool) -> float:
    """The seconds of the release that every release spends once, whatever its waves: before the
    first wave, taking the ASG and its first read and decision (LockAsg entered to the first Drain
    entered; none with a surge, which boots from LockAsg on, its reads beside it), and after the
    last, the read that finds it converged (the last CheckReplacement exited to AsgConverged entered)."""
    first = first_entered(events, "LockAsg", "Drain", "AsgConverged")
    checks = [e["timestamp"] for e in events if e.get("stateExitedEventDetails", {}).get("name") == "CheckReplacement"]
    if len(first) < 3 or not checks:
        return math.nan
    before = 0.0 if surged else (first["Drain"] - first["LockAsg"]).total_seconds()
    return float(before + (first["AsgConverged"] - checks[-1]).total_seconds())


GROUPS = {
    "waits s": ("WaitBeforeReread", "WaitAfterWatching", "WaitForReplacement", "WaitForDraining"),
    "checks s": ("CheckReplacement", "WatchBooting"),
    "reads s": ("Discover", "ReadVersions", "SelectBatch"),
    "changes s": ("LockAsg", "Drain", "Terminate", "UnlockAsg"),
}


def breakdown(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds spent in each group of states (entered to exited), and how many times each loop ran."""
    spent = dict.fromkeys(GROUPS, 0.0)
    entered: dict[str, Any] = {}
    counts = {"re-reads": 0, "polls": 0}
    for event in events:
        if "stateEnteredEventDetails" in event:
            name = event["stateEnteredEventDetails"]["name"]
            entered[name] = event["timestamp"]
            counts["re-reads"] += name in ("WaitBeforeReread", "WatchBooting")
            counts["polls"] += name == "CheckReplacement"
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            for group, states in GROUPS.items():
                if name in states and name in entered:
                    spent[group] += (event["timestamp"] - entered[name]).total_seconds()
    return {**{k: f"{v:.1f}" for k, v in spent.items()}, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boot", type=float, default=4.0, help="seconds an instance takes to serve")
    parser.add_argument("--instances", type=int, default=4, help="instances per ASG")
    parser.add_argument("--one-at-a-time", action="store_true", help="run the cases one after another")
    args = parser.parse_args()
    loopback_only()
    fake_aws_environment()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    chosen = cases(args.instances)
    run = uuid.uuid4().hex[:6]
    names = [f"boot-limit-{run}-{n}" for n in range(len(chosen))]
    with LocalStack(port=0) as endpoint:
        autoscaling, ec2, sfn = (endpoint.client(s) for s in ("autoscaling", "ec2", "stepfunctions"))
        simulator = FleetSimulator(asg_instance_lister(autoscaling, names), build=NEW, boot_seconds=args.boot)
        with simulator:
            originals = {}
            for name in names:
                originals[name] = create_asg(
                    autoscaling, ec2, name, args.instances, max_size=2 * args.instances, image_id="ami-12c6146b"
                )
                simulator.adopt(originals[name], OLD)

            def start(case: Case, name: str) -> str:
                release = {
                    "asg_names": [name],
                    "target_version": NEW,
                    "version_url": simulator.url_template,
                    "max_surge": case.max_surge,
                    "min_healthy": case.min_healthy,
                    "min_healthy_percent": case.min_healthy_percent,
                    "poll_seconds": POLL_SECONDS,
                    "probe_timeout_seconds": 1,
                    "replacement_timeout_seconds": max(60, int(args.boot * 10)),
                }
                arn: str = sfn.start_execution(
                    stateMachineArn=endpoint.state_machine_arn,
                    name=f"boot-limit-{uuid.uuid4().hex[:12]}",
                    input=json.dumps(release),
                )["executionArn"]
                return arn

            ended: dict[str, dict[str, Any]] = {}
            with Launches(autoscaling, names) as launches:
                if args.one_at_a_time:
                    for case, name in zip(chosen, names, strict=True):
                        ended[name] = wait(sfn, start(case, name), timeout=300)
                else:
                    arns = {name: start(case, name) for case, name in zip(chosen, names, strict=True)}
                    for name, arn in arns.items():
                        ended[name] = wait(sfn, arn, timeout=300)
            histories = {name: history(sfn, described["executionArn"]) for name, described in ended.items()}

    rows = []
    for case, name in zip(chosen, names, strict=True):
        described = ended[name]
        execution_s = (described["stopDate"] - described["startDate"]).total_seconds()
        release_s = released_in(histories[name])
        boots = release_s / args.boot
        limit = case.limit(args.instances)
        once_s = per_release(histories[name], surged=case.max_surge not in (0, "0%"))
        launched = len(launches.seen[name] - set(originals[name]))
        rows.append(
            [
                case.name,
                case.max_surge,
                case.floor(args.instances),
                described["status"],
                f"{release_s:.1f}",
                f"{boots:.2f}",
                limit,
                f"{boots / limit:.2f}",
                f"{once_s:.1f}",
                f"{(release_s - once_s) / args.boot / limit:.2f}",
                f"{execution_s - release_s:.1f}",
                f"{launched} of {args.instances}",
            ]
        )
    how = "one after another" if args.one_at_a_time else "side by side, one execution each, started at once"
    table(
        f"boot_limit.py - {args.instances} instances per ASG, {args.boot:g} s boots, "
        f"poll_seconds {POLL_SECONDS} ({how})",
        [
            "case",
            "max_surge",
            "floor",
            "status",
            "release s",
            "boots",
            "limit",
            "ratio",
            "once s",
            "waves ratio",
            "outside s",
            "launched",
        ],
        rows,
        caption="boots = the ASG's release time (LockAsg entered to AsgConverged entered) / boot time; "
        "limit = ceil(outdated / (surge + serving - floor)) boots; ratio = boots / limit; once s = the states "
        "every release runs once, whatever its waves (without a surge LockAsg and the first read and decision, "
        "before anything boots; the read after the last check, that finds the ASG converged); waves ratio = "
        "(release s - once s) / boot time / limit; outside s = the rest of the execution (ValidateInput, UnlockAsg, "
        "Summarize)",
        text_columns=(1,),
    )
    note("launched: instances the release launched (the surge's among them); a release needs one per outdated one.")
    split = [{"case": case.name, **breakdown(histories[name])} for case, name in zip(chosen, names, strict=True)]
    table(
        "where the time goes, per case (seconds inside each group of states; re-reads and polls counted)",
        list(split[0]),
        [list(row.values()) for row in split],
        caption="waits: WaitBeforeReread (poll_seconds each), WaitAfterWatching (the rest of a poll after a watch), "
        "WaitForReplacement (a batch's first a poll before the "
        "shortest replacement measured would end, or at once when nothing launches; then the rest of each poll) and "
        "WaitForDraining; checks: CheckReplacement and WatchBooting, with their watches of a boot (up to poll_seconds "
        "each); re-reads: WaitBeforeReread or WatchBooting; reads: "
        "Discover, ReadVersions, SelectBatch; changes: LockAsg, Drain, Terminate, UnlockAsg",
    )


if __name__ == "__main__":
    main()
