"""The ledger stays small however large the fleet and its batches: it names the most recent ids only and
counts the rest, so the Map's output for 50 ASGs stays under 64 KiB (tests/functional/test_payload_bounds.py)."""

from __future__ import annotations

from tasks.domain.decide import MAX_BATCH, decide
from tasks.domain.dry_run import PLAN_ENTRIES
from tasks.domain.fleet import RECENT_IDS, Progress
from tasks.domain.replacement import begin_replacement
from tests.unit.builders import TARGET, at, decision_of, fleet, instance, policy


def ids(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"i-{prefix}{n:04d}" for n in range(count))


def test_batches_are_named_until_they_pass_the_recent_ids() -> None:
    ledger = Progress()
    for n in range(RECENT_IDS // 5):
        ledger = ledger.with_batch(ids(f"{n:02d}", 5))
    assert len(ledger.batches) == RECENT_IDS // 5 and ledger.earlier_batches == 0

    ledger = ledger.with_batch(ids("xx", 5))
    assert len(ledger.batches) == RECENT_IDS // 5 and ledger.batches[-1] == ids("xx", 5)
    assert (ledger.earlier_batches, ledger.earlier_terminated) == (1, 5)
    assert (ledger.batch_count, ledger.terminated_count) == (RECENT_IDS // 5 + 1, RECENT_IDS + 5)


def test_a_large_newest_batch_is_named_in_part_and_counted_whole() -> None:
    ledger = Progress().with_batch(ids("a", 3)).with_batch(ids("b", 500))
    assert ledger.batches == (ids("b", 500)[:RECENT_IDS],)  # the pending batch names it whole
    assert (ledger.batch_count, ledger.terminated_count) == (2, 503)


def test_a_converged_ledger_names_at_most_the_recent_ids() -> None:
    ledger = Progress().with_batch(ids("a", 30)).with_batch(ids("b", 2000))
    trimmed = ledger.trimmed()
    assert trimmed.batches == (ids("b", 2000)[:RECENT_IDS],)
    assert (trimmed.batch_count, trimmed.terminated_count) == (2, 2030)


def test_trimming_keeps_whole_batches_that_fit() -> None:
    ledger = Progress(batches=(ids("a", 12), ids("b", 6), ids("c", 6)))
    trimmed = ledger.trimmed()
    assert trimmed.batches == (ids("a", 12)[:8], ids("b", 6), ids("c", 6))
    assert (trimmed.batch_count, trimmed.terminated_count) == (3, 24)
    assert Progress(batches=(ids("a", 200), ids("b", 20))).trimmed().batches == (ids("b", 20),)


def test_terminate_and_convergence_keep_the_bounds() -> None:
    seen = fleet(*(instance(f"i-0a{n:03d}", "1.0.1") for n in range(300)))
    chosen = decide(seen, Progress(), policy(min_healthy=0, target_version=TARGET), at(0))
    assert len(decision_of(chosen).batch) == 300
    replaced = begin_replacement(chosen, list(decision_of(chosen).batch), at(1), poll_seconds=5)
    assert replaced.pending is not None and len(replaced.pending.instance_ids) == 300  # named whole there
    assert len(replaced.batches[-1]) == RECENT_IDS
    done = decide(fleet(instance("i-0b001", TARGET)), replaced.update(pending=None), policy(), at(2))
    assert decision_of(done).action == "converged"
    assert sum(len(b) for b in done.batches) == RECENT_IDS and done.terminated_count == 300


def test_a_batch_is_capped_whatever_max_batch_and_the_floor_allow() -> None:
    seen = fleet(*(instance(f"i-0a{n:04d}", "1.0.1") for n in range(MAX_BATCH + 100)))
    for allowed in (None, MAX_BATCH + 50):
        chosen = decide(seen, Progress(), policy(min_healthy=0, max_batch=allowed, target_version=TARGET), at(0))
        assert len(decision_of(chosen).batch) == MAX_BATCH


def test_a_dry_run_plan_names_the_batch_first_and_counts_what_it_leaves_out() -> None:
    seen = fleet(*(instance(f"i-0a{n:04d}", TARGET if n < 150 else "1.0.1") for n in range(PLAN_ENTRIES + 100)))
    chosen = decide(seen, Progress(), policy(min_healthy=1, max_batch=3, target_version=TARGET, dry_run=True), at(0))
    decision = decision_of(chosen)
    assert [e["id"] for e in decision.plan[:3]] == list(decision.batch)  # the batch, though listed late
    assert (len(decision.plan), decision.plan_omitted) == (PLAN_ENTRIES, 100)
    record = chosen.to_record()["decision"]
    assert (len(record["plan"]), record["plan_omitted"]) == (PLAN_ENTRIES, 100)
    assert Progress.from_record(chosen.to_record()) == chosen


def test_a_census_names_the_most_common_versions_and_counts_the_rest() -> None:
    from tasks.domain import rollback, versions

    many = [instance(f"i-0a{n:04d}", f"1.0.{n}") for n in range(1000)] + [instance("i-0b0001", "1.0.5")]
    census = fleet(*many, instance("i-0c0001", None)).census()
    assert len(census) == versions.CENSUS_VERSIONS and census["1.0.5"] == 2
    assert sum(census.values()) == 1002 and census[versions.OTHER_VERSIONS] == 1002 - 2 - 18
    assert rollback.previous_version(census, TARGET) == "1.0.5"  # the folded count is no version
    assert rollback.previous_version({versions.OTHER_VERSIONS: 5}, TARGET) is None
