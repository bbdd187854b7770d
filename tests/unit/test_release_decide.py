"""decide(): the next batch, convergence, waiting, and the two ways a release cannot progress."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import parse

from tasks.domain.decide import decide
from tasks.domain.fleet import Fleet, Instance, Progress
from tasks.errors import DowngradeRefusedError, FloorBlocksReleaseError, ReleaseStalledError
from tests.unit.builders import OLD, T0, TARGET, at, decision_of, fleet, instance, policy, stamp

if TYPE_CHECKING:
    from tasks.domain.policy import Policy


def test_without_a_target_the_highest_version_read_becomes_the_target() -> None:
    seen = fleet(
        instance("i-a", "1.0.99"),
        instance("i-b", "1.0.100"),
        instance("i-c", "1.0.100"),
        instance("i-u", None),  # unreadable: plays no part in choosing the target
    )
    progress = decide(seen, Progress(), policy(), T0, "fleets/t/live_asg_web/" + "a" * 32 + ".json")
    assert progress.target_version == "1.0.100"
    assert progress.decision is not None
    assert decision_of(progress).action == "terminate"
    assert decision_of(progress).batch == ("i-a",)
    assert decision_of(progress).message == (
        "live_asg_web => lowest version 1.0.99, highest version 1.0.100, 1 instances to terminate"
    )
    assert decision_of(progress).fleet_key == "fleets/t/live_asg_web/" + "a" * 32 + ".json"  # the read it saw
    assert progress.started_at == "2025-03-01T12:00:00.000Z"
    assert progress.versions_before == {"1.0.100": 2, "1.0.99": 1, "unknown": 1}


def test_a_target_already_in_progress_wins_over_the_policy_and_the_fleet() -> None:
    seen = fleet(instance("i-a", "1.0.5"), instance("i-b", "1.0.6"), instance("i-c", "1.0.7"))
    progress = decide(seen, Progress(target_version="1.0.6"), policy(target_version="1.0.7"), T0)
    assert progress.target_version == "1.0.6"
    assert set(decision_of(progress).batch) <= {"i-a", "i-c"}


def test_with_no_version_read_and_no_target_it_waits_without_a_target() -> None:
    seen = fleet(instance("i-a", None), instance("i-b", None, lifecycle="Pending"))
    progress = decide(seen, Progress(), policy(), T0)
    assert progress.target_version is None
    assert progress.decision is not None
    assert decision_of(progress).action == "wait"
    assert decision_of(progress).message == "live_asg_web => waiting: no InService instance's version could be read yet"
    assert progress.waiting_since == stamp(0)


def test_a_pinned_older_target_rolls_newer_instances_back() -> None:
    seen = fleet(
        instance("i-a", "1.0.274"),
        instance("i-b", "1.0.274"),
        instance("i-c", "1.0.274"),
        instance("i-d", "1.0.270.0"),  # already serves the rollback target
    )
    with pytest.raises(DowngradeRefusedError, match=r"target 1\.0\.270 is older than 1\.0\.274.*allow_downgrade"):
        decide(seen, Progress(), policy(target_version="1.0.270", min_healthy=2), T0)
    progress = decide(seen, Progress(), policy(target_version="1.0.270", min_healthy=2, allow_downgrade=True), T0)
    assert progress.target_version == "1.0.270"
    assert decision_of(progress).action == "terminate"
    batch = decision_of(progress).batch
    assert len(batch) == 2  # 4 serving - floor 2
    assert set(batch) <= {"i-a", "i-b", "i-c"}


def _outdated(count: int, *, azs: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c")) -> list[Instance]:
    return [instance(f"i-o{n}", OLD, az=azs[n % len(azs)]) for n in range(count)]


def test_batch_is_limited_by_serving_minus_floor() -> None:
    progress = decide(fleet(*_outdated(6)), Progress(target_version=TARGET), policy(min_healthy_percent=50), T0)
    assert len(decision_of(progress).batch) == 3  # 6 serving - floor 3


def test_batch_is_limited_by_max_batch() -> None:
    progress = decide(
        fleet(*_outdated(6)), Progress(target_version=TARGET), policy(min_healthy_percent=50, max_batch=2), T0
    )
    assert decision_of(progress).batch == ("i-o0", "i-o1")


def test_batch_spreads_over_zones() -> None:
    progress = decide(fleet(*_outdated(6)), Progress(target_version=TARGET), policy(min_healthy_percent=50), T0)
    chosen = [i for i in fleet(*_outdated(6)).instances if i.id in decision_of(progress).batch]
    assert sorted(i.az for i in chosen) == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_desired_one_with_min_healthy_one_blocks_the_release() -> None:
    seen = fleet(instance("i-a", OLD))
    with pytest.raises(FloorBlocksReleaseError) as raised:
        decide(seen, Progress(), policy(target_version=TARGET, min_healthy=1), T0)
    message = str(raised.value)
    assert message.startswith("live_asg_web: healthy floor 1 leaves no headroom at desired capacity 1 (1 serving)")
    assert "none of the 1 outdated instances can be terminated" in message


def test_a_floor_above_desired_blocks_the_release() -> None:
    seen = fleet(instance("i-a", OLD), instance("i-b", TARGET))
    with pytest.raises(FloorBlocksReleaseError, match=r"healthy floor 3 .* desired capacity 2"):
        decide(seen, Progress(), policy(target_version=TARGET, min_healthy=3), T0)


def test_unreadable_instances_are_neither_serving_nor_terminated_by_default() -> None:
    seen = fleet(instance("i-o1", OLD), instance("i-o2", OLD), instance("i-u", None, reason="HTTP 503"))
    progress = decide(seen, Progress(target_version=TARGET), policy(min_healthy=1), T0)
    # 2 serving (not 3) - floor 1: one outdated instance, never the unreadable one
    assert decision_of(progress).batch == ("i-o1",)


def test_only_unreadable_instances_left_waits_then_stalls_naming_them() -> None:
    seen = fleet(
        instance("i-a", TARGET),
        instance("i-b", TARGET),
        instance("i-u", None, reason="unreachable (timeout)"),
    )
    first = decide(seen, Progress(target_version=TARGET), policy(), at(0))
    assert decision_of(first).action == "wait"
    assert decision_of(first).message == ("live_asg_web => waiting: i-u unreachable (timeout); serving 2 of desired 3")
    assert first.waiting_since == stamp(0)

    still = decide(seen, first, policy(), at(900))
    assert decision_of(still).action == "wait"
    assert still.waiting_since == stamp(0)

    with pytest.raises(ReleaseStalledError) as raised:
        decide(seen, still, policy(), at(901))
    assert str(raised.value) == (
        "live_asg_web: not converged on 1.0.274 and nothing could be terminated for 901 s (timeout 900 s): "
        "i-u unreachable (timeout); serving 2 of desired 3"
    )


def test_stall_timeout_follows_the_policy() -> None:
    seen = fleet(instance("i-a", TARGET), instance("i-u", None))
    waiting = decide(seen, Progress(target_version=TARGET), policy(replacement_timeout_seconds=60), at(0))
    with pytest.raises(ReleaseStalledError, match=r"for 61 s \(timeout 60 s\): i-u HTTP 503"):
        decide(seen, waiting, policy(replacement_timeout_seconds=60), at(61))


def test_replace_unreadable_counts_them_as_outdated_serving_and_replaces_them() -> None:
    seen = fleet(instance("i-a", TARGET), instance("i-b", TARGET), instance("i-u", None))
    progress = decide(seen, Progress(target_version=TARGET), policy(replace_unreadable=True), T0)
    assert decision_of(progress).action == "terminate"
    assert decision_of(progress).batch == ("i-u",)


def test_replace_unreadable_widens_the_headroom_and_takes_unreadable_first() -> None:
    seen = fleet(instance("i-o1", OLD), instance("i-o2", OLD), instance("i-u", None))
    progress = decide(seen, Progress(target_version=TARGET), policy(min_healthy=1, replace_unreadable=True), T0)
    # 3 counted - floor 1 = 2, unreadable first
    assert decision_of(progress).batch == ("i-u", "i-o1")


def test_replace_unreadable_still_respects_the_floor() -> None:
    seen = fleet(instance("i-u", None))
    with pytest.raises(FloorBlocksReleaseError):
        decide(seen, Progress(target_version=TARGET), policy(replace_unreadable=True), T0)


def test_converged_when_every_in_service_instance_serves_the_target() -> None:
    seen = fleet(
        instance("i-a", TARGET),
        instance("i-b", "1.0.274.0"),
        instance("i-c", "v1.0.274"),
        instance("i-old", OLD, lifecycle="Terminating"),  # leaving: not InService, ignored
        desired=3,
    )
    started = Progress(
        target_version=TARGET, started_at=stamp(-600), versions_before={OLD: 3}, waiting_since=stamp(-30)
    )
    progress = decide(seen, started, policy(), at(0))
    assert progress.decision is not None
    assert decision_of(progress).action == "converged"
    assert decision_of(progress).message == "live_asg_web => converged: 3 instances serve 1.0.274"
    assert decision_of(progress).batch == ()
    assert progress.versions_before == {OLD: 3}
    assert progress.versions_after == {"1.0.274": 1, "1.0.274.0": 1, "v1.0.274": 1}
    assert progress.finished_at == stamp(0)
    assert progress.started_at == stamp(-600)
    assert progress.waiting_since is None


def test_not_converged_while_serving_is_below_desired() -> None:
    seen = fleet(instance("i-a", TARGET), instance("i-b", TARGET), desired=3)
    progress = decide(seen, Progress(target_version=TARGET), policy(), T0)
    assert decision_of(progress).action == "wait"
    assert decision_of(progress).message == "live_asg_web => waiting: serving 2 of desired 3"
    assert progress.versions_after is None and progress.finished_at is None


def test_an_unhealthy_instance_is_not_serving() -> None:
    seen = fleet(instance("i-a", TARGET), instance("i-b", TARGET, health="Unhealthy"))
    progress = decide(seen, Progress(target_version=TARGET), policy(), T0)
    assert decision_of(progress).action == "wait"
    assert decision_of(progress).message == ("live_asg_web => waiting: i-b Unhealthy; serving 1 of desired 2")


def test_a_pending_instance_is_not_serving() -> None:
    seen = fleet(instance("i-a", TARGET), instance("i-p", TARGET, lifecycle="Pending"), desired=2)
    progress = decide(seen, Progress(target_version=TARGET), policy(), T0)
    assert decision_of(progress).action == "wait"
    assert decision_of(progress).message == "live_asg_web => waiting: serving 1 of desired 2"


def test_unhealthy_and_pending_instances_give_no_headroom_and_are_never_terminated() -> None:
    seen = fleet(
        instance("i-o1", OLD),
        instance("i-o2", OLD),
        instance("i-sick", OLD, health="Unhealthy"),
        instance("i-boot", OLD, lifecycle="Pending"),
        desired=4,
    )
    progress = decide(seen, Progress(target_version=TARGET), policy(min_healthy=1), T0)
    assert decision_of(progress).batch == ("i-o1",)  # 2 serving - floor 1


def test_waiting_since_is_reset_when_a_batch_is_chosen() -> None:
    seen = fleet(instance("i-o1", OLD), instance("i-o2", OLD))
    waited = Progress(target_version=TARGET, waiting_since=stamp(-800))
    progress = decide(seen, waited, policy(), T0)
    assert decision_of(progress).action == "terminate"
    assert progress.waiting_since is None


def test_versions_before_is_recorded_once() -> None:
    first_read = fleet(instance("i-o1", OLD), instance("i-o2", OLD))
    first = decide(first_read, Progress(target_version=TARGET), policy(), at(0))
    assert first.versions_before == {OLD: 2}
    later = decide(fleet(instance("i-o2", OLD), instance("i-n1", TARGET)), first, policy(), at(120))
    assert later.versions_before == {OLD: 2}
    assert later.started_at == stamp(0)


# --- properties over arbitrary fleets -------------------------------------------------------------


@st.composite
def situations(draw: st.DrawFn) -> tuple[Fleet, Policy]:
    count = draw(st.integers(min_value=0, max_value=10))
    members = [
        instance(
            f"i-{n:04d}",
            draw(st.sampled_from([None, "1.0.1", "1.0.2", "1.0.3"])),
            lifecycle=draw(st.sampled_from(["InService", "InService", "InService", "Pending", "Terminating"])),
            health=draw(st.sampled_from(["Healthy", "Healthy", "Unhealthy"])),
            az=draw(st.sampled_from(["us-east-1a", "us-east-1b", "us-east-1c"])),
        )
        for n in range(count)
    ]
    chosen = policy(
        target_version=draw(st.sampled_from([None, "1.0.1", "1.0.2", "1.0.3"])),
        min_healthy=draw(st.integers(min_value=0, max_value=4)),
        min_healthy_percent=draw(st.integers(min_value=0, max_value=100)),
        max_batch=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=4))),
        replace_unreadable=draw(st.booleans()),
        allow_downgrade=draw(st.booleans()),
    )
    seen = replace(
        fleet(*members, desired=draw(st.integers(min_value=0, max_value=10))),
        tag_min_healthy=draw(st.integers(min_value=0, max_value=4)),
        tag_min_healthy_percent=draw(st.integers(min_value=0, max_value=100)),
    )
    return seen, chosen


@settings(max_examples=300, deadline=None)
@given(situations())
def test_a_batch_never_takes_serving_below_the_floor(situation: tuple[Fleet, Policy]) -> None:
    seen, chosen = situation
    counted = [
        i
        for i in seen.instances
        if i.lifecycle == "InService" and i.health == "Healthy" and (i.version is not None or chosen.replace_unreadable)
    ]
    # The ASG's tags raise the floor; the input never lowers it below theirs.
    count_floor = max(chosen.min_healthy, seen.tag_min_healthy)
    percent_floor = max(chosen.min_healthy_percent, seen.tag_min_healthy_percent)
    floor = max(count_floor, math.ceil(percent_floor * seen.desired / 100))
    try:
        progress = decide(seen, Progress(), chosen, T0)
    except FloorBlocksReleaseError:
        assert len(counted) >= seen.desired and len(counted) <= floor
        return
    except DowngradeRefusedError:
        served = Counter(i.version for i in counted if i.version is not None)
        most = max(served.values())
        prevailing = max((v for v, n in served.items() if n == most), key=parse)
        assert not chosen.allow_downgrade and chosen.target_version is not None
        assert parse(chosen.target_version) < parse(prevailing)
        return
    decision = progress.decision
    assert decision is not None
    if decision.action != "terminate":
        assert decision.batch == ()
        return
    by_id = {i.id: i for i in seen.instances}
    assert 1 <= len(decision.batch) <= len(counted) - floor
    if chosen.max_batch is not None:
        assert len(decision.batch) <= chosen.max_batch
    assert len(set(decision.batch)) == len(decision.batch)
    for chosen_id in decision.batch:
        victim = by_id[chosen_id]
        assert victim in counted
        assert not victim.serves(progress.target_version or "")
