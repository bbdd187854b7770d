"""Terminate and CheckReplacement against moto and a simulated fleet on loopback.

Each test builds its Terminate event the way the state machine does: Discover -> ReadVersions ->
SelectBatch, all through the real handlers.
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from asg_terminator.simulator import WRONG_VERSION, FleetSimulator
from tasks.domain import history_budget
from tasks.domain.fleet import RECENT_IDS
from tasks.errors import AsgNotFoundError, InvalidStepInputError, ReplacementTimeoutError
from tasks.handlers.check_replacement import handler as check_replacement
from tasks.handlers.discover import handler as discover
from tasks.handlers.read_versions import handler as read_versions
from tasks.handlers.select_batch import handler as select_batch
from tasks.handlers.terminate import handler as terminate
from tests.functional.support import NEW, OLD, RELEASE_ID, ago, empty_progress, fetched, group, group_ids, leased
from tests.unit.builders import settings

if TYPE_CHECKING:
    from collections.abc import Callable

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def selected(simulator: FleetSimulator, name: str, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings, progress) after SelectBatch has chosen a batch for ``name``."""
    release = settings(version_url=simulator.url_template, probe_timeout_seconds=1, **overrides)
    fleet = discover({"asg_name": name, "release_id": RELEASE_ID, "version_url": release["version_url"]}, None)
    fleet = read_versions({"fleet": fleet, "probe_timeout_seconds": release["probe_timeout_seconds"]}, None)
    state = {
        "asg_name": name,
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "settings": release,
    }
    progress = select_batch({**state, "fleet": fleet, "progress": empty_progress()}, None)["progress"]
    assert progress["decision"]["action"] == "terminate"
    return release, progress


def ec2_state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def test_terminate_removes_the_batch_through_auto_scaling_which_launches_replacements(
    make_asg: Callable[..., list[str]], autoscaling: Any, ec2: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 3, zones=("us-east-1a",))
    simulator.adopt(ids[:2], OLD)
    simulator.adopt(ids[2:], NEW)
    _, progress = selected(simulator, "web", min_healthy=1)
    batch = progress["decision"]["batch"]
    assert sorted(batch) == ids[:2]

    after = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)

    now_in_group = group_ids(autoscaling, "web")
    assert now_in_group.isdisjoint(batch)
    assert group(autoscaling, "web")["DesiredCapacity"] == 3
    assert len(now_in_group) == 3 and ids[2] in now_in_group  # two replacements took the batch's place
    assert [ec2_state(ec2, i) for i in batch] == ["terminated", "terminated"]
    assert after["batches"] == [batch]
    assert after["decision"] is None
    assert after["pending"]["instance_ids"] == batch
    assert (
        sorted(
            i["id"]
            for i in fetched({"asg_name": "web", "key": after["pending"]["fleet_key"], "instances": 3})["instances"]
        )
        == ids
    )
    assert after["pending"]["status"] == "terminated 2 of 2; waiting for replacements"
    assert TIMESTAMP.match(after["pending"]["since"])


def test_an_instance_that_already_left_the_group_is_skipped(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 3, zones=("us-east-1a",))
    simulator.adopt(ids[:2], OLD)
    simulator.adopt(ids[2:], NEW)
    _, progress = selected(simulator, "web", min_healthy=1)
    gone, remaining = progress["decision"]["batch"]
    # Someone else (or an earlier, retried attempt of this step) terminated one of the batch.
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=gone, ShouldDecrementDesiredCapacity=False)

    after = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)

    assert after["batches"] == [[remaining]]
    assert after["pending"]["instance_ids"] == [gone, remaining]
    assert after["pending"]["status"] == "terminated 1 of 2; waiting for replacements"
    now_in_group = group_ids(autoscaling, "web")
    assert gone not in now_in_group and remaining not in now_in_group
    assert len(now_in_group) == 3


def test_terminating_in_an_asg_deleted_mid_release_raises_asg_not_found(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt(ids, OLD)
    _, progress = selected(simulator, "web", target_version=NEW, min_healthy=1)
    release_id = leased("web")
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web", ForceDelete=True)

    with pytest.raises(AsgNotFoundError, match=r"^web: no Auto Scaling group of that name"):
        terminate({"asg_name": "web", "release_id": release_id, "progress": progress}, None)


def test_terminate_refuses_a_decision_that_is_not_terminate(aws: None) -> None:
    progress = {
        **empty_progress(),
        "target_version": NEW,
        "decision": {"action": "wait", "message": "web => waiting", "batch": []},
    }

    with pytest.raises(InvalidStepInputError, match=r"^terminate input: "):
        terminate({"asg_name": "web", "release_id": RELEASE_ID, "progress": progress}, None)


def checked(release: dict[str, Any], progress: dict[str, Any]) -> dict[str, Any]:
    """The ledger CheckReplacement's output (the ASG's state) holds, its event as the ASL builds it."""
    state = {"asg_name": "web", "release_id": RELEASE_ID, "settings": release}
    output = check_replacement({**state, "progress": progress}, None)
    assert {k: output[k] for k in state} == state
    return dict(output["progress"])


def test_check_replacement_waits_for_a_booting_replacement_then_sees_it_serve(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt([ids[0]], OLD)
    simulator.adopt([ids[1]], NEW)
    release, progress = selected(simulator, "web", min_healthy=1, poll_seconds=1)  # a check watches for 1 s
    progress = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    (replacement,) = group_ids(autoscaling, "web") - set(ids)

    booting = checked(release, progress)
    simulator.adopt([replacement], NEW)  # its boot ends (the fixture's boots take 60 s: none ends by itself)
    booted = checked(release, booting)

    assert booting["pending"]["status"] == (
        f"web: 1 of 1 replacements not serving 1.0.274 after 0 s: {replacement} HTTP 503"
    )
    assert booting["batches"] == [[ids[0]]]
    assert booted["pending"] is None
    assert booted["batches"] == [[ids[0]]]
    assert simulator.reads(replacement) == NEW


def one_replaced(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator, poll_seconds: int
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """An old and a new instance, the old one terminated: (settings, CheckReplacement's event's
    progress, its replacement, booting for the fixture's 60 s)."""
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt([ids[0]], OLD)
    simulator.adopt([ids[1]], NEW)
    release, progress = selected(simulator, "web", min_healthy=1, poll_seconds=poll_seconds)
    progress = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    (replacement,) = group_ids(autoscaling, "web") - set(ids)
    return release, progress, replacement


def test_a_check_watches_a_booting_replacement_and_sees_its_boot_end(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    """The batch waits only for its replacement to boot: one check sees the boot end (half a second
    into a watch of up to 10 s), reads the fleet again and is done; no Wait in between."""
    release, progress, replacement = one_replaced(make_asg, autoscaling, simulator, poll_seconds=10)
    assert simulator.reads(replacement) is None  # booting (the fixture's boots take 60 s)

    boot_ends = threading.Timer(0.5, simulator.adopt, ([replacement], NEW))
    boot_ends.start()
    try:
        done = checked(release, progress)
    finally:
        boot_ends.cancel()

    assert done["pending"] is None
    assert done["launched"] == [replacement]
    assert 0.5 <= done["boot_seconds"] < 10  # the batch's termination to the check that saw its boot end


def test_the_check_that_sees_its_batch_replaced_hands_its_read_to_select_batch(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    """Once the batch is replaced, the check's read (every version in it) is stored and named in its
    output: SelectBatch decides on it, charged as a decision alone (no Discover, no ReadVersions)."""
    from tasks import runtime

    release, progress, replacement = one_replaced(make_asg, autoscaling, simulator, poll_seconds=1)
    simulator.adopt([replacement], NEW)
    state = {"asg_name": "web", "release_id": RELEASE_ID, "settings": release}

    done = check_replacement({**state, "progress": progress}, None)

    assert done["progress"]["pending"] is None
    stored = runtime.fleet_records().read(done["fleet"])
    assert stored.written_by == "CheckReplacement" and stored.release_id == RELEASE_ID
    assert {i.id: i.version for i in stored.fleet.instances} == dict.fromkeys(group_ids(autoscaling, "web"), NEW)
    decided = select_batch({**state, "progress": done["progress"], "fleet": done["fleet"]}, None)
    assert decided["progress"]["decision"]["action"] == "converged"
    assert decided["progress"]["events_spent"] - done["progress"]["events_spent"] == history_budget.DECIDE


def test_a_check_still_waiting_names_no_read(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    release, progress, _ = one_replaced(make_asg, autoscaling, simulator, poll_seconds=1)

    waiting = check_replacement(
        {"asg_name": "web", "release_id": RELEASE_ID, "settings": release, "progress": progress}, None
    )

    assert waiting["progress"]["pending"] is not None and "fleet" not in waiting


def test_a_watch_that_sees_no_boot_end_leaves_the_next_check_to_the_rest_of_the_poll(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    release, progress, _ = one_replaced(make_asg, autoscaling, simulator, poll_seconds=2)

    waiting = checked(release, progress)

    assert waiting["pending"] is not None
    assert waiting["pending"]["wait_seconds"] == 0  # the watch took the whole poll
    assert waiting["pending"]["status"].endswith("HTTP 503")


def test_no_watch_for_a_replacement_on_another_build(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    release, progress, replacement = one_replaced(make_asg, autoscaling, simulator, poll_seconds=30)
    simulator.adopt([replacement], OLD)  # booted, on the old build: no boot left to watch

    waiting = checked(release, progress)

    assert waiting["pending"]["wait_seconds"] == 30  # a full poll: the check did not watch
    assert waiting["pending"]["status"].endswith(f"{replacement} serves {OLD}")


def test_a_replacement_that_never_serves_fails_with_replacement_timeout(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt([ids[0]], OLD)
    simulator.adopt([ids[1]], NEW)
    release, progress = selected(simulator, "web", min_healthy=1, replacement_timeout_seconds=900)
    progress = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    (replacement,) = group_ids(autoscaling, "web") - set(ids)
    progress["pending"]["since"] = ago(1000)  # the batch was terminated 1000 s ago

    with pytest.raises(ReplacementTimeoutError) as raised:
        checked(release, progress)

    assert re.fullmatch(
        rf"web: 1 of 1 replacements not serving 1\.0\.274 after 100\d s: {replacement} HTTP 503", str(raised.value)
    )


def test_a_replacement_serving_the_wrong_build_is_named_with_that_build(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt([ids[0]], OLD)
    simulator.adopt([ids[1]], NEW)
    release, progress = selected(simulator, "web", min_healthy=1)
    simulator.boot_seconds = 0
    simulator.faults.shares = {WRONG_VERSION: 1.0}
    simulator.faults.wrong_version = "1.0.100"
    progress = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    (replacement,) = group_ids(autoscaling, "web") - set(ids)

    waiting = checked(release, progress)

    assert simulator.reads(replacement) == "1.0.100"
    assert waiting["pending"]["status"] == (
        f"web: 1 of 1 replacements not serving 1.0.274 after 0 s: {replacement} serves 1.0.100"
    )


def test_check_replacement_of_a_deleted_asg_raises_asg_not_found(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    ids = make_asg("web", 2, zones=("us-east-1a",))
    simulator.adopt(ids, OLD)
    release, progress = selected(simulator, "web", target_version=NEW, min_healthy=1)
    progress = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web", ForceDelete=True)

    with pytest.raises(AsgNotFoundError):
        checked(release, progress)


def test_a_batch_is_terminated_ten_at_a_time_and_reported_in_its_order(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    """Each termination is one call (100-200 ms in AWS): a batch of 25 makes them 10 at a time."""
    from tasks import runtime
    from tasks.ownership import TERMINATE_CONCURRENCY

    ids = make_asg("web", 26, zones=("us-east-1a",), max_size=60)
    simulator.adopt(ids[:25], OLD)
    simulator.adopt(ids[25:], NEW)
    _, progress = selected(simulator, "web", min_healthy=1)
    batch = progress["decision"]["batch"]
    assert len(batch) == 25
    together = threading.Condition()
    under_way, most = [0], [0]

    def slow(**_: Any) -> None:
        """Each call waits until ten are under way (the last wave of 5 waits its 3 s out), so the
        count shows the bound, not how fast a loaded machine starts threads."""
        with together:
            under_way[0] += 1
            most[0] = max(most[0], under_way[0])
            together.notify_all()
            together.wait_for(lambda: under_way[0] >= TERMINATE_CONCURRENCY, timeout=3)
        with together:
            under_way[0] -= 1

    client = runtime.autoscaling()._client
    client.meta.events.register("before-call.autoscaling.TerminateInstanceInAutoScalingGroup", slow)
    try:
        after = terminate({"asg_name": "web", "release_id": leased("web"), "progress": progress}, None)
    finally:
        client.meta.events.unregister("before-call.autoscaling.TerminateInstanceInAutoScalingGroup", slow)

    assert most[0] == TERMINATE_CONCURRENCY == 10
    # Every one terminated, in the batch's order (the ledger names the first RECENT_IDS and counts the rest).
    assert after["batches"] == [batch[:RECENT_IDS]] and after["earlier_terminated"] == len(batch) - RECENT_IDS
    assert group_ids(autoscaling, "web").isdisjoint(batch)


def test_a_failed_termination_starts_no_other_and_a_retry_finishes_the_batch(
    make_asg: Callable[..., list[str]], autoscaling: Any, simulator: FleetSimulator
) -> None:
    from botocore.awsrequest import AWSResponse

    from tasks import runtime
    from tasks.errors import AwsThrottledError

    ids = make_asg("web", 13, zones=("us-east-1a",), max_size=30)
    simulator.adopt(ids[:12], OLD)
    simulator.adopt(ids[12:], NEW)
    _, progress = selected(simulator, "web", min_healthy=1)
    batch = progress["decision"]["batch"]
    calls: list[str] = []
    lock = threading.Lock()

    def throttle_the_third(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        with lock:
            calls.append("call")
            third = len(calls) == 3
        if not third:
            time.sleep(0.05)  # those under way end well after the third failed
            return None
        error = {"Code": "Throttling", "Message": "Rate exceeded"}
        return AWSResponse("https://autoscaling", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    event = "before-call.autoscaling.TerminateInstanceInAutoScalingGroup"
    client = runtime.autoscaling()._client
    client.meta.events.register(event, throttle_the_third)
    me = leased("web")
    try:
        with pytest.raises(AwsThrottledError):
            terminate({"asg_name": "web", "release_id": me, "progress": progress}, None)
    finally:
        client.meta.events.unregister(event, throttle_the_third)

    assert 3 <= len(calls) < len(batch)  # those under way when the third failed, and none started after
    remaining = [i for i in batch if i in group_ids(autoscaling, "web")]
    assert 0 < len(remaining) < len(batch)
    after = terminate({"asg_name": "web", "release_id": me, "progress": progress}, None)  # the ASL's retry
    assert after["batches"] == [remaining]  # moto removes a terminated instance at once (AWS: Terminating)
    assert group_ids(autoscaling, "web").isdisjoint(batch)
