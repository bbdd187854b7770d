"""Random fleets and random faults on the real workflow: the floor holds, nothing serving the target
is terminated, nothing is terminated once an ASG has failed, and success means every instance serves
the target.

Default profile: a handful of small fleets (CI runs it in about a minute). The long profile tries
many more and larger ones: ``ASG_TERMINATOR_PROPERTY_PROFILE=long make test``. Each run writes what
it tried to ``artifacts/property-stats.json``.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asg_terminator.fleet import create_asg
from asg_terminator.paths import ROOT
from asg_terminator.simulator import (
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
from tests.workflow.harness import FloorWatch, run_execution

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
LONG = os.environ.get("ASG_TERMINATOR_PROPERTY_PROFILE") == "long"
MAX_ASGS, MAX_INSTANCES, EXAMPLES = (4, 30, 40) if LONG else (2, 5, 6)
EXAMPLES = int(os.environ.get("ASG_TERMINATOR_PROPERTY_EXAMPLES", EXAMPLES))
UNREADABLE_AT_START = (HANGS, DEAD, GARBAGE, HUGE)
STATS: Counter[str] = Counter()


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, Any]:
    starts = st.sampled_from([OLD] * 6 + [NEW] * 2 + list(UNREADABLE_AT_START))
    asgs = [draw(st.lists(starts, min_size=1, max_size=MAX_INSTANCES)) for _ in range(draw(st.integers(1, MAX_ASGS)))]
    share = st.sampled_from([0.0, 0.0, 0.25])
    return {
        "asgs": asgs,
        "min_healthy": draw(st.integers(0, 3)),
        "min_healthy_percent": draw(st.sampled_from([0, 50, 100])),
        "max_batch": draw(st.one_of(st.none(), st.integers(1, 3))),
        "pin_target": draw(st.booleans()),
        "faults": {NEVER_BOOTS: draw(share), WRONG_VERSION: draw(share), SLOW: draw(share)},
        "seed": draw(st.integers(0, 2**16)),
    }


@pytest.fixture(scope="module", autouse=True)
def report_stats() -> Iterator[None]:
    yield
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "property-stats.json").write_text(json.dumps(dict(STATS), indent=2, sort_keys=True))


def floor(desired: int, case: dict[str, Any]) -> int:
    return max(case["min_healthy"], math.ceil(case["min_healthy_percent"] * desired / 100))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=fleets())
def test_random_fleets_and_faults_keep_every_safety_rule(world: World, case: dict[str, Any]) -> None:
    run = uuid.uuid4().hex[:6]
    plan = FaultPlan(shares=case["faults"], slow_seconds=0.2, wrong_version=OLD, seed=case["seed"])
    names = [f"prop-{run}-{n}" for n in range(len(case["asgs"]))]
    simulator = FleetSimulator(asg_instance_lister(world.autoscaling, names), build=NEW, boot_seconds=0.2, faults=plan)
    world.simulator = simulator  # for world.versions(); this example's own fleet
    with simulator:
        starts: dict[str, str] = {}
        for name, initial in zip(names, case["asgs"], strict=True):
            ids = create_asg(world.autoscaling, world.ec2, name, len(initial))
            for instance_id, start in zip(ids, initial, strict=True):
                simulator.adopt([instance_id], start if start in (OLD, NEW) else OLD)
                if start in UNREADABLE_AT_START:
                    simulator.set_fault(instance_id, start)
                starts[instance_id] = start
        release = {
            "asg_names": names,
            "version_url": simulator.url_template,
            "min_healthy": case["min_healthy"],
            "min_healthy_percent": case["min_healthy_percent"],
            "max_batch": case["max_batch"],
            "poll_seconds": 1,
            "probe_timeout_seconds": 0.3,
            "replacement_timeout_seconds": 3,
            **({"target_version": NEW} if case["pin_target"] else {}),
        }
        with FloorWatch(world.autoscaling, simulator, names) as watch:
            execution = run_execution(world.sfn, world.machine_arn, release, timeout=180)

        target = NEW if case["pin_target"] else None
        outcomes = {a["asg_name"]: a for a in (execution.output or {}).get("asgs", [])}
        terminated = execution.terminated()
        for name, initial in zip(names, case["asgs"], strict=True):
            serving_at_start = sum(1 for s in initial if s in (OLD, NEW))
            lowest = min(s.serving for s in watch.samples if s.asg_name == name)
            assert lowest >= min(serving_at_start, floor(len(initial), case)), f"{name} broke its floor"
            STATS["instances"] += len(initial)
            STATS["instances unreadable at start"] += sum(1 for s in initial if s in UNREADABLE_AT_START)
            if name in outcomes and target is None:
                target = outcomes[name]["target_version"]
        for instance_id in terminated:
            assert watch.gone.get(instance_id) != NEW or target != NEW, f"{instance_id} served the target"
            assert starts.get(instance_id) not in UNREADABLE_AT_START, f"{instance_id} was unreadable"
        for name in names:
            runs = [r.name for r in _runs(world, execution.arn) if r.asg_name == name]
            if "AsgFailed" in runs:
                assert "Terminate" not in runs[runs.index("AsgFailed") :], f"{name} terminated after failing"
        if execution.status == "SUCCEEDED":
            for name in names:
                assert set(world.versions(name)) == {outcomes[name]["target_version"]}
        STATS["releases"] += 1
        STATS["asgs"] += len(names)
        STATS[f"outcome {execution.status}"] += 1
        STATS["instances terminated"] += len(terminated)
        STATS["replacement fault plans"] += int(any(case["faults"].values()))
    world.simulator = None


def _runs(world: World, arn: str) -> list[Any]:
    from asg_terminator import history

    return history.load(world.sfn, arn).runs
