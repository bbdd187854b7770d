"""A terminated batch and its replacements: when it is done, what is said while waiting, and the timeout."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from tasks.domain import history_budget, replacement
from tasks.domain.decide import decide
from tasks.domain.fleet import Decision, Fleet, Instance, Pending, Progress
from tasks.domain.replacement import begin_replacement
from tasks.errors import InvalidStepInputError, ReplacementTimeoutError
from tests.unit.builders import OLD, TARGET, at, decision_of, fleet, instance, policy, stamp

if TYPE_CHECKING:
    from datetime import datetime

    from tasks.domain.policy import Policy

BEFORE = (instance("i-a", OLD), instance("i-b", TARGET), instance("i-c", TARGET))


def terminated_a() -> Progress:
    """The ledger right after Terminate took i-a out of a 3-instance fleet at t=0."""
    chosen = decide(fleet(*BEFORE), Progress(target_version=TARGET), policy(), at(-5))
    assert decision_of(chosen).batch == ("i-a",)
    return begin_replacement(chosen, ["i-a"], at(0), poll_seconds=5)


KNOWN = tuple(i.id for i in BEFORE)  # the read the batch was chosen from: the others are newcomers


def check_replacement(
    seen: Fleet, progress: Progress, chosen: Policy, now: datetime, known: tuple[str, ...] = KNOWN
) -> Progress:
    return replacement.check_replacement(seen, progress, chosen, now, known)


def after(*instances: Instance, desired: int = 3) -> Fleet:
    return fleet(*instances, desired=desired)


def status(progress: Progress) -> str:
    assert progress.pending is not None, "the batch was declared replaced"
    return progress.pending.status


def test_begin_replacement_records_the_batch_and_clears_the_decision() -> None:
    progress = terminated_a()
    assert progress.decision is None
    assert progress.batches == (("i-a",),)
    assert progress.pending == Pending(
        instance_ids=("i-a",),
        fleet_key=None,  # the decision named no stored read (SelectBatch passes its key)
        since=stamp(0),
        status="terminated 1 of 1; waiting for replacements",
        wait_seconds=5,  # no replacement measured yet: the first check after poll_seconds
    )


def test_begin_replacement_appends_to_earlier_batches() -> None:
    earlier = Progress(
        target_version=TARGET,
        batches=(("i-x",),),
        decision=Decision("terminate", "m", ("i-a", "i-b"), "fleets/t/web/" + "0" * 32 + ".json"),
    )
    progress = begin_replacement(earlier, ["i-a"], at(0), poll_seconds=5)  # i-b was already gone
    assert progress.batches == (("i-x",), ("i-a",))
    assert progress.pending is not None
    assert progress.pending.instance_ids == ("i-a", "i-b")
    assert progress.pending.status == "terminated 1 of 2; waiting for replacements"


@pytest.mark.parametrize("decision", [None, Decision("wait", "waiting"), Decision("converged", "done")])
def test_begin_replacement_refuses_anything_but_a_terminate_decision(decision: Decision | None) -> None:
    with pytest.raises(InvalidStepInputError, match="not a terminate decision"):
        begin_replacement(Progress(target_version=TARGET, decision=decision), [], at(0), poll_seconds=5)


def test_done_when_the_batch_left_and_the_newcomer_serves_the_target() -> None:
    progress = check_replacement(after(BEFORE[1], BEFORE[2], instance("i-n", TARGET)), terminated_a(), policy(), at(60))
    assert progress.pending is None
    assert progress.batches == (("i-a",),)
    assert progress.target_version == TARGET


def test_an_instance_launched_into_the_warm_pool_is_no_replacement() -> None:
    refill = instance("i-w", None, lifecycle="Warmed:Pending", reason="in the warm pool")
    progress = check_replacement(
        after(BEFORE[1], BEFORE[2], instance("i-n", TARGET), refill), terminated_a(), policy(), at(60)
    )
    assert progress.pending is None


def test_a_newcomer_on_an_equal_version_spelling_counts() -> None:
    progress = check_replacement(
        after(BEFORE[1], BEFORE[2], instance("i-n", "1.0.274.0")), terminated_a(), policy(), at(60)
    )
    assert progress.pending is None


def test_not_done_while_the_batch_is_still_there() -> None:
    seen = after(instance("i-a", OLD, lifecycle="Terminating"), BEFORE[1], BEFORE[2], instance("i-n", TARGET))
    progress = check_replacement(seen, terminated_a(), policy(), at(30))
    assert status(progress) == "live_asg_web: 0 of 1 replacements not serving 1.0.274 after 30 s: i-a still Terminating"


def test_not_done_before_a_replacement_is_launched() -> None:
    progress = check_replacement(after(BEFORE[1], BEFORE[2]), terminated_a(), policy(), at(10))
    assert status(progress) == (
        "live_asg_web: 1 of 1 replacements not serving 1.0.274 after 10 s: "
        "1 not launched yet (InService+Healthy 2 of desired 3)"
    )


@pytest.mark.parametrize(
    ("newcomer", "why"),
    [
        (instance("i-n", TARGET, lifecycle="Pending"), "i-n Pending"),
        # held by a launch lifecycle hook: its version may already answer, it still does not count
        (instance("i-n", TARGET, lifecycle="Pending:Wait"), "i-n Pending:Wait"),
        (instance("i-n", TARGET, lifecycle="Pending:Proceed"), "i-n Pending:Proceed"),
        (instance("i-n", TARGET, health="Unhealthy"), "i-n Unhealthy"),
        (instance("i-n", None, reason="HTTP 503"), "i-n HTTP 503"),
        (instance("i-n", None, reason="connection refused"), "i-n connection refused"),
        (instance("i-n", None, reason=None), "i-n version not read"),
    ],
)
def test_not_done_while_the_newcomer_does_not_serve(newcomer: Instance, why: str) -> None:
    progress = check_replacement(after(BEFORE[1], BEFORE[2], newcomer), terminated_a(), policy(), at(45))
    assert status(progress) == f"live_asg_web: 1 of 1 replacements not serving 1.0.274 after 45 s: {why}"
    assert progress.pending is not None
    assert progress.pending.since == stamp(0)
    assert progress.pending.instance_ids == ("i-a",)


def test_a_newcomer_on_the_old_build_is_reported_with_the_version_it_serves() -> None:
    progress = check_replacement(after(BEFORE[1], BEFORE[2], instance("i-n", OLD)), terminated_a(), policy(), at(45))
    assert progress.pending is not None  # not done: this part holds
    assert "version not read" not in status(progress)
    assert OLD in status(progress)


def test_a_newcomer_on_the_old_build_is_not_done() -> None:
    progress = check_replacement(after(BEFORE[1], BEFORE[2], instance("i-n", OLD)), terminated_a(), policy(), at(45))
    assert progress.pending is not None


def test_not_done_while_in_service_healthy_is_below_desired() -> None:
    seen = after(BEFORE[1], instance("i-c", TARGET, health="Unhealthy"), instance("i-n", TARGET))
    progress = check_replacement(seen, terminated_a(), policy(), at(60))
    assert progress.pending is not None


def test_only_newcomers_must_serve_the_target() -> None:
    """An instance the decision already saw (here still booting) is not a replacement."""
    booting = instance("i-k", None, lifecycle="Pending", reason=None)
    chosen = decide(fleet(*BEFORE, booting, desired=3), Progress(target_version=TARGET), policy(), at(-5))
    assert decision_of(chosen).batch == ("i-a",)
    pending = begin_replacement(chosen, ["i-a"], at(0), poll_seconds=5)
    seen = after(BEFORE[1], BEFORE[2], booting, instance("i-n", TARGET))
    progress = check_replacement(seen, pending, policy(), at(60), known=(*KNOWN, "i-k"))
    assert progress.pending is None


def test_every_instance_not_serving_is_listed() -> None:
    before = [instance(f"i-o{n}", OLD) for n in range(2)] + [instance(f"i-t{n}", TARGET) for n in range(2)]
    chosen = decide(fleet(*before), Progress(target_version=TARGET), policy(min_healthy=2), at(-5))
    assert decision_of(chosen).batch == ("i-o0", "i-o1")
    pending = begin_replacement(chosen, ["i-o0", "i-o1"], at(0), poll_seconds=5)
    seen = fleet(
        before[2],
        before[3],
        instance("i-n1", None, reason="HTTP 503"),
        instance("i-n2", TARGET, lifecycle="Pending"),
        desired=4,
    )
    progress = check_replacement(seen, pending, policy(), at(120), known=tuple(i.id for i in before))
    assert status(progress) == (
        "live_asg_web: 2 of 2 replacements not serving 1.0.274 after 120 s: i-n1 HTTP 503, i-n2 Pending"
    )


def test_no_timeout_at_exactly_the_limit() -> None:
    newcomer = instance("i-0ae0", None, reason="HTTP 503")
    progress = check_replacement(after(BEFORE[1], BEFORE[2], newcomer), terminated_a(), policy(), at(900))
    assert progress.pending is not None


def test_replacement_timeout_names_the_asg_the_count_the_target_and_each_instance() -> None:
    newcomer = instance("i-0ae0", None, reason="HTTP 503")
    with pytest.raises(ReplacementTimeoutError) as raised:
        check_replacement(after(BEFORE[1], BEFORE[2], newcomer), terminated_a(), policy(), at(901))
    assert str(raised.value) == "live_asg_web: 1 of 1 replacements not serving 1.0.274 after 901 s: i-0ae0 HTTP 503"


def test_replacement_timeout_follows_the_policy() -> None:
    with pytest.raises(ReplacementTimeoutError, match=r"after 31 s: 1 not launched yet"):
        check_replacement(after(BEFORE[1], BEFORE[2]), terminated_a(), policy(replacement_timeout_seconds=30), at(31))


def test_a_late_success_is_still_a_success() -> None:
    """Done is judged before the clock: a batch replaced by the time of the read is not a timeout."""
    progress = check_replacement(
        after(BEFORE[1], BEFORE[2], instance("i-n", TARGET)), terminated_a(), policy(), at(5000)
    )
    assert progress.pending is None


def test_nothing_pending_is_returned_unchanged() -> None:
    idle = Progress(target_version=TARGET, batches=(("i-a",),))
    assert check_replacement(after(*BEFORE), idle, policy(), at(0)) == idle.spend(history_budget.POLL)


def test_a_long_list_of_unready_replacements_is_cut_to_the_first_ten() -> None:
    from tasks.domain.text import listed

    items = [f"i-{n:04d} HTTP 503" for n in range(2000)]
    text = listed(items, ", ")
    assert text.startswith("i-0000 HTTP 503, i-0001 HTTP 503") and text.endswith("i-0009 HTTP 503 and 1990 more")
    assert listed(items[:3], "; ") == "i-0000 HTTP 503; i-0001 HTTP 503; i-0002 HTTP 503"


# -- healthy_for_seconds: one passing read does not count ----------------------------------------


def test_a_replacement_counts_only_once_every_check_for_the_window_saw_it_serving() -> None:
    steady = policy(healthy_for_seconds=30)
    replaced = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))

    first = check_replacement(replaced, terminated_a(), steady, at(10))
    assert "i-d serving 1.0.274 for 0 s of healthy_for_seconds 30" in status(first)
    assert first.pending is not None and dict(first.pending.serving_since) == {"i-d": stamp(10)}
    still = check_replacement(replaced, first, steady, at(39))
    assert "i-d serving 1.0.274 for 29 s" in status(still)
    assert Progress.from_record(still.to_record()) == still  # the window travels in the ledger
    assert still.to_record()["pending"]["serving_since"] == {"i-d": stamp(10)}
    assert check_replacement(replaced, still, steady, at(40)).pending is None  # 30 s of passing checks


def test_a_check_that_misses_a_replacement_starts_its_window_again() -> None:
    steady = policy(healthy_for_seconds=30)
    serving = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))
    flapping = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None))

    seen = check_replacement(serving, terminated_a(), steady, at(10))
    missed = check_replacement(flapping, seen, steady, at(25))
    assert missed.pending is not None and missed.pending.serving_since == ()
    again = check_replacement(serving, missed, steady, at(41))  # 31 s after the first pass, but it missed one
    assert again.pending is not None and dict(again.pending.serving_since) == {"i-d": stamp(41)}
    assert check_replacement(serving, again, steady, at(71)).pending is None


def test_without_a_window_one_passing_check_is_enough_and_nothing_more_is_kept() -> None:
    replaced = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))
    assert check_replacement(replaced, terminated_a(), policy(), at(1)).pending is None
    booting = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None))
    waiting = check_replacement(booting, terminated_a(), policy(), at(1))
    assert waiting.pending is not None and waiting.pending.serving_since == ()
    assert "serving_since" not in (waiting.to_record()["pending"] or {})


def test_a_batch_the_surge_paid_for_expects_no_replacement() -> None:
    chosen = decide(fleet(*BEFORE), Progress(target_version=TARGET), policy(), at(-5))
    assert decision_of(chosen).outdated_after == 0  # i-a was the only outdated instance
    progress = begin_replacement(chosen, ["i-a"], at(0), poll_seconds=5, decremented=1)
    assert progress.pending is not None and progress.pending.expected == 0
    assert progress.pending.status == "terminated 1 of 1, 1 paid for by the surge; waiting for replacements"
    assert progress.surge_paid == 1
    # Desired capacity went down with it: the two left are the whole group, and nothing is awaited.
    done = check_replacement(after(BEFORE[1], BEFORE[2], desired=2), progress, policy(), at(1))
    assert done.pending is None and done.launched == ()


def test_a_partly_paid_batch_waits_for_the_rest_of_its_replacements() -> None:
    two = Decision("terminate", "m", ("i-a", "i-b"), outdated_after=0)
    progress = begin_replacement(
        Progress(target_version=TARGET, decision=two), ["i-a", "i-b"], at(0), poll_seconds=5, decremented=1
    )
    waiting = check_replacement(after(BEFORE[2], desired=2), progress, policy(), at(3))
    assert status(waiting).startswith("live_asg_web: 1 of 1 replacements not serving 1.0.274 after 3 s: 1 not launched")


# The first check of a batch's replacements comes a poll before the shortest replacement the release has
# measured ends.


def test_the_first_batch_is_first_checked_after_poll_seconds_and_a_waiting_check_after_poll_seconds() -> None:
    progress = terminated_a()
    assert progress.boot_seconds is None
    assert progress.pending is not None and progress.pending.wait_seconds == 5  # Terminate's poll_seconds
    booting = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None))
    waiting = check_replacement(booting, progress, policy(poll_seconds=7), at(5))
    assert waiting.pending is not None and waiting.pending.wait_seconds == 7
    assert waiting.boot_seconds is None  # nothing measured until the batch is seen done


def test_a_batch_seen_done_measures_its_replacement_and_the_next_batch_is_first_checked_after_it() -> None:
    replaced = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))
    done = check_replacement(replaced, terminated_a(), policy(), at(42.37))
    assert done.pending is None and done.boot_seconds == 42.4  # from the termination at t=0
    assert done.to_record()["boot_seconds"] == 42.4
    assert Progress.from_record(done.to_record()).boot_seconds == 42.4
    again = done.update(decision=Decision("terminate", "m", ("i-b",)))
    nxt = begin_replacement(again, ["i-b"], at(50), poll_seconds=5)
    # A poll (5 s) before the measured boot ends (rounded down), so that the first check watches it end.
    assert nxt.pending is not None and nxt.pending.wait_seconds == 37
    assert nxt.boot_seconds == 42.4
    assert nxt.carried().boot_seconds == 42.4  # a chain's next execution keeps it


def test_the_shortest_replacement_is_kept_so_one_slow_boot_does_not_delay_the_next_checks() -> None:
    replaced = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))
    fast = check_replacement(replaced, terminated_a().update(boot_seconds=30.0), policy(), at(90))
    assert fast.boot_seconds == 30.0
    slow = check_replacement(replaced, terminated_a().update(boot_seconds=95.0), policy(), at(20))
    assert slow.boot_seconds == 20.0


def test_a_batch_the_surge_paid_for_is_checked_at_once_and_measures_no_boot() -> None:
    chosen = decide(fleet(*BEFORE), Progress(target_version=TARGET, boot_seconds=40.0), policy(), at(-5))
    progress = begin_replacement(chosen, ["i-a"], at(0), poll_seconds=5, decremented=1)
    assert progress.pending is not None and progress.pending.wait_seconds == 0  # nothing launches
    done = check_replacement(after(BEFORE[1], BEFORE[2], desired=2), progress, policy(), at(3))
    assert done.pending is None and done.boot_seconds == 40.0  # three seconds measured no boot
    assert replacement.first_check_after(Progress(), 0, 5) == 0
    assert replacement.first_check_after(Progress(boot_seconds=0.4), 2, 5) == 0


# A check that is not done watches the replacements that only need to boot, for up to a poll.


def booting_after_a() -> tuple[Fleet, Progress]:
    """i-a terminated, its replacement i-d InService and Healthy but not serving yet, checked at t=2."""
    seen = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None))
    return seen, check_replacement(seen, terminated_a(), policy(), at(2))


def test_a_check_watches_a_replacement_that_only_needs_to_boot() -> None:
    seen, waiting = booting_after_a()
    assert replacement.to_watch(seen, waiting, policy(), KNOWN) == ("i-d",)


@pytest.mark.parametrize(
    ("seen", "why"),
    [
        (
            after(instance("i-a", OLD), instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None)),
            "lingers",
        ),
        (after(instance("i-b", TARGET), instance("i-c", TARGET), desired=3), "not launched"),
        (after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", OLD)), "booted another version"),
        (
            after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None, lifecycle="Pending")),
            "Pending",
        ),
        (
            after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", None, health="Unhealthy")),
            "unhealthy",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_no_watch_while_something_but_a_boot_holds_the_batch_back(seen: Fleet, why: str) -> None:
    waiting = check_replacement(seen, terminated_a(), policy(), at(2))
    assert waiting.pending is not None, why
    assert replacement.to_watch(seen, waiting, policy(), KNOWN) == (), why


def test_no_watch_when_a_stability_window_counts_the_checks() -> None:
    seen, _ = booting_after_a()
    windowed = policy(healthy_for_seconds=30)
    waiting = check_replacement(seen, terminated_a(), windowed, at(2))
    assert replacement.to_watch(seen, waiting, windowed, KNOWN) == ()


def test_no_watch_once_done_or_without_a_batch() -> None:
    replaced = after(instance("i-b", TARGET), instance("i-c", TARGET), instance("i-d", TARGET))
    done = check_replacement(replaced, terminated_a(), policy(), at(42))
    assert replacement.to_watch(replaced, done, policy(), KNOWN) == ()
    assert replacement.to_watch(replaced, Progress(target_version=TARGET), policy(), KNOWN) == ()


def test_after_a_watch_the_next_check_comes_when_the_rest_of_the_poll_has_passed() -> None:
    _, waiting = booting_after_a()
    assert replacement.after_watch(waiting, 3.4, 15).pending == replace(waiting.pending, wait_seconds=11)
    assert replacement.after_watch(waiting, 0.99, 1).pending == replace(waiting.pending, wait_seconds=0)
    assert replacement.after_watch(waiting, 20, 15).pending == replace(waiting.pending, wait_seconds=0)
    done = Progress(target_version=TARGET)
    assert replacement.after_watch(done, 3, 15) is done
