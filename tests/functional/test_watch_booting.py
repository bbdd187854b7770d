"""WatchBooting through its handler: a wait for a booting surge watches it, and the next read follows
as soon as each surged instance answers. Discover, ReadVersions and SelectBatch build its event, as
the state machine does, against moto and a simulated fleet on loopback."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from tasks.handlers.discover import handler as discover
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.watch_booting import handler as watch_booting
from tests.functional.support import NEW, OLD, RELEASE_ID, empty_progress, group_ids, leased
from tests.unit.builders import settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from asg_terminator.simulator import FleetSimulator


def waiting_for_a_surge(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator, poll_seconds: int
) -> tuple[dict[str, Any], set[str]]:
    """Two instances on the old build at a floor of both, surged by two that boot (60 s): SelectBatch
    waits, and names the surge to watch. Returns WatchBooting's event and the surge's ids."""
    ids = make_asg("web", 2, zones=("us-east-1a",), max_size=4)
    simulator.adopt(ids, OLD)
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
    event = {"asg_name": "web", "decision": progress["decision"], "poll_seconds": poll_seconds}
    return {**event, "probe_timeout_seconds": 1}, surge


def test_a_wait_for_a_booting_surge_reads_again_as_soon_as_the_surge_answers(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, surge = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=10)
    boot_ends = threading.Timer(0.5, simulator.adopt, (surge, NEW))
    boot_ends.start()
    try:
        watched = watch_booting(event, None)
    finally:
        boot_ends.cancel()

    assert watched["answered"] is True
    assert watched["rest_seconds"] == 0  # WaitAfterWatching: none, Discover follows at once
    assert set(watched["instance_ids"]) == surge
    assert 0.5 <= watched["watched_seconds"] < 10


def test_a_surge_that_does_not_answer_within_the_poll_leaves_the_rest_of_it_to_the_wait(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, surge = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=2)
    simulator.adopt([sorted(surge)[0]], NEW)  # one answers, the other still boots

    watched = watch_booting(event, None)

    assert watched["answered"] is False
    assert watched["rest_seconds"] == 0  # the watch took the whole poll
    assert watched["watched_seconds"] >= 1.6


def test_a_watch_of_an_instance_that_has_left_waits_the_poll(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    event, _ = waiting_for_a_surge(make_asg, autoscaling, simulator, poll_seconds=5)
    event["decision"]["watch"] = [*event["decision"]["watch"], "i-0000000000000dead"]  # not in the read

    watched = watch_booting(event, None)

    assert watched["answered"] is False
    assert watched["rest_seconds"] >= 4  # as long as WaitBeforeReread would have waited
