"""A release longer than one execution's history: the counted budget, the hand-over decision, and the
next execution's input (issue #7 item 5). The workflow test runs the chain on the real ASL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks import contracts
from tasks.domain import chain, history_budget
from tasks.domain.decide import decide
from tasks.domain.execution_input import settings_from_input
from tasks.domain.fleet import LAUNCHED_IDS, RECENT_IDS, Pending, Progress
from tasks.domain.lease import OURS, Lease, how_to_take
from tasks.domain.replacement import begin_replacement, check_replacement
from tasks.errors import AsgLockedError, InvalidExecutionInputError
from tests.unit.builders import (
    ASG,
    OLD,
    TARGET,
    at,
    decision_of,
    fleet,
    instance,
    outcome_progress,
    policy,
    settings,
    stamp,
)

PREVIOUS = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:web-1"
THIS = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:web-1-c2"
# Four instances, one outdated: the floor leaves room for a batch of one.
SEEN = fleet(instance("i-0a01", OLD), *(instance(f"i-0a0{n}", TARGET) for n in (2, 3, 4)))


def ledger(spent: int, budget: int | None = 1000) -> Progress:
    return Progress(target_version=TARGET, events_budget=budget, events_spent=spent)


# -- the counts -----------------------------------------------------------------------------------


def test_each_asg_gets_an_equal_share_of_what_the_execution_leaves() -> None:
    assert history_budget.per_asg(20000, 4) == (20000 - history_budget.EXECUTION) // 4


def test_a_batch_may_cost_every_check_until_its_timeout() -> None:
    # 900 s checked every 15 s: 60 checks, plus the first and the last one; then the decision on the
    # last check's read, and a wait.
    cost = history_budget.batch_cost(15, 900)
    assert cost == history_budget.TERMINATE + 62 * history_budget.POLL + history_budget.DECIDE + history_budget.WAIT


def test_a_budget_too_small_for_one_quick_batch_per_execution_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidExecutionInputError) as refused:
        history_budget.check_fits(200, 50, 15, 900)
    message = str(refused.value)
    assert "max_history_events 200 leaves 3 events for each of 50 ASGs" in message
    assert "raise max_history_events or release fewer ASGs at once" in message


def test_the_default_budget_takes_the_most_asgs_a_release_may_name() -> None:
    # 399 each: less than a batch that waits out 900 s checked every 15 s, so those branches hand
    # over after every batch; a release of 50 ASGs is never refused at the defaults.
    assert history_budget.check_fits(20000, 50, 15, 900) == (20000 - history_budget.EXECUTION) // 50
    assert history_budget.batch_cost(15, 900) > 399


@pytest.mark.parametrize(
    ("spent", "budget", "next_batch", "hand_over"),
    [
        (100, None, 10, False),  # no budget: a step called outside a release
        (history_budget.ASG_ONCE + history_budget.READ, 40, 100, False),  # the first read always goes on
        (500, 1000, 499, False),
        (500, 1000, 500, False),  # exactly full still fits
        (500, 1000, 501, True),
    ],
)
def test_a_branch_hands_over_only_when_the_next_batch_might_not_fit(
    spent: int, budget: int | None, next_batch: int, hand_over: bool
) -> None:
    assert history_budget.must_continue(spent, budget, next_batch) is hand_over


# -- the decision ---------------------------------------------------------------------------------


def test_each_step_of_the_loop_counts_what_it_writes() -> None:
    chosen = decide(SEEN, ledger(16), policy(max_batch=1), at(0))
    assert chosen.events_spent == 16 + history_budget.READ
    pending = begin_replacement(chosen, ["i-0a01"], at(1), poll_seconds=5)
    assert pending.events_spent == chosen.events_spent + history_budget.TERMINATE
    checked = check_replacement(SEEN, pending, policy(), at(2), [i.id for i in SEEN.instances])
    assert checked.events_spent == pending.events_spent + history_budget.POLL


def test_a_wait_also_counts_the_wait_before_the_next_read() -> None:
    booting = fleet(instance("i-0a01", OLD), instance("i-0a02", None, health="Unhealthy"), desired=2)
    waited = decide(booting, ledger(16), policy(), at(0))
    assert decision_of(waited).action == "wait"
    assert waited.events_spent == 16 + history_budget.READ + history_budget.WAIT


def test_a_branch_that_spent_its_share_continues_instead_of_terminating() -> None:
    next_batch = history_budget.batch_cost(15, 900)
    spent = 1000 - next_batch - history_budget.READ + 1
    handed_over = decide(SEEN, ledger(spent), policy(max_batch=1), at(0))
    decision = decision_of(handed_over)
    assert decision.action == "continue" and decision.batch == ()
    assert decision.message == (
        f"{ASG} => continuing as a new execution: {spent + history_budget.READ} of 1000 history events "
        f"spent, the next batch may need {next_batch}"
    )
    assert decision_of(decide(SEEN, ledger(spent - 1), policy(max_batch=1), at(0))).action == "terminate"


def test_a_converged_asg_never_continues_however_much_it_spent() -> None:
    done = fleet(instance("i-0a01", TARGET), instance("i-0a02", TARGET))
    assert decision_of(decide(done, ledger(999), policy(), at(0))).action == "converged"


def test_a_dry_run_plans_rather_than_continues() -> None:
    planned = decide(SEEN, ledger(999), policy(max_batch=1, dry_run=True), at(0))
    assert decision_of(planned).action == "terminate" and decision_of(planned).plan


# -- what the next execution starts from ----------------------------------------------------------


def test_the_carried_ledger_keeps_the_facts_and_counts_not_the_lists() -> None:
    worked = Progress(
        target_version=TARGET,
        versions_before={OLD: 4},
        batches=(("i-0a01",), ("i-0a02", "i-0a03")),
        started_at=stamp(0),
        waiting_since=stamp(5),
        pending=Pending(("i-0a09",), ("i-0a09",), stamp(1), "s"),
        earlier_batches=2,
        earlier_terminated=3,
        events_budget=500,
        events_spent=480,
    )
    carried = worked.carried()
    assert carried == Progress(
        target_version=TARGET,
        versions_before={OLD: 4},
        started_at=stamp(0),
        waiting_since=stamp(5),  # a stall is timed across executions
        earlier_batches=4,
        earlier_terminated=6,
    )
    assert (carried.batch_count, carried.terminated_count) == (4, 6)


def continuing(spent: int = 480) -> dict[str, Any]:
    progress = Progress(target_version=TARGET, versions_before={OLD: 4}, batches=(("i-0a01",),), started_at=stamp(0))
    progress = progress.update(events_budget=500, events_spent=spent)
    return {
        "asg_name": ASG,
        "status": "CONTINUE",
        "progress": outcome_progress(progress.to_record(), "CONTINUE"),
        "release_id": PREVIOUS,
    }


def finished_report() -> dict[str, Any]:
    return {
        "asg_name": "live_asg_api",
        "status": "CONVERGED",
        "target_version": TARGET,
        "versions_before": {TARGET: 1},
        "versions_after": {TARGET: 1},
        "batches": [],
        "batch_count": 0,
        "terminated_count": 0,
        "duration_seconds": 1.0,
    }


def test_the_first_hand_over_starts_link_two_with_the_ASGs_still_releasing() -> None:
    output = chain.continue_as_new([continuing()], [finished_report()], settings(), PREVIOUS, "web-1", None)

    assert output["status"] == "CONTINUING" and "asgs" not in output
    assert output["next"]["name"] == "web-1-c2"
    given = output["next"]["input"]
    assert given["asg_names"] == [ASG]
    assert given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"] == PREVIOUS
    assert given["continuation"]["origin"] == "web-1" and given["continuation"]["index"] == 2
    assert given["continuation"]["asgs"][0]["progress"]["earlier_batches"] == 1
    assert given["continuation"]["finished"] == [finished_report()]
    assert {k: given[k] for k in settings()} == settings()
    assert contracts.problems("summarize.output", output) == []
    assert contracts.problems("validate_input.input", given) == []


def test_the_next_execution_goes_on_from_the_replacements_launched_the_surge_paid_and_the_boot_measured() -> None:
    """A continuing ASG's outcome (as the ASL's AsgContinues builds it) carries what a checkpoint's
    canary is chosen among, the surge's count and the shortest replacement measured into the next
    execution's input, and the next execution's branch starts from them."""
    launched = tuple(f"i-0b{n:02d}" for n in range(LAUNCHED_IDS))
    progress = Progress(target_version=TARGET, versions_before={OLD: 4}, batches=(("i-0a01",),), started_at=stamp(0))
    progress = progress.update(events_budget=500, events_spent=480, launched=launched, surge_paid=2, boot_seconds=41.5)
    outcome = {**continuing(), "progress": outcome_progress(progress.to_record(), "CONTINUE")}

    output = chain.continue_as_new([outcome], [], settings(), PREVIOUS, "web-1", None)

    given = output["next"]["input"]
    assert contracts.problems("validate_input.input", given) == []
    release = settings_from_input(given, contracts.defaults("validate_input.input"))
    assert contracts.problems("validate_input.output", release) == []
    (branch,) = release["asgs"]
    carried = Progress.from_record(branch["progress"])
    assert (carried.launched, carried.surge_paid, carried.boot_seconds) == (launched, 2, 41.5)


def test_fifty_continuing_asgs_each_naming_its_launched_replacements_stay_under_the_payload_limit() -> None:
    """The most a hand-over carries: 50 ASGs (the most a release names), each with its recent batch
    ids and LAUNCHED_IDS replacements. Summarize's input (the Map's output) and the next execution's
    input stay under Step Functions' 256 KiB (docs/performance.md gives the figure)."""
    ids = [f"i-{0x0A000000000000000 + n:017x}" for n in range(RECENT_IDS + LAUNCHED_IDS)]  # EC2's 17 hex digits
    progress = Progress(
        target_version=TARGET,
        versions_before={OLD: 9990, "1.0.272": 10},
        batches=(tuple(ids[:RECENT_IDS]),),
        started_at=stamp(0),
        earlier_batches=99,
        earlier_terminated=9980,
        events_budget=399,
        events_spent=380,
        release_id=PREVIOUS,
        launched=tuple(ids[RECENT_IDS:]),
        surge_paid=3,
        boot_seconds=123.4,
    )
    outcomes = [
        {**continuing(), "asg_name": f"web{n:02d}", "progress": outcome_progress(progress.to_record(), "CONTINUE")}
        for n in range(50)
    ]
    names = [o["asg_name"] for o in outcomes]
    chosen = {**settings(), "asg_names": names}

    output = chain.continue_as_new(outcomes, [], chosen, PREVIOUS, "web-1", None)

    summarize_input = {"outcomes": outcomes, "settings": chosen, "continuation": None}
    sizes = [len(json.dumps(d, separators=(",", ":")).encode()) for d in (summarize_input, output["next"]["input"])]
    assert max(sizes) < 256 * 1024, sizes


def test_an_asg_that_failed_before_its_first_read_is_carried_too() -> None:
    early = {**finished_report(), "status": "FAILED", "target_version": None, "versions_before": None}
    early |= {"versions_after": None, "duration_seconds": None, "error": "AsgLockedError", "cause": "held"}
    output = chain.continue_as_new([continuing()], [early], settings(), PREVIOUS, "web-1", None)
    assert contracts.problems("summarize.output", output) == []
    assert contracts.problems("validate_input.input", output["next"]["input"]) == []


def test_later_links_keep_the_origin_and_count_on() -> None:
    before = {
        "origin": "web-1",
        "first_execution": PREVIOUS,
        "index": 2,
        "previous_execution": PREVIOUS,
        "asgs": [],
        "finished": [],
    }
    output = chain.continue_as_new([continuing()], [], settings(), THIS, "web-1-c2", before)
    assert output["next"]["name"] == "web-1-c3"
    assert output["next"]["input"]["continuation"]["previous_execution"] == THIS
    assert output["next"]["input"]["continuation"]["first_execution"] == PREVIOUS  # notifications' release_id


def test_a_long_or_odd_origin_still_gives_a_valid_execution_name() -> None:
    name = chain.next_name("r" * 80, 12)
    assert name == "r" * 76 + "-c12" and len(name) == 80
    assert chain.next_name("web.release 1", 2) == "web-release-1-c2"


def test_the_next_execution_validates_into_branches_that_take_the_lock_over() -> None:
    output = chain.continue_as_new([continuing()], [], settings(), PREVIOUS, "web-1", None)
    release = settings_from_input(output["next"]["input"], contracts.defaults("validate_input.input"))

    (branch,) = release["asgs"]
    assert branch["takes_over"] == PREVIOUS
    progress = Progress.from_record(branch["progress"])
    assert progress.earlier_batches == 1 and progress.target_version == TARGET
    assert progress.events_spent == history_budget.ASG_ONCE  # a fresh execution, a fresh count
    assert progress.events_budget == history_budget.per_asg(settings()["max_history_events"], 1)
    assert release["settings"] == settings()
    assert contracts.problems("validate_input.output", release) == []


def test_a_continuation_for_other_asgs_than_named_is_refused() -> None:
    output = chain.continue_as_new([continuing()], [], settings(), PREVIOUS, "web-1", None)
    given = {**output["next"]["input"], "asg_names": ["live_asg_other"]}
    with pytest.raises(InvalidExecutionInputError, match=r"continuation: carries \['live_asg_web'\]"):
        settings_from_input(given, contracts.defaults("validate_input.input"))


# -- the lease ------------------------------------------------------------------------------------


def test_the_next_link_owns_the_lease_the_one_before_handed_over() -> None:
    handed = Lease(ASG, holder=THIS, expires_at=2e9, term_seconds=3600, handed_over_by=PREVIOUS)
    assert how_to_take(ASG, THIS, handed, holder_running=True, now=1e9).how == OURS


def test_a_continuation_that_came_from_no_handover_grants_nothing() -> None:
    # The input says it continues PREVIOUS, but the lease was never handed over: PREVIOUS still holds it.
    still_held = Lease(ASG, holder=PREVIOUS, expires_at=2e9, term_seconds=3600)
    with pytest.raises(AsgLockedError, match=f"being released by {PREVIOUS}"):
        how_to_take(ASG, THIS, still_held, holder_running=True, now=1e9)


def converged_outcome() -> dict[str, Any]:
    progress = Progress(
        target_version=TARGET,
        versions_before={OLD: 1},
        versions_after={TARGET: 1},
        started_at=stamp(0),
        finished_at=stamp(60),
    )
    return {
        "asg_name": "live_asg_api",
        "status": "CONVERGED",
        "release_id": PREVIOUS,
        "progress": outcome_progress(progress.to_record()),
    }


def test_summarize_continues_the_chain_while_an_asg_continues_and_carries_the_finished() -> None:
    summary = chain.summarize([continuing(), converged_outcome()], None, settings(), at(60), PREVIOUS, "web-1")
    assert summary.continuing == 1 and summary.announce is None
    assert [r["asg_name"] for r in summary.finished] == ["live_asg_api"]
    assert summary.next == chain.continue_as_new([continuing()], summary.finished, settings(), PREVIOUS, "web-1", None)


def test_summarize_ends_the_release_and_announces_it_under_the_chains_first_execution() -> None:
    before = {"origin": "web-1", "first_execution": PREVIOUS, "index": 2, "previous_execution": PREVIOUS}
    before |= {"asgs": [], "finished": [finished_report()]}
    summary = chain.summarize([converged_outcome()], before, settings(), at(60), THIS, "web-1-c2")
    assert summary.next is None and summary.continuing == 0 and summary.announce == PREVIOUS
    assert [r["asg_name"] for r in summary.finished] == ["live_asg_api", "live_asg_api"]  # carried, then this one's
    assert summary.finished[0] == finished_report()
    alone = chain.summarize([converged_outcome()], None, settings(), at(60), THIS, "web-1")
    assert alone.announce == THIS
    dry = chain.summarize([converged_outcome()], None, {**settings(), "dry_run": True}, at(60), THIS, "web-1")
    assert dry.announce is None  # a dry run announces nothing
