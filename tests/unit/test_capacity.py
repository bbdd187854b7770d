"""Issue #6 item 1: how much a release surges, and what LockAsg does with a surge already recorded."""

from __future__ import annotations

import pytest

from tasks.domain.capacity import SurgePlan, Wave, plan_surge, plan_wave, surge_size, to_give_back, unlisted
from tasks.domain.lease import Surge
from tasks.errors import InvalidStepInputError


@pytest.mark.parametrize(
    ("max_surge", "desired", "max_size", "added"),
    [
        (0, 4, 8, 0),
        (1, 1, 2, 1),
        (3, 4, 5, 1),  # never beyond max size
        ("25%", 4, 8, 1),
        ("25%", 5, 8, 2),  # rounded up
        ("100%", 3, 10, 3),
        ("50%", 4, 4, 0),  # at max size: no room
        ("0%", 4, 8, 0),
    ],
)
def test_a_surge_is_a_count_or_a_percentage_within_max_size(
    max_surge: int | str, desired: int, max_size: int, added: int
) -> None:
    assert surge_size(max_surge, desired, max_size) == added


def test_a_malformed_percentage_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidStepInputError, match="max_surge: 'lots'"):
        surge_size("lots", 4, 8)


def test_a_fresh_release_surges_and_records_the_original() -> None:
    assert plan_surge(1, 1, 2, None) == SurgePlan(2, 1, "surge: desired 1 -> 2")


def test_without_surge_nothing_changes() -> None:
    assert plan_surge(0, 3, 6, None) == SurgePlan(None, None, "no surge")


def test_a_retry_or_the_chains_next_execution_keeps_its_own_surge() -> None:
    assert plan_surge(1, 2, 4, Surge(1, 2)) == SurgePlan(None, 1, "surge kept: desired 2, 1 before it")


def test_the_surplus_given_back_is_what_serves_nothing_then_the_newest() -> None:
    from tests.unit.builders import instance

    old = instance("i-old", "1.0.1")
    sick = instance("i-sick", "1.0.2", health="Unhealthy")
    booting = instance("i-boot", None, lifecycle="Pending")
    new = instance("i-new", "1.0.2")
    newer = instance("i-newer", "1.0.2")
    warm = instance("i-warm", None, lifecycle="Warmed:Stopped")
    fleet = [old, sick, booting, new, newer, warm]  # oldest launched first, as a fleet lists them
    assert to_give_back(fleet, 3) == ["i-boot", "i-sick", "i-newer"]  # serving nothing, newest first
    assert to_give_back(fleet, 0) == [] and to_give_back(fleet, -1) == []
    assert "i-warm" not in to_give_back(fleet, 10)  # the warm pool is not the group's capacity


def test_with_versions_read_a_healthy_instance_that_serves_nothing_goes_before_a_serving_one() -> None:
    from tests.unit.builders import instance

    broken = instance("i-broken", None)  # InService, Healthy, HTTP 503: a boot that never served
    old, new = instance("i-old", "1.0.1"), instance("i-new", "1.0.2")
    assert to_give_back([broken, old, new], 1) == ["i-broken"]
    assert to_give_back([broken, old, new], 2) == ["i-broken", "i-new"]
    unread = [instance(i, None, reason=None) for i in ("i-a", "i-b")]  # versions not read: newest first
    assert to_give_back(unread, 1) == ["i-b"]


# Issue 14 item 1: the surge replaces, it does not add.
def test_a_terminating_instance_is_never_given_back_again() -> None:
    from tests.unit.builders import instance

    going = instance("i-going", "1.0.2", lifecycle="Terminating:Wait")
    new = instance("i-new", "1.0.2")
    assert to_give_back([new, going], 2) == ["i-new"]


# Simulation finding "standby given back" (seed 7064): a Standby instance terminated with a decrement
# lowers desired capacity without leaving it, and Auto Scaling scales in a serving instance.
def test_only_what_desired_capacity_counts_is_given_back() -> None:
    from tests.unit.builders import instance

    old = instance("i-old", "1.0.1")
    standby = instance("i-standby", "1.0.1", lifecycle="Standby")
    entering = instance("i-entering", "1.0.1", lifecycle="EnteringStandby")
    detaching = instance("i-detaching", "1.0.1", lifecycle="Detaching")
    hooked = instance("i-hooked", None, lifecycle="Pending:Wait")
    fleet = [old, standby, entering, detaching, hooked]
    assert to_give_back(fleet, 2) == ["i-hooked", "i-old"]
    assert to_give_back(fleet, 5) == ["i-hooked", "i-old"]


@pytest.mark.parametrize(
    ("surge", "desired", "holds"),
    [
        (Surge(4, 8), 8, True),
        (Surge(4, 8), 7, False),  # someone else changed it
        (Surge(4, 5, size=4, was=8), 5, True),  # a wave that lowered it: any capacity between is ours
        (Surge(4, 5, size=4, was=8), 7, True),
        (Surge(4, 5, size=4, was=8), 8, True),
        (Surge(4, 5, size=4, was=8), 9, False),
        (Surge(4, 5, size=4, was=8), 4, False),
    ],
)
def test_a_surge_holds_while_desired_capacity_is_where_the_release_put_it(
    surge: Surge, desired: int, holds: bool
) -> None:
    assert surge.holds(desired) is holds


def test_a_surge_remembers_its_full_size_once_it_has_shrunk() -> None:
    assert Surge(4, 8).full == 4
    assert Surge(4, 5, size=4).full == 4


def test_without_a_surge_a_wave_changes_nothing() -> None:
    assert plan_wave(["i-1", "i-2"], 0, None, 4) == Wave()


def test_blue_green_the_surge_pays_for_the_whole_last_batch() -> None:
    wave = plan_wave(["i-1", "i-2", "i-3", "i-4"], 0, Surge(4, 8), 8)
    assert wave.decrement == ("i-1", "i-2", "i-3", "i-4")
    assert wave.moving == Surge(4, 4, size=4, was=8)  # recorded before: desired may be anywhere between
    assert wave.settled == Surge(4, 4, size=4)  # recorded after: nothing left for UnlockAsg
    assert wave.note == "surge pays for 4 of the batch: desired 8 -> 4"


def test_a_decrement_that_did_not_happen_leaves_its_share_of_the_surge_to_give_back() -> None:
    # Found by the simulation (seed 8761): the one outdated instance went unhealthy and Auto Scaling
    # took it before Terminate's call, so desired capacity stayed surged; recording the planned 3
    # left UnlockAsg taking desired 4 for someone else's and the surge in place.
    wave = plan_wave(["i-1"], 0, Surge(3, 4), 4)
    assert wave.settled == Surge(3, 3, size=1)
    assert wave.settled_after(1) == wave.settled
    assert wave.settled_after(0) == Surge(3, 4)  # all of the surge still the release's
    blue_green = plan_wave(["i-1", "i-2", "i-3", "i-4"], 0, Surge(4, 8), 8)
    assert blue_green.settled_after(3) == Surge(4, 5, size=4)
    assert blue_green.settled_after(9) == blue_green.settled  # never past the plan
    assert Wave().settled_after(0) is None


def test_while_outdated_instances_remain_the_surge_is_kept_for_the_next_wave() -> None:
    # A surge of 1 at a floor of every instance: each batch of 1 leaves outdated ones, which the
    # surge boots beside: the termination launches a replacement, as a decrement and a raise would.
    wave = plan_wave(["i-1"], 3, Surge(4, 5), 5)
    assert wave.decrement == () and wave.moving is None
    assert wave.settled == Surge(4, 5)
    assert wave.note == "surge kept at 1: desired 5"


def test_the_surge_shrinks_to_what_the_outdated_instances_left_can_use() -> None:
    # Surge 4, floor 1: 3 of 4 go while the surge still boots; 1 outdated left keeps 1 of the surge.
    wave = plan_wave(["i-1", "i-2", "i-3"], 1, Surge(4, 8), 8)
    assert wave.decrement == ("i-1", "i-2", "i-3")
    assert wave.settled == Surge(4, 5, size=4)
    # A surge larger than the batch: one at a time, each paid for.
    wave = plan_wave(["i-1"], 3, Surge(4, 8), 8)
    assert wave.decrement == ("i-1",) and wave.settled == Surge(4, 7, size=4)
    # Part of a batch paid for, the rest replaced (the last of the batch are the ones paid for): a
    # surge of 2 and 1 outdated instance left after the batch keep 1 of the surge.
    wave = plan_wave(["i-1", "i-2", "i-3"], 1, Surge(4, 6), 6)
    assert wave.decrement == ("i-3",) and wave.settled == Surge(4, 5, size=2)


def test_a_retried_wave_pays_only_for_what_is_left_to_pay() -> None:
    # The first attempt recorded the wave (8 -> 4), terminated 2 with a decrement, then failed.
    wave = plan_wave(["i-3", "i-4"], 0, Surge(4, 4, size=4, was=8), 6)
    assert wave.decrement == ("i-3", "i-4")
    assert wave.settled == Surge(4, 4, size=4)


def test_a_surge_someone_else_changed_is_theirs() -> None:
    wave = plan_wave(["i-1"], 0, Surge(4, 8), 10)
    assert wave == Wave(note="surge left as it is: desired 10 is no longer the release's 8")


def test_a_batch_decided_without_the_count_keeps_the_whole_surge() -> None:
    wave = plan_wave(["i-1"], None, Surge(4, 8), 8)
    assert wave.decrement == () and wave.settled == Surge(4, 8)


def test_a_lock_retried_after_recording_its_surge_raises_desired_capacity_as_recorded() -> None:
    assert plan_surge(1, 2, 4, Surge(2, 3)) == SurgePlan(3, 2, "surge: desired 2 -> 3 (recorded before)")


def test_the_surge_never_pays_below_the_groups_min_size() -> None:
    # Someone raised MinSize to 6 during the release: only 2 of the batch can lower desired capacity.
    wave = plan_wave(["i-1", "i-2", "i-3", "i-4"], 0, Surge(4, 8), 8, min_size=6)
    assert wave.decrement == ("i-3", "i-4") and wave.settled == Surge(4, 6, size=4)


def test_a_standby_instance_is_never_terminated_with_a_decrement() -> None:
    # Found by the simulation (seed 12083): desired 1 surged to 2, the batch a Standby instance on
    # the old build. Its termination paid for by the surge lowered desired capacity to 1 without
    # leaving it (Standby is not counted), and Auto Scaling scaled in the one serving instance.
    wave = plan_wave(["i-standby"], 0, Surge(1, 2), 2, counted=set())
    assert wave.decrement == () and wave.settled == Surge(1, 2)  # the surge stays, given back later
    # In a mixed batch only those desired capacity counts are paid for.
    wave = plan_wave(["i-standby", "i-1", "i-2"], 0, Surge(4, 8), 8, counted={"i-1", "i-2"})
    assert wave.decrement == ("i-1", "i-2") and wave.settled == Surge(4, 6, size=4)


def test_unlisted_capacity_is_what_no_listed_instance_desired_capacity_counts_stands_for() -> None:
    from tests.unit.builders import instance

    listed = [instance("i-1", "1.0.1"), instance("i-2", lifecycle="Standby"), instance("i-3", lifecycle="Terminating")]
    assert unlisted(3, listed) == 2  # only i-1 counts
    assert unlisted(1, listed) == 0
    assert unlisted(0, []) == 0
