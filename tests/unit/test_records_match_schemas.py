"""What the domain returns is what the next step's schema accepts, through one whole release loop."""

from __future__ import annotations

from typing import Any

from tasks import contracts
from tasks.domain.decide import decide
from tasks.domain.fleet import Fleet, Progress
from tasks.domain.policy import Policy
from tasks.domain.replacement import begin_replacement, check_replacement
from tests.unit.builders import (
    ASG,
    OLD,
    RELEASE_ID,
    TARGET,
    at,
    decision_of,
    fleet,
    instance,
    outcome_progress,
    policy,
    settings,
    summarize_event,
)


def assert_valid(name: str, document: Any) -> None:
    assert contracts.problems(name, document) == [], name


def assert_invalid(name: str, document: Any) -> None:
    assert contracts.problems(name, document) != [], name


KEY = f"fleets/test/{ASG}/{'0' * 32}.json"


def test_a_fleet_record_round_trips_and_satisfies_the_claim_check_schema() -> None:
    seen = fleet(
        instance("i-0a01", TARGET),
        instance("i-0a02", None, reason="HTTP 503"),
        instance("i-0a03", None, lifecycle="Pending", reason=None),
    )
    record = seen.to_record()
    assert_valid("fleet_record", {"release_id": RELEASE_ID, "written_by": "Discover", "fleet": record})
    ref = {"asg_name": ASG, "key": KEY, "instances": 3}
    assert_valid("discover.output", ref)
    assert_valid("read_versions.input", {"fleet": ref, "probe_timeout_seconds": 2})
    assert_valid("read_versions.output", ref)
    assert Fleet.from_record(record) == seen


def test_one_release_loop_produces_records_every_next_step_accepts() -> None:
    chosen_settings = settings()
    chosen_policy = Policy.from_settings(chosen_settings)
    assert chosen_policy == policy()

    before = fleet(instance("i-0a01", OLD), instance("i-0a02", OLD), instance("i-0a03", TARGET))
    carried = {"asg_name": ASG, "release_id": RELEASE_ID, "settings": chosen_settings}
    ref = {"asg_name": ASG, "key": KEY, "instances": 3}
    first_read = {**carried, "fleet": ref, "progress": Progress().to_record()}
    assert_valid("select_batch.input", first_read)

    selected = decide(before, Progress(), chosen_policy, at(0), KEY)
    assert decision_of(selected).action == "terminate"
    record = selected.to_record()
    assert_valid("select_batch.output", {**carried, "progress": record})
    assert_valid("terminate.input", {"asg_name": ASG, "release_id": RELEASE_ID, "progress": record})
    assert Progress.from_record(record) == selected

    terminated = begin_replacement(
        Progress.from_record(record), list(decision_of(selected).batch), at(5), poll_seconds=5
    )
    record = terminated.to_record()
    assert_valid("terminate.output", record)
    assert_valid("check_replacement.input", {**carried, "progress": record})
    assert Progress.from_record(record) == terminated

    gone = set(decision_of(selected).batch)
    newcomers = tuple(instance(f"i-0b0{n}", None, lifecycle="Pending", reason=None) for n in range(len(gone)))
    replacing = fleet(*(i for i in before.instances if i.id not in gone), *newcomers, desired=3)
    known = [i.id for i in before.instances]
    waiting = check_replacement(replacing, Progress.from_record(record), chosen_policy, at(20), known)
    assert waiting.pending is not None
    record = waiting.to_record()
    assert_valid("check_replacement.output", {**carried, "progress": record})
    assert_invalid("check_replacement.output", {**carried, "progress": record, "fleet": ref})  # no read yet
    assert_valid("check_replacement.input", {**carried, "progress": record})

    served = tuple(instance(i.id, TARGET) for i in newcomers)
    replaced = fleet(*(i for i in before.instances if i.id not in gone), *served, desired=3)
    done = check_replacement(replaced, Progress.from_record(record), chosen_policy, at(60), known)
    assert done.pending is None
    record = done.to_record()
    assert_valid("check_replacement.output", {**carried, "progress": record, "fleet": ref})
    assert_invalid("check_replacement.output", {**carried, "progress": record})  # replaced: the read that saw it
    assert_valid(
        "fleet_record", {"release_id": RELEASE_ID, "written_by": "CheckReplacement", "fleet": replaced.to_record()}
    )
    assert_valid("select_batch.input", {**carried, "fleet": ref, "progress": record})

    finished = decide(replaced, Progress.from_record(record), chosen_policy, at(61))
    record = finished.to_record()
    assert decision_of(finished).action in ("terminate", "converged")
    assert_valid("select_batch.output", {**carried, "progress": record})


def test_a_wait_and_a_converged_ledger_satisfy_select_batch_output() -> None:
    waiting = decide(fleet(instance("i-0a01", None)), Progress(), policy(), at(0))
    assert decision_of(waiting).action == "wait"
    carried = {"asg_name": ASG, "release_id": RELEASE_ID, "settings": settings()}
    assert_valid("select_batch.output", {**carried, "progress": waiting.to_record()})

    done = decide(fleet(instance("i-0a01", TARGET)), Progress(), policy(), at(0))
    assert decision_of(done).action == "converged"
    assert_valid("select_batch.output", {**carried, "progress": done.to_record()})
    outcome = {
        "asg_name": ASG,
        "status": "CONVERGED",
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "progress": outcome_progress(done.to_record()),
    }
    assert_valid("summarize.input", summarize_event([outcome]))


def test_policy_from_settings_takes_only_the_policy_fields() -> None:
    chosen = Policy.from_settings(
        settings(target_version="1.0.270", min_healthy=2, min_healthy_percent=50, max_batch=3, replace_unreadable=True)
    )
    assert chosen == policy(
        target_version="1.0.270",
        min_healthy=2,
        min_healthy_percent=50,
        max_batch=3,
        replace_unreadable=True,
        replacement_timeout_seconds=900,
    )


def test_a_batch_the_surge_paid_for_round_trips_through_the_schemas() -> None:
    before = fleet(instance("i-0a01", OLD), instance("i-0a02", TARGET), desired=3)
    selected = decide(before, Progress(), policy(), at(0))
    assert decision_of(selected).outdated_after == 0
    terminated = begin_replacement(selected, ["i-0a01"], at(5), poll_seconds=5, decremented=1)
    record = terminated.to_record()
    assert record["pending"]["decremented"] == 1 and record["surge_paid"] == 1
    assert_valid("terminate.output", record)
    assert_valid(
        "check_replacement.input",
        {"asg_name": ASG, "release_id": RELEASE_ID, "progress": record, "settings": settings()},
    )
    assert Progress.from_record(record) == terminated
    assert Progress.from_record(record).carried().surge_paid == 1  # a chain's next execution keeps the count


def test_the_settings_of_an_execution_started_before_an_update_still_make_a_policy() -> None:
    """Fields added since 2026-11 are optional in the settings record; the steps that build a policy
    complete it with the input schema's defaults (Policy has none of its own)."""
    required = contracts.schema("common")["$defs"]["settings"]["required"]
    earlier = {key: value for key, value in settings().items() if key in required}
    assert "checkpoints" not in earlier and "healthy_for_seconds" not in earlier
    assert Policy.from_settings(contracts.settings(earlier)) == policy()
