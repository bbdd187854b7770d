"""The ledger stays small however large the fleet: it names the most recent batches only and counts
the rest, so every ASG's outcome in the Map's output stays far under the 256 KiB payload limit."""

from __future__ import annotations

from tasks.domain.fleet import RECENT_IDS, Progress
from tasks.domain.release import begin_replacement, decide
from tests.unit.builders import TARGET, at, decision_of, fleet, instance, policy


def ids(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"i-{prefix}{n:04d}" for n in range(count))


def test_batches_are_named_until_they_pass_the_recent_ids() -> None:
    ledger = Progress()
    for n in range(RECENT_IDS // 10):
        ledger = ledger.with_batch(ids(f"{n:02d}", 10))
    assert len(ledger.batches) == RECENT_IDS // 10 and ledger.earlier_batches == 0

    ledger = ledger.with_batch(ids("xx", 10))
    assert len(ledger.batches) == RECENT_IDS // 10 and ledger.batches[-1] == ids("xx", 10)
    assert (ledger.earlier_batches, ledger.earlier_terminated) == (1, 10)
    assert (ledger.batch_count, ledger.terminated_count) == (RECENT_IDS // 10 + 1, RECENT_IDS + 10)


def test_the_newest_batch_is_named_whole_while_it_is_replaced() -> None:
    ledger = Progress().with_batch(ids("a", 3)).with_batch(ids("b", 2000))
    assert ledger.batches == (ids("b", 2000),)
    assert (ledger.batch_count, ledger.terminated_count) == (2, 2003)


def test_a_converged_ledger_names_at_most_the_recent_ids() -> None:
    ledger = Progress().with_batch(ids("a", 30)).with_batch(ids("b", 2000))
    trimmed = ledger.trimmed()
    assert trimmed.batches == (ids("b", 2000)[:RECENT_IDS],)
    assert (trimmed.batch_count, trimmed.terminated_count) == (2, 2030)


def test_trimming_keeps_whole_batches_that_fit() -> None:
    ledger = Progress(batches=(ids("a", 60), ids("b", 30), ids("c", 30)))
    trimmed = ledger.trimmed()
    assert trimmed.batches == (ids("a", 60)[:40], ids("b", 30), ids("c", 30))
    assert (trimmed.batch_count, trimmed.terminated_count) == (3, 120)
    assert Progress(batches=(ids("a", 200), ids("b", 100))).trimmed().batches == (ids("b", 100),)


def test_terminate_and_convergence_keep_the_bounds() -> None:
    seen = fleet(*(instance(f"i-0a{n:03d}", "1.0.1") for n in range(300)))
    chosen = decide(seen, Progress(), policy(min_healthy=0, target_version=TARGET), at(0))
    assert len(decision_of(chosen).batch) == 300
    replaced = begin_replacement(chosen, list(decision_of(chosen).batch), at(1))
    assert len(replaced.batches[-1]) == 300
    done = decide(fleet(instance("i-0b001", TARGET)), replaced.update(pending=None), policy(), at(2))
    assert decision_of(done).action == "converged"
    assert sum(len(b) for b in done.batches) == RECENT_IDS and done.terminated_count == 300
