"""WatchBooting through its handler: a wait for a booting surge watches it, and the next read follows
as soon as each surged instance answers (the watch's own, which SelectBatch decides on). Discover,
ReadVersions and SelectBatch build its event, as the state machine does, against moto and a
simulated fleet on loopback."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tasks import runtime
from tasks.domain import history_budget
from tasks.handlers.discover import handler as discover
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.watch_booting import handler as watch_booting
from tests.functional.support import NEW, OLD, RELEASE_ID, empty_progress, group_ids, leased, target_group
from tests.iam_recorder import RECORDING
from tests.unit.builders import settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from asg_terminator.simulator import FleetSimulator


def waiting_for_a_surge(
    make_asg: Callable[..., list[str]],
    autoscaling: Any,
    simulator: FleetSimulator,
    poll_seconds: int,
    *,
    warm_pool_and_target_group: bool = False,
) -> tuple[dict[str, Any], set[str]]:
    """Two instances on the old build at a floor of both, surged by two that boot (60 s): SelectBatch
    waits, and names the surge to watch. Returns WatchBooting's event and the surge's ids."""
    ids = make_asg("web", 2, zones=("us-east-1a",), max_size=4)
    simulator.adopt(ids, OLD)
    if warm_pool_and_target_group:  # what the read after the watch describes besides the group
        autoscaling.put_warm_pool(AutoScalingGroupName="web", MinSize=1)
        target_group(autoscaling, "web")
    release = settings(
        version_url=simulator.url_template, probe_timeout_seconds=1, min_healthy=2, poll_seconds=poll_seconds
    )
    leased("web", max_surge=2)
    surge = group_ids(autoscaling, "web") - set(ids)
    fleet = discover({"asg_name": "web", "release_id": RELEASE_ID, "version_url": release["version_url"]}, None)
    fleet = read_versions({"fleet": fleet, "probe_timeout_seconds": 1}, None)
    state = {"asg_name": "web", "release_id": RELEASE_ID, "settings": release}
    progress = select_batch({**state, "fleet": fleet, "progress": empty_progress()}, None)["progress"]
    assert progress["decision"]["action"] == "wait"
    assert set(progress["decision"]["watch"]) == surge
    assert progress["decision"]["fleet_key"] == fleet["key"]  # the read whose URLs the watch probes
    return {**state, "progress": progress}, surge


def watched_by(event: dict[str, Any]) -> dict[str, Any]:
    """What WatchBooting watched (its output is the ASG's state: the rest passes through)."""
    output = watch_booting(event, None)
    assert {k: output[k] for k in event} == event
    return dict(output["booting"])


def test_a_wait_for_a_booting_surge_reads_again_as_soon_as_the_surge_answers(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, surge = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=10)
    boot_ends = threading.Timer(0.5, simulator.adopt, (surge, NEW))
    boot_ends.start()
    try:
        output = watch_booting(event, None)
    finally:
        boot_ends.cancel()

    watched = output["booting"]
    assert watched["answered"] is True
    assert watched["rest_seconds"] == 0
    assert set(watched["instance_ids"]) == surge
    assert 0.5 <= watched["watched_seconds"] < 10
    # The watch read the fleet again: SelectBatch decides on that read, charged as a decision alone.
    stored = runtime.fleet_records().read(output["fleet"])
    assert stored.written_by == "WatchBooting" and stored.read_seconds is not None
    assert {i.version for i in stored.fleet.instances if i.id in surge} == {NEW}
    decided = select_batch({k: output[k] for k in ("asg_name", "release_id", "settings", "progress", "fleet")}, None)
    assert decided["progress"]["decision"]["action"] == "terminate"
    spent = decided["progress"]["events_spent"] - output["progress"]["events_spent"]
    assert spent == history_budget.DECIDE


def test_a_watch_whose_timeout_leaves_no_room_for_a_read_after_it_leaves_the_read_to_discover(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator, monkeypatch: Any
) -> None:
    """The read the decision saw took 50 s (as a 10,000-instance read can in moto): a whole poll's
    watch and as long a read after it would not fit in the Task's 60 s, so the watch reads nothing."""
    event, surge = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=2)
    records = runtime.fleet_records()
    slow = records.get("web", event["progress"]["decision"]["fleet_key"])
    monkeypatch.setattr(type(records), "get", lambda *_, **__: replace(slow, read_seconds=50.0))
    simulator.adopt(surge, NEW)

    output = watch_booting(event, None)

    assert output["booting"]["answered"] is True and "fleet" not in output


def test_a_surge_that_does_not_answer_within_the_poll_leaves_the_rest_of_it_to_the_wait(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, surge = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=2)
    simulator.adopt([sorted(surge)[0]], NEW)  # one answers, the other still boots

    watched = watched_by(event)

    assert watched["answered"] is False
    assert watched["rest_seconds"] == 0  # the watch took the whole poll
    assert watched["watched_seconds"] >= 1.6


def test_a_watch_of_an_instance_that_has_left_waits_the_poll(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, _ = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=5)
    decision = event["progress"]["decision"]
    decision["watch"] = [*decision["watch"], "i-0000000000000dead"]  # not in the read

    watched = watched_by(event)

    assert watched["answered"] is False
    assert watched["rest_seconds"] >= 4  # as long as WaitBeforeReread would have waited


def test_the_read_after_a_watch_describes_the_warm_pool_and_the_target_groups(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    """The read WatchBooting makes once each has answered is Discover's and ReadVersions' whole read."""
    event, surge = waiting_for_a_surge(
        make_asg, autoscaling, simulator, poll_seconds=2, warm_pool_and_target_group=True
    )
    simulator.adopt(surge, NEW)

    output = watch_booting(event, None)

    stored = runtime.fleet_records().read(output["fleet"]).fleet
    assert all(i.lb is not None for i in stored.instances if i.in_service)  # each one's target health, read
    with RECORDING.lock:
        made = {action for function, action in RECORDING.made if function == "WatchBooting"}
    assert {"autoscaling:DescribeWarmPool", "elasticloadbalancing:DescribeTargetHealth"} <= made
