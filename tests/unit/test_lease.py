"""The lease's rules (tasks/domain/lease.py): who may take it, what a held ASG does to a start, how long
it lasts, and what letting an ASG go gives back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.domain import lease
from tasks.domain.lease import NEW, OURS, SWAP, Lease, Surge
from tasks.errors import AsgLockedError, AsgSkippedError
from tests.unit.builders import instance, settings

ME = "arn:aws:states:us-east-1:123456789012:execution:release:me"
OTHER = "arn:aws:states:us-east-1:123456789012:execution:release:other"
NOW = 1_800_000_000.0


def held_by(holder: str, expires_in: float = 3600, **changes: object) -> Lease:
    return Lease("web", holder, NOW + expires_in, 3600, **changes)  # type: ignore[arg-type]


def test_a_free_asg_is_taken_with_a_new_item() -> None:
    assert lease.how_to_take("web", ME, None, holder_running=False, now=NOW).how == NEW


def test_our_own_lease_is_ours_again_a_retry_or_a_handover() -> None:
    mine = held_by(ME)
    assert lease.how_to_take("web", ME, mine, holder_running=True, now=NOW) == lease.Take(OURS, mine)


def test_a_lease_whose_holder_ended_or_expired_is_swapped_conditioned_on_that_holder() -> None:
    ended = held_by(OTHER)
    assert lease.how_to_take("web", ME, ended, holder_running=False, now=NOW) == lease.Take(SWAP, ended)
    expired = held_by(OTHER, expires_in=-1)
    assert lease.how_to_take("web", ME, expired, holder_running=True, now=NOW) == lease.Take(SWAP, expired)


def test_a_running_holder_keeps_the_asg_and_is_named() -> None:
    with pytest.raises(AsgLockedError, match=f"web: being released by {OTHER} \\(1.0.274\\); nothing was terminated"):
        lease.how_to_take("web", ME, held_by(OTHER, target_version="1.0.274"), holder_running=True, now=NOW)


@pytest.mark.parametrize(
    ("when_held", "mine", "theirs", "skipped"),
    [
        ("skip", None, "1.0.274", True),  # a sweep skips whatever is being released
        ("skip", None, None, True),
        ("skip_same_target", "1.0.274", "1.0.274", True),  # an upload of the version being released
        ("skip_same_target", "1.0.275", "1.0.274", False),  # a newer upload: that release is refused
        ("skip_same_target", "1.0.274", None, False),  # the holder's target is not known to be the same
        ("fail", "1.0.274", "1.0.274", False),  # the console: the operator asked for this ASG
    ],
)
def test_a_start_that_meets_a_held_asg_skips_it_only_when_it_should(
    when_held: str, mine: str | None, theirs: str | None, skipped: bool
) -> None:
    current = held_by(OTHER, target_version=theirs)
    expected = AsgSkippedError if skipped else AsgLockedError
    with pytest.raises(expected, match=OTHER):
        lease.how_to_take("web", ME, current, holder_running=True, now=NOW, when_held=when_held, target_version=mine)


def test_the_term_outlasts_every_wait_between_two_renewals() -> None:
    quick = lease.term_seconds(settings(replacement_timeout_seconds=60, poll_seconds=1))
    assert quick == 2 * 60 + 2 * 1 + lease.LONGEST_DRAIN_SECONDS + lease.MARGIN_SECONDS
    approving = settings(replacement_timeout_seconds=60, poll_seconds=1, checkpoints=[1], bake_seconds=300)
    assert lease.term_seconds(approving) == quick + 300
    assert lease.term_seconds({**approving, "approve_checkpoints": True}) == quick + 300 + lease.APPROVAL_WAIT_SECONDS
    assert lease.term_seconds({**approving, "checkpoints": []}) == quick  # no checkpoint: no bake
    windowed = settings(replacement_timeout_seconds=60, poll_seconds=1, healthy_for_seconds=30)
    assert lease.term_seconds(windowed) == quick + 30
    # The input schema's defaults (what contracts.settings fills in): 900 s and 15 s.
    assert lease.term_seconds(settings()) == 2 * 900 + 2 * 15 + lease.LONGEST_DRAIN_SECONDS + lease.MARGIN_SECONDS


def test_a_swap_keeps_the_ended_releases_changes_marked_for_repair() -> None:
    left = held_by(OTHER, surge=Surge(3, 5), suspended=("AZRebalance",), drained=("i-1",), drained_from=("tg",))
    taken = lease.swapped(left, ME, NOW, 600, "1.0.274")
    assert (taken.holder, taken.expires_at, taken.target_version) == (ME, NOW + 600, "1.0.274")
    assert (taken.surge, taken.suspended, taken.drained, taken.repair) == (
        Surge(3, 5),
        ("AZRebalance",),
        ("i-1",),
        True,
    )
    assert lease.swapped(held_by(OTHER), ME, NOW, 600, None).repair is False  # nothing to undo


def test_capacity_goes_back_only_while_it_is_still_the_surged_one() -> None:
    fleet = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-b"), instance("i-c"), instance("i-d")]
    surged = held_by(ME, surge=Surge(3, 5))
    plan = lease.give_back(surged, 5, fleet)
    assert plan.terminate == ("i-d", "i-c") and plan.set_desired == 3 and plan.notes == ()

    scaled = lease.give_back(surged, 7, fleet)  # a scaling policy raised it meanwhile: its number stands
    assert scaled.terminate == () and scaled.set_desired is None
    assert scaled.notes == (
        "desired capacity left at 7: it is no longer the 5 the release surged it to (changed by someone else "
        "since); it was 3 before the surge",
    )
    assert lease.give_back(surged, 3, fleet).notes == ()  # already back where it was: nothing to say


def test_drained_instances_still_in_the_group_are_registered_again_and_suspended_ones_resumed() -> None:
    fleet = [instance("i-1"), instance("i-3", lifecycle="Terminating")]
    left = held_by(
        ME, suspended=("AZRebalance", "ScheduledActions"), drained=("i-1", "i-2", "i-3"), drained_from=("tg",)
    )
    plan = lease.give_back(left, 2, fleet)
    assert plan.register == ("i-1",) and plan.target_groups == ("tg",)  # i-2 is gone, i-3 is going
    assert plan.resume == ("AZRebalance", "ScheduledActions") and plan.set_desired is None
    assert plan.notes == ("not registered again: i-2 (no longer in the group), i-3 (Terminating)",)


def test_every_drained_instance_still_in_service_goes_back_and_nothing_is_said() -> None:
    fleet = [instance("i-1"), instance("i-2")]
    assert lease.to_register(("i-1", "i-2"), fleet) == (("i-1", "i-2"), None)
    assert lease.to_register(("i-1", "i-2"), fleet, terminating=("i-2",)) == (("i-1",), None)  # i-2 goes
    assert lease.to_register((), fleet) == ((), None)


def test_a_give_back_keeps_an_instance_the_release_drained_and_registers_it_again() -> None:
    """The drained instance is out of its target group because the release took it out: read with
    its versions, the give-back still counts it as serving and terminates the surge's own instance
    (stop 22's CI: the drained one went, and registering it again failed on a terminated target)."""
    fleet = [
        replace(instance("i-old", "1.0.273"), lb="healthy"),
        replace(instance("i-drained", "1.0.273"), lb="unused"),
        replace(instance("i-surge"), lb="healthy"),
    ]
    left = held_by(ME, surge=Surge(2, 3), drained=("i-drained",), drained_from=("tg",))
    plan = lease.give_back(left, 3, fleet)
    assert plan.terminate == ("i-surge",) and plan.register == ("i-drained",)

    sick = [fleet[0], replace(fleet[1], health="Unhealthy"), fleet[2]]
    plan = lease.give_back(left, 3, sick)
    assert plan.terminate == ("i-drained",) and plan.register == ()  # what goes is not registered again


def test_only_processes_nobody_suspended_already_are_suspended() -> None:
    wanted = ["AZRebalance", "ScheduledActions", "InstanceRefresh"]
    assert lease.to_suspend(wanted, ["ScheduledActions"]) == ("AZRebalance", "InstanceRefresh")
    assert lease.to_suspend([], ["ScheduledActions"]) == ()


def test_a_fresh_lease_and_a_lost_one_say_who_holds_it() -> None:
    taken = lease.fresh("web", ME, NOW, 600, None)
    assert (taken.holder, taken.expires_at, taken.changed_anything) == (ME, NOW + 600, False)
    assert not taken.expired(NOW + 599) and taken.expired(NOW + 600)
    assert str(lease.lost("web", ME, OTHER, "terminating i-1")) == (
        f"web: the lease is held by {OTHER} now, not by {ME}; terminating i-1 was not done"
    )
    assert "held by no release now" in str(lease.lost("web", ME, None, "draining the batch"))


def test_the_capacity_given_back_is_what_desired_is_set_to() -> None:
    plan = lease.give_back(held_by(ME, surge=Surge(2, 3)), 3, [instance("i-a"), instance("i-b"), instance("i-c")])
    assert plan.restored_capacity == plan.set_desired == 2 and plan.terminate == ("i-c",)


def test_within_a_recorded_range_only_what_is_surely_surge_goes_by_a_decrement() -> None:
    """A give-back termination recorded (4 -> 3, ``was`` 4) whose answer was lost: desired may stand at
    either, and a lagging read may say 4 when it is 3. One decrement at most (the low end, 3, less
    the original 2); SetDesiredCapacity gives the rest back, never below the original."""
    fleet = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-b"), instance("i-c")]
    plan = lease.give_back(held_by(ME, surge=Surge(2, 3, was=4)), 4, fleet)
    assert plan.terminate == ("i-c",) and plan.set_desired == 2


def test_within_a_recorded_range_an_instance_that_serves_nothing_goes_by_a_decrement_too() -> None:
    """Found by the simulation (seed 7064 with the order of its draws changed): the give-back's first
    attempt recorded 4 -> 3, its termination was throttled, and the retry set desired capacity to 3:
    Auto Scaling scaled in the oldest instance, a serving one, rather than the broken boot. Within
    the range, instances that serve nothing go by a decrement; SetDesiredCapacity the rest."""
    fleet = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-broken-1", None), instance("i-broken-2", None)]
    plan = lease.give_back(held_by(ME, surge=Surge(3, 3, was=4)), 4, fleet)
    assert plan.terminate == ("i-broken-2",) and plan.set_desired == 3
    # The low end's decrement, then one more within the range, both for broken boots.
    plan = lease.give_back(held_by(ME, surge=Surge(2, 3, was=4)), 4, fleet)
    assert plan.terminate == ("i-broken-2", "i-broken-1") and plan.set_desired == 2
    # None that serves nothing within the range: SetDesiredCapacity for it, as before.
    serving = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-b"), instance("i-c")]
    plan = lease.give_back(held_by(ME, surge=Surge(3, 3, was=4)), 4, serving)
    assert plan.terminate == () and plan.set_desired == 3


def test_capacity_the_read_lists_no_instance_for_never_takes_a_listed_one_by_a_decrement() -> None:
    """Found by the simulation (seed 18406): desired 1 surged to 2, the surge's launch not listed by
    the read yet. A decrement for it took the one serving instance; the capacity a read lists no
    instance for goes back by SetDesiredCapacity (ownership reads again first while it lags)."""
    fleet = [instance("i-going", lifecycle="Terminating"), instance("i-serving", "1.0.273")]
    plan = lease.give_back(held_by(ME, surge=Surge(1, 2)), 2, fleet)
    assert plan.terminate == () and plan.set_desired == 1
    # Listed in part: a decrement for what is listed beyond the original only.
    fleet = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-b")]
    plan = lease.give_back(held_by(ME, surge=Surge(1, 4)), 4, fleet)
    assert plan.terminate == ("i-b", "i-a") and plan.set_desired == 1


def test_a_lock_suspends_what_nobody_suspended_and_surges_as_capacity_plans_it() -> None:
    plan = lease.plan_lock(held_by(ME), ["AZRebalance", "ScheduledActions"], ["ScheduledActions"], 2, 3, 6)
    assert plan.suspend == ("AZRebalance",) and plan.suspended == ("AZRebalance",)
    assert (plan.surge.set_to, plan.surge.original) == (5, 3)
    assert plan.line == "suspended AZRebalance; surge: desired 3 -> 5"


def test_a_retried_lock_keeps_what_its_lease_records_and_changes_nothing_twice() -> None:
    taken = held_by(ME, suspended=("AZRebalance",), surge=Surge(3, 5))
    plan = lease.plan_lock(taken, ["AZRebalance"], ["AZRebalance"], 2, 5, 6)
    assert plan.suspend == () and plan.suspended == ("AZRebalance",)  # suspended by this release, before
    assert plan.surge.set_to is None and plan.line == "suspended AZRebalance; surge kept: desired 5, 3 before it"
    assert lease.plan_lock(held_by(ME), [], [], 0, 3, 6).line == "no process suspended; no surge"


def test_a_read_that_still_disagrees_after_waiting_says_how_long_it_was_read_again() -> None:
    surged = held_by(ME, surge=Surge(3, 5))
    assert lease.give_back(surged, 7, [], waited=30).notes[-1] == "read again for 30 s in case the read lagged"
    assert lease.give_back(surged, 5, [instance("i-a")] * 5, waited=30).notes == ()  # it agreed in the end
    assert lease.give_back(held_by(ME), 7, [], waited=30).notes == ()  # no surge to wait for


def test_a_give_back_done_clears_what_the_lease_recorded() -> None:
    taken = held_by(ME, surge=Surge(3, 5), suspended=("AZRebalance",), drained=("i-1",), repair=True)
    assert lease.undone(taken) == lease.Record(
        clear_surge=True, resumed=("AZRebalance",), undrained=("i-1",), repaired=True
    )
    assert lease.undone(held_by(ME)) == lease.Record()


def test_letting_go_says_what_it_did() -> None:
    assert lease.LetGo(True, 3, ("a note",)).line == "unlocked, desired capacity given back to 3; a note"
    assert lease.LetGo(False, None, ()).line == "lease not held by this release"


def test_each_give_back_termination_records_where_it_takes_desired_capacity_first() -> None:
    fleet = [instance("i-old", "1.0.273"), instance("i-a"), instance("i-b"), instance("i-c"), instance("i-d")]
    plan = lease.give_back(held_by(ME, surge=Surge(3, 5)), 5, fleet)
    assert plan.terminate == ("i-d", "i-c")
    assert plan.surges == (Surge(3, 4, was=5), Surge(3, 3, was=4)) and plan.surge_before_set == Surge(3, 3)
    ranged = lease.give_back(held_by(ME, surge=Surge(2, 3, was=4)), 4, fleet[:4])
    assert ranged.surges == (Surge(2, 3, was=4),) and ranged.surge_before_set == Surge(2, 3)
    scaled = lease.give_back(held_by(ME, surge=Surge(3, 5)), 7, fleet)  # not the release's number: nothing
    assert scaled.surges == () and scaled.surge_before_set is None
