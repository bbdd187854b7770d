"""The simulation checked against the real workflow: a few calm simulated cases (no faults, no stops:
nothing moto cannot express) replayed through the real ASL on moto's interpreter, with the real
handlers, give the same outcome: the execution's status, the ASG's outcome (its error's name when it
failed), and the versions its InService instances serve at the end."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

import pytest

from asg_terminator.fleet import create_asg
from asg_terminator.simulation import engine
from asg_terminator.simulator import FleetSimulator, asg_instance_lister
from tests.workflow.harness import run_execution

if TYPE_CHECKING:
    from tests.workflow.conftest import World

# A release blocked by its floor; three instances in batches of two; four, one at a time, floor 2.
SEEDS = (2, 7, 11)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_simulated_case_has_the_outcome_of_the_real_workflow(world: World, seed: int) -> None:
    logger = logging.getLogger("asg_terminator")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        release, simulated, simulated_final = engine.calm(seed)
    finally:
        logger.setLevel(level)
    assert not simulated.violations
    first_read = [line for line in simulated.trace if "ReadVersions" in line][:1]  # shown when they differ
    name = f"replay-{uuid.uuid4().hex[:6]}"
    starting = _starting_versions(seed)
    simulator = FleetSimulator(asg_instance_lister(world.autoscaling, [name]), build=engine.NEW, boot_seconds=0.2)
    with simulator:
        ids = create_asg(world.autoscaling, world.ec2, name, len(starting), image_id="ami-12c6146b")
        for instance_id, version in zip(ids, starting, strict=True):
            simulator.adopt([instance_id], version)
        chosen = {**release.input, "asg_names": [name], "version_url": simulator.url_template}
        execution = run_execution(world.sfn, world.machine_arn, chosen, timeout=120)
        group_now = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        real_final = sorted(
            (simulator.reads(i["InstanceId"]) for i in group_now["Instances"] if i["LifecycleState"] == "InService"),
            key=str,
        )
    context = "\n".join([*first_read, *simulated.trace[-12:]])
    assert execution.status == release.status, context
    outcome = release.outcomes["sim-asg-0"]
    if outcome.startswith("FAILED"):
        assert outcome.split()[1] in (execution.cause or ""), (execution.cause, context)
    else:
        assert [a["status"] for a in execution.output["asgs"]] == [outcome], context
    assert real_final == simulated_final, context


def _starting_versions(seed: int) -> list[str]:
    """The versions the calm case's instances start with (the same draws build the same fleet)."""
    case = engine.Case(engine.Draws(seed), seed, trace=False)
    case.build_calm()
    return [i.version for i in case.world.groups["sim-asg-0"].instances.values()]
