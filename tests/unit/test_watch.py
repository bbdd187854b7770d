"""Watching instances boot (tasks/domain/watch.py), and what a wait watches (decide.booting)."""

from __future__ import annotations

from dataclasses import replace

from tasks.domain import history_budget, watch
from tasks.domain.decide import WATCHED, booting, cost, decide
from tasks.domain.fleet import Action, Decision, Progress
from tests.unit.builders import OLD, TARGET, at, decision_of, fleet, instance, policy


def test_a_watch_lasts_a_poll_within_what_the_task_timeout_leaves() -> None:
    assert watch.seconds(15, 2, spent=1.0) == 15.0
    # 60 s of timeout, 10 kept, two probes of 20 s: 10 s left, 3 of them already spent.
    assert watch.seconds(15, 20, spent=3.0) == 7.0
    assert watch.seconds(15, 30, spent=0.5) == 0.0  # no room: no watch
    assert watch.seconds(1, 2, spent=0.2) == 1.0


def test_a_watch_leaves_room_for_the_read_after_it() -> None:
    """A check whose read took 20 s reads again for about as long once it sees the boot end: its
    watch, the read before and the read after fit in the Task's timeout, with the margin and the
    last probe (a read of 25 s leaves no room for a watch at all)."""
    assert watch.seconds(15, 2, spent=20.0, then_read=20.0) == 6.0  # 60 - 10 kept - 4 - 20 - 20
    assert watch.seconds(15, 2, spent=25.0, then_read=25.0) == 0.0
    for read in (0.5, 5.0, 12.0, 18.0, 23.0, 30.0):
        watched = watch.seconds(15, 2, spent=read, then_read=read)
        if watched:
            assert read + watched + read <= watch.TASK_TIMEOUT_SECONDS - watch.MARGIN_SECONDS


def test_after_a_watch_the_rest_of_the_poll_is_waited_rounded_down() -> None:
    assert watch.rest(15, 3.4) == 11
    assert watch.rest(1, 0.99) == 0
    assert watch.rest(15, 20) == 0  # the watch took the whole poll, and more


def test_a_watch_probes_every_twentieth_of_a_poll_and_never_more_often_than_every_200_ms() -> None:
    assert watch.every(15) == 0.75
    assert watch.every(1) == 0.2


def test_a_wait_for_a_booting_surge_watches_the_surge() -> None:
    seen = fleet(instance("i-a", OLD), instance("i-b", OLD), instance("i-s1", None), instance("i-s2", None))
    waiting = decide(seen, Progress(target_version=TARGET), policy(min_healthy=4), at(0))
    assert decision_of(waiting).action == Action.WAIT
    assert decision_of(waiting).watch == ("i-s1", "i-s2")
    # WatchBooting and the Wait after it, instead of WaitBeforeReread.
    assert waiting.events_spent == history_budget.READ + history_budget.WATCH


def test_a_wait_watches_only_instances_that_could_answer() -> None:
    seen = fleet(
        instance("i-a", OLD),
        instance("i-b", TARGET),
        instance("i-p", None, lifecycle="Pending"),  # not InService: Auto Scaling has not let it in
        instance("i-u", None, health="Unhealthy"),  # Auto Scaling's health, not its answer
        replace(instance("i-n", None), url=None, reason="no PrivateIpAddress for the version URL"),
        instance("i-w", None),
    )
    assert booting(seen) == ("i-w",)


def test_a_wait_with_nothing_booting_waits_a_poll() -> None:
    seen = fleet(instance("i-a", OLD), instance("i-b", TARGET), instance("i-c", TARGET, health="Unhealthy"))
    waiting = decide(seen, Progress(target_version=TARGET), policy(min_healthy=2), at(0))
    assert decision_of(waiting).action == Action.WAIT
    assert decision_of(waiting).watch == ()
    assert "watch" not in decision_of(waiting).to_record()  # left out, as the ASL's Choice expects
    assert waiting.events_spent == history_budget.READ + history_budget.REREAD


def test_a_dry_run_watches_nothing() -> None:
    seen = fleet(instance("i-a", OLD), instance("i-s1", None))
    planned = decide(seen, Progress(target_version=TARGET), policy(min_healthy=2, dry_run=True), at(0))
    assert decision_of(planned).watch == ()


def test_a_wait_watches_the_oldest_hundred_booting_at_most() -> None:
    many = [instance(f"i-{n:04d}", None) for n in range(WATCHED + 20)]
    assert booting(fleet(*many)) == tuple(f"i-{n:04d}" for n in range(WATCHED))


def test_a_read_costs_its_states_and_what_its_decision_runs_after_it() -> None:
    assert cost(None) == history_budget.READ
    assert cost(Decision(Action.TERMINATE, "m", ("i-a",))) == history_budget.READ
    assert cost(Decision(Action.WAIT, "m")) == history_budget.READ + history_budget.REREAD
    assert cost(Decision(Action.WAIT, "m", watch=("i-a",))) == history_budget.READ + history_budget.WATCH
    assert cost(Decision(Action.CHECKPOINT, "m")) == history_budget.READ + history_budget.CHECKPOINT
