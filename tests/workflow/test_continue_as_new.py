"""Issue #7 item 5: a release that would pass the history limit continues as a new execution.

The threshold is lowered (``max_history_events``) so a few instances released one at a time need a
chain of executions; the real ASL and handlers run every link, and each one starts the next.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from asg_terminator import history
from asg_terminator.cli import main
from tasks.domain import history_budget
from tasks.domain.lease import LOCK_TAG

if TYPE_CHECKING:
    from tests.workflow.conftest import World
    from tests.workflow.harness import Execution, FloorWatch

OLD, NEW = "1.0.266", "1.0.274"


def _outcomes(link: Execution) -> list[dict[str, Any]]:
    """The outcome each ASG's branch ended with in this execution (the Map's output)."""
    for event in link.history:
        if event["type"] == "MapStateExited":
            outcomes: list[dict[str, Any]] = json.loads(event["stateExitedEventDetails"]["output"])["outcomes"]
            return outcomes
    raise AssertionError(f"{link.arn}: the Map never ended")


def _input(sfn: Any, arn: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    return loaded


def _lock(world: World, name: str) -> str | None:
    group = world.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return next((t["Value"] for t in group.get("Tags", []) if t["Key"] == LOCK_TAG), None)


def _release(world: World, names: list[str], min_healthy: int, limit: int) -> tuple[Execution, FloorWatch]:
    """One instance at a time, each batch's wait short, and the history threshold lowered to ``limit``."""
    settings = {"target_version": NEW, "max_batch": 1, "replacement_timeout_seconds": 3}
    return world.release(
        {"asg_names": names, "min_healthy": min_healthy, "max_history_events": limit, **settings}, timeout=240
    )


def test_a_long_release_continues_as_new_executions_under_the_threshold(world: World) -> None:
    world.fleet(build=NEW)
    original = world.asg("live_asg_web", 4, OLD)
    world.asg("live_asg_api", 1, NEW)  # converges at its first read: its report is carried along
    limit = 300

    execution, watch = _release(world, ["live_asg_web", "live_asg_api"], 3, limit)

    chain = execution.chain
    assert execution.status == "SUCCEEDED", execution.cause
    assert len(chain) >= 2, [len(link.history) for link in chain]
    # Every link stays under the threshold, and the release converged as one would have.
    assert all(len(link.history) <= limit for link in chain), [len(link.history) for link in chain]
    assert world.versions("live_asg_web") == [NEW] * 4
    reports = {r["asg_name"]: r for r in execution.output["asgs"]}
    assert reports["live_asg_api"]["status"] == "CONVERGED" and reports["live_asg_api"]["terminated_count"] == 0
    web = reports["live_asg_web"]
    assert web["status"] == "CONVERGED" and web["versions_before"] == {OLD: 4} and web["versions_after"] == {NEW: 4}
    assert (web["batch_count"], web["terminated_count"]) == (4, 4)
    terminated = [i for link in chain for i in link.terminated()]
    assert sorted(terminated) == sorted(original)  # each terminated once, across the chain
    assert watch.floor_breaches("live_asg_web", 3) == []
    assert not any(watch.gone.get(i) == NEW for i in terminated)

    # Each link continues the one before: input names it, and the console's started-by link is set.
    for previous, link in itertools.pairwise(chain):
        given = _input(world.sfn, link.arn)
        assert given["continuation"]["previous_execution"] == previous.arn
        assert given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == previous.arn
        assert given["asg_names"] == ["live_asg_web"]  # only what still releases
        assert previous.output == {"status": "CONTINUED", "continued_as": link.arn}
        assert "LockAsg" in link.states_entered() and link.task_outputs("LockAsg")  # handed over: no AsgLockedError
    assert _lock(world, "live_asg_web") is None and world.lease("live_asg_web") is None  # the last link let go
    names = [link.arn.rsplit(":", 1)[-1] for link in chain]
    assert names[1:] == [f"{names[0]}-c{n}" for n in range(2, len(chain) + 1)]


def test_the_counted_events_are_never_fewer_than_the_history_holds(world: World) -> None:
    """history_budget counts events per state run; if the ASL changes and the counts go stale, this
    fails: a count below the real history could let an execution reach the limit."""
    world.fleet(build=NEW)
    world.asg("live_asg_web", 3, OLD)
    world.asg("live_asg_api", 2, OLD)

    execution, _ = _release(world, ["live_asg_web", "live_asg_api"], 1, 400)

    assert execution.status == "SUCCEEDED", execution.cause
    for link in execution.chain:
        counted = history_budget.EXECUTION + sum(o["progress"]["events_spent"] for o in _outcomes(link))
        actual = len(link.history)
        assert actual <= counted, f"{link.arn}: {actual} events, counted {counted}"
        assert counted - actual <= 25, f"{link.arn}: counted {counted} for {actual}: the counts are too loose"


def test_the_history_tooling_follows_the_chain_from_any_link(world: World) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 4, OLD)
    execution, _ = _release(world, ["live_asg_web"], 3, 200)
    assert execution.status == "SUCCEEDED", execution.cause
    arns = [link.arn for link in execution.chain]
    assert len(arns) >= 2

    for start in (arns[0], arns[-1]):
        assert [view.arn for view in history.chain(world.sfn, start)] == arns

    shown = CliRunner().invoke(main, ["history", arns[0], "--region", "us-east-1", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert [e["arn"] for e in document["executions"]] == arns
    assert document["status"] == "SUCCEEDED"
    assert {r["execution"] for r in document["runs"]} == set(range(1, len(arns) + 1))
    assert [r["name"] for r in document["runs"]].count("ContinueAsNewExecution") == len(arns) - 1
