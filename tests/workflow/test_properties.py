"""Random fleets and random faults on the real workflow: the floor holds, nothing serving the target
is terminated, nothing is terminated once an ASG has failed, and success means every instance serves
the target.

Default profile: a handful of small fleets, the same ones every run (Hypothesis' ``derandomize``),
so that CI fails on a change and not on a draw. Random draws:
``ASG_TERMINATOR_PROPERTY_RANDOM=1 make test``; the long profile draws many more and larger ones at
random: ``ASG_TERMINATOR_PROPERTY_PROFILE=long make test``. Each run writes what it tried to
``artifacts/property-stats.json``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asg_terminator.fleet import create_asg
from asg_terminator.paths import ROOT
from asg_terminator.simulator import (
    BOOTS_LATE,
    DEAD,
    GARBAGE,
    HANGS,
    HUGE,
    NEVER_BOOTS,
    SLOW,
    WRONG_VERSION,
    FaultPlan,
    FleetSimulator,
    asg_instance_lister,
)
from tasks import runtime
from tests.workflow.harness import FloorWatch, run_execution, throttle

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
LONG = os.environ.get("ASG_TERMINATOR_PROPERTY_PROFILE") == "long"
MAX_ASGS, MAX_INSTANCES, EXAMPLES = (4, 30, 40) if LONG else (2, 5, 6)
EXAMPLES = int(os.environ.get("ASG_TERMINATOR_PROPERTY_EXAMPLES", EXAMPLES))
RANDOM = LONG or os.environ.get("ASG_TERMINATOR_PROPERTY_RANDOM") == "1"
UNREADABLE_AT_START = (HANGS, DEAD, GARBAGE, HUGE)
# What happens to the fleet while it is released, besides our own terminations.
CHAOS = ("unhealthy", "standby", "protect", "scale-in", "scale-out", "throttle")
# The states that read the fleet a decision is made on: Discover, and the check that saw a batch replaced.
READS = ("Discover", "CheckReplacement")
STATS: Counter[str] = Counter()


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, Any]:
    # Half the ASGs start with unreadable instances (they cannot converge by default: they must
    # fail safely); the others can converge, so releases of every outcome are tried.
    clean = st.sampled_from([OLD] * 3 + [NEW])
    dirty = st.sampled_from([OLD] * 6 + [NEW] * 2 + list(UNREADABLE_AT_START))
    asgs = [
        draw(st.lists(draw(st.sampled_from([clean, dirty])), min_size=1, max_size=MAX_INSTANCES))
        for _ in range(draw(st.integers(1, MAX_ASGS)))
    ]
    share = st.sampled_from([0.0, 0.0, 0.25])
    chaos = st.tuples(st.sampled_from(CHAOS), st.floats(0.2, 4.0), st.integers(0, 10**6))
    return {
        "asgs": asgs,
        "min_healthy": draw(st.integers(0, 3)),
        "min_healthy_percent": draw(st.sampled_from([0, 50, 100])),
        "max_batch": draw(st.one_of(st.none(), st.integers(1, 3))),
        # Surged capacity that replaces outdated instances (issue 14): none, a count, a share, blue/green.
        "max_surge": draw(st.sampled_from([0, 0, 1, 2, "50%", "100%"])),
        "pin_target": draw(st.booleans()),
        "faults": {NEVER_BOOTS: draw(share), WRONG_VERSION: draw(share), SLOW: draw(share), BOOTS_LATE: draw(share)},
        "chaos": sorted(draw(st.lists(chaos, max_size=3)), key=lambda c: c[1]),
        "seed": draw(st.integers(0, 2**16)),
    }


@pytest.fixture(scope="module", autouse=True)
def report_stats() -> Iterator[None]:
    yield
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "property-stats.json").write_text(json.dumps(dict(STATS), indent=2, sort_keys=True))


def floor(desired: int, case: dict[str, Any]) -> int:
    return max(case["min_healthy"], math.ceil(case["min_healthy_percent"] * desired / 100))


@pytest.mark.timeout(900)  # every example in one test: minutes, past the suite's 300 s per test
@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=fleets())
def test_random_fleets_and_faults_keep_every_safety_rule(world: World, case: dict[str, Any]) -> None:
    run = uuid.uuid4().hex[:6]
    plan = FaultPlan(shares=case["faults"], slow_seconds=0.2, wrong_version=OLD, seed=case["seed"])
    names = [f"prop-{run}-{n}" for n in range(len(case["asgs"]))]
    simulator = FleetSimulator(asg_instance_lister(world.autoscaling, names), build=NEW, boot_seconds=0.2, faults=plan)
    with simulator:
        starts = _start_fleet(world, simulator, names, case)
        chaos = Chaos(world.autoscaling, simulator, names, case["chaos"])
        with FloorWatch(world.autoscaling, simulator, names) as watch, chaos:
            execution = run_execution(world.sfn, world.machine_arn, _release_input(simulator, names, case), timeout=180)

        outcomes = {a["asg_name"]: a for a in (execution.output or {}).get("asgs", [])}
        for name, initial in zip(names, case["asgs"], strict=True):
            serving_at_start = sum(1 for s in initial if s in (OLD, NEW))
            for sample in (s for s in watch.samples if s.asg_name == name):
                # The chaos may remove serving instances itself: those do not count against us. A
                # scaling event that raises desired capacity raises the floor at once, above what
                # was serving: the floor we are held to is that of the lower capacity.
                desired = min(sample.desired, len(initial))
                allowed = min(serving_at_start, floor(desired, case)) - chaos.removed[name]
                assert sample.serving >= allowed, f"{name} broke its floor: {sample}"
        for terminate in execution.task_outputs("Terminate"):
            target = terminate["progress"]["target_version"]
            for instance_id in terminate["progress"]["pending"]["instance_ids"]:  # the batch, whole
                assert watch.gone.get(instance_id) != target, f"{instance_id} served the target {target}"
                assert starts.get(instance_id) not in UNREADABLE_AT_START, f"{instance_id} was unreadable"
        runs_of = _runs(world, execution.arn)
        for name in names:
            runs = [r.name for r in runs_of if r.asg_name == name]
            if "AsgFailed" in runs:
                assert "Terminate" not in runs[runs.index("AsgFailed") :], f"{name} terminated after failing"
            if execution.status == "SUCCEEDED":
                # An instance the chaos launched after the ASG's last read (a Discover, or the check
                # that saw the last batch replaced) is not the release's to judge: the release had seen
                # its fleet converged, and ended it there.
                reads = [r.entered.timestamp() for r in runs_of if r.asg_name == name and r.name in READS]
                after = chaos.launched_after(name, max(reads, default=math.inf))
                served = _in_service_reads(world, simulator, name, besides=after)
                assert set(served) <= {outcomes[name]["target_version"]}, f"{name}: {served}"
        _count(case, execution, chaos)


def _start_fleet(world: World, simulator: FleetSimulator, names: list[str], case: dict[str, Any]) -> dict[str, str]:
    """Create the ASGs; returns how each instance started (a version, or an unreadable fault)."""
    starts: dict[str, str] = {}
    for name, initial in zip(names, case["asgs"], strict=True):
        ids = create_asg(world.autoscaling, world.ec2, name, len(initial), image_id="ami-12c6146b")
        for instance_id, start in zip(ids, initial, strict=True):
            simulator.adopt([instance_id], start if start in (OLD, NEW) else OLD)
            if start in UNREADABLE_AT_START:
                simulator.set_fault(instance_id, start)
            starts[instance_id] = start
    return starts


def _release_input(simulator: FleetSimulator, names: list[str], case: dict[str, Any]) -> dict[str, Any]:
    return {
        "asg_names": names,
        "version_url": simulator.url_template,
        "min_healthy": case["min_healthy"],
        "min_healthy_percent": case["min_healthy_percent"],
        "max_batch": case["max_batch"],
        "max_surge": case["max_surge"],
        "poll_seconds": 1,
        "probe_timeout_seconds": 0.3,
        "replacement_timeout_seconds": 3,
        **({"target_version": NEW} if case["pin_target"] else {}),
    }


def _count(case: dict[str, Any], execution: Any, chaos: Chaos) -> None:
    STATS["releases"] += 1
    STATS["asgs"] += len(case["asgs"])
    STATS["instances"] += sum(len(initial) for initial in case["asgs"])
    STATS["instances unreadable at start"] += sum(s in UNREADABLE_AT_START for i in case["asgs"] for s in i)
    STATS[f"outcome {execution.status}"] += 1
    STATS["releases with a surge"] += int(case["max_surge"] not in (0, "0%"))
    STATS["instances terminated"] += len(execution.terminated())
    STATS["replacement fault plans"] += int(any(case["faults"].values()))
    for kind in chaos.done:
        STATS[f"chaos {kind}"] += 1


class Chaos:
    """Applies the drawn events at their times: an instance turns Unhealthy or enters Standby (both
    stop it serving), scale-in protection, a scaling event changing desired capacity, or Auto
    Scaling throttling the handlers. Counts the serving instances each ASG lost to it."""

    def __init__(self, autoscaling: Any, simulator: FleetSimulator, names: list[str], events: list[Any]) -> None:
        self.autoscaling, self.simulator, self.names, self.events = autoscaling, simulator, names, events
        self.removed: Counter[str] = Counter()
        self.done: list[str] = []
        self.launched: dict[str, list[tuple[float, set[str]]]] = {}  # per ASG: (when, ids) of each scale-out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Chaos:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        for kind, at, pick in self.events:
            if self._stop.wait(max(0.0, at - (time.monotonic() - started))):
                return
            name = self.names[pick % len(self.names)]
            with contextlib.suppress(Exception):  # the group may be mid-change; a skipped event is fine
                self._apply(kind, name, pick)
                self.done.append(kind)

    def launched_after(self, name: str, since: float) -> set[str]:
        """The instances a scale-out launched into ``name`` whose launch ended after ``since``."""
        return {i for ended, ids in self.launched.get(name, []) for i in ids if ended > since}

    def _apply(self, kind: str, name: str, pick: int) -> None:
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        members = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
        if kind == "throttle":
            throttle(runtime.autoscaling()._client, "DescribeAutoScalingGroups", times=1)
            return
        if kind == "scale-out":
            desired = min(group["DesiredCapacity"] + 1, group["MaxSize"])
            before = {i["InstanceId"] for i in group["Instances"]}
            self.autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=desired)
            now = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
            launched = {i["InstanceId"] for i in now["Instances"]} - before
            self.launched.setdefault(name, []).append((time.time(), launched))
            return
        if not members:
            return
        target = members[pick % len(members)]["InstanceId"]
        serving = sum(1 for i in members if i["HealthStatus"] == "Healthy" and self.simulator.reads(i["InstanceId"]))
        if kind == "unhealthy":
            self.autoscaling.set_instance_health(InstanceId=target, HealthStatus="Unhealthy")
            self.removed[name] += 1
        elif kind == "standby":
            self.autoscaling.enter_standby(
                InstanceIds=[target], AutoScalingGroupName=name, ShouldDecrementDesiredCapacity=True
            )
            self.removed[name] += 1
        elif kind == "protect":
            self.autoscaling.set_instance_protection(
                InstanceIds=[target], AutoScalingGroupName=name, ProtectedFromScaleIn=True
            )
        elif kind == "scale-in" and group["DesiredCapacity"] > 0:
            self.autoscaling.set_desired_capacity(
                AutoScalingGroupName=name, DesiredCapacity=group["DesiredCapacity"] - 1
            )
            self.removed[name] += 1 if serving else 0


def _in_service_reads(
    world: World, simulator: FleetSimulator, name: str, besides: Collection[str] = ()
) -> list[str | None]:
    group = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [
        simulator.reads(i["InstanceId"])
        for i in group["Instances"]
        if i["LifecycleState"] == "InService" and i["InstanceId"] not in besides
    ]


def _runs(world: World, arn: str) -> list[Any]:
    from asg_terminator import history

    return history.load(world.sfn, arn).runs
